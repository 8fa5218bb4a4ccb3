package tutorialapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/itss-go/itss/internal/httpapi"
	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/openapi"
	"github.com/itss-go/itss/internal/openapi/openapitest"
	"github.com/itss-go/itss/internal/security"
	"github.com/itss-go/itss/internal/storage"
	"github.com/itss-go/itss/internal/store"
)

const testIssuer = "http://auth.test"

// apiDoc validates every response the tests receive against the published
// OpenAPI document, so the document cannot drift from the code.
var apiDoc = sync.OnceValues(func() (*openapitest.Validator, error) {
	return openapitest.Load(openapi.Tutorial())
})

var testSecret = []byte("test-secret-0123456789-abcdefghijklmnop")

// env is one tutorial service over a real database and real storage,
// driven through its router (and its Service directly where a test says
// so), with four users: an author who owns the fixtures, another author, a
// learner and a guest learner.
type env struct {
	t        testing.TB
	db       *store.DB
	files    storage.Backend
	svc      *Service
	h        http.Handler
	signer   *security.Signer
	logs     *syncBuffer
	required bool

	owner, other, learner, guest int64
}

type envOptions struct {
	optional  bool            // API_AUTH=optional
	files     storage.Backend // default: local storage in a temp dir
	maxUpload int64
	noLimit   bool // benchmarks: no request rate limit
}

func newEnv(t testing.TB, db *store.DB, o envOptions) *env {
	t.Helper()
	e := &env{t: t, db: db, files: o.files, logs: &syncBuffer{}, required: !o.optional}
	if e.files == nil {
		e.files = newLocalStorage(t)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e.signer = security.NewSigner(key, testIssuer)
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e.svc = NewService(ServiceOptions{DB: db, Storage: e.files, Runner: fakeVersions{}, Logger: log,
		SecretKey: testSecret, PublicURL: "http://tutorial.test", AuthRequired: e.required,
		MaxUploadBytes: o.maxUpload})
	var limiter httpapi.Limiter = httpapi.NewMemoryLimiter()
	if o.noLimit {
		limiter = nil
	}
	e.h = NewRouter(Options{Service: e.svc, APIVerifier: e.signer.Verifier(security.AudienceAPI, nil),
		ServiceVerifier: e.signer.Verifier(security.AudienceService, nil), Logger: log,
		Limiter: limiter, AllowedOrigins: []string{"http://localhost:3000"}})
	author, learner := string(itss.RoleAuthor), string(itss.RoleLearner)
	e.owner = e.user("Alice Author", "author", &author)
	e.other = e.user("Oscar Other", "author", &author)
	e.learner = e.user("Lena Learner", "learner", &learner)
	e.guest = e.user("Guest", "guest,learner", &learner)
	return e
}

func newLocalStorage(t testing.TB) storage.Backend {
	t.Helper()
	dir := t.TempDir()
	b, err := storage.New(context.Background(), storage.Options{Type: "local",
		RecordingsPath: filepath.Join(dir, "recordings"), LayoutsPath: filepath.Join(dir, "layouts")})
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := b.(io.Closer); ok {
		t.Cleanup(func() { c.Close() })
	}
	return b
}

var userSeq struct {
	sync.Mutex
	n int
}

func (e *env) user(name, roles string, current *string) int64 {
	e.t.Helper()
	userSeq.Lock()
	userSeq.n++
	n := userSeq.n
	userSeq.Unlock()
	email := fmt.Sprintf("%s.%d@example.com", strings.ReplaceAll(strings.ToLower(name), " ", "."), n)
	u, _, err := e.db.CreateFormUser(context.Background(), name, roles, email, "$argon2id$unused", current)
	if err != nil {
		e.t.Fatalf("create user: %v", err)
	}
	return u.ID
}

// fakeVersions stands in for the runner's cached runtime versions.
type fakeVersions struct{}

func (fakeVersions) Version(language string) *string {
	v := map[string]string{"python": "python 3.11.7", "java": "java 17.0.15", "javascript": "nodejs 20.20.2"}[language]
	if v == "" {
		return nil
	}
	return &v
}

// Callers of the authorization matrix.
const (
	anon        = "anonymous"
	ownerC      = "owner"
	otherAuthor = "other-author"
	learnerC    = "learner"
	guestC      = "guest"
)

var callers = []string{anon, ownerC, otherAuthor, learnerC, guestC}

// ident returns the identity of a caller, as the middleware would set it.
func (e *env) ident(who string) itss.Identity {
	switch who {
	case ownerC:
		return itss.Identity{UserID: e.owner, Role: itss.RoleAuthor}
	case otherAuthor:
		return itss.Identity{UserID: e.other, Role: itss.RoleAuthor}
	case learnerC:
		return itss.Identity{UserID: e.learner, Role: itss.RoleLearner}
	case guestC:
		return itss.Identity{UserID: e.guest, Role: itss.RoleLearner}
	}
	return itss.Identity{}
}

// uid is the user id a caller puts in paths and bodies (the owner's when
// anonymous, as the unmodified frontend would for the owner's session).
func (e *env) uid(who string) int64 {
	if who == anon {
		return e.owner
	}
	return e.ident(who).UserID
}

func (e *env) token(who string) string {
	e.t.Helper()
	if who == anon {
		return ""
	}
	id := e.ident(who)
	tok, err := e.signer.Issue(id.UserID, 0, string(id.Role), security.AudienceAPI, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *env) serviceToken(uid int64) string {
	e.t.Helper()
	tok, err := e.signer.Issue(uid, 0, string(itss.RoleAuthor), security.AudienceService, time.Minute)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// req sends a request through the router. body may be a string, []byte, an
// io.Reader or a value to encode as JSON (sent without Content-Type, as the
// frontend does). auth is a caller name, "" for none, or "Bearer ..." /
// "Cookie ..." verbatim.
func (e *env) req(method, path string, body any, auth string, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	r := httptest.NewRequest(method, path, rd)
	switch {
	case auth == "":
	case strings.HasPrefix(auth, "Bearer "):
		r.Header.Set("Authorization", auth)
	case strings.HasPrefix(auth, "Cookie "):
		r.AddCookie(&http.Cookie{Name: SessionCookie, Value: strings.TrimPrefix(auth, "Cookie ")})
	default:
		if tok := e.token(auth); tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if _, bench := e.t.(*testing.B); !bench {
		v, err := apiDoc()
		if err != nil {
			e.t.Fatalf("OpenAPI document: %v", err)
		}
		v.CheckRecorder(e.t, r, w)
	}
	return w
}

// jsonBody decodes a response body, failing the test if it is not a JSON
// object.
func jsonBody(t testing.TB, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, body %.300q", ct, w.Body.String())
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %.300q", err, w.Body.String())
	}
	return m
}

// wantStatus checks the status and, for errors, the one error shape.
func wantStatus(t testing.TB, w *httptest.ResponseRecorder, status int) map[string]any {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %.300q", w.Code, status, w.Body.String())
	}
	if status < 400 && !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		return nil // a file
	}
	m := jsonBody(t, w)
	if status >= 400 {
		wantErrorShape(t, m, status)
	}
	return m
}

func wantErrorShape(t testing.TB, m map[string]any, status int) {
	t.Helper()
	msg, ok := m["message"].(string)
	if !ok || msg == "" || m["error"] != msg || m["status"] != "error" || m["code"] != float64(status) {
		t.Fatalf("not the one error shape for %d: %v", status, m)
	}
}

// wantTypes checks the JSON type of each field as the frontend reads it:
// "string", "number", "int", "bool", "array", "object", "null", or
// alternatives joined by "|". Missing fields fail.
func wantTypes(t testing.TB, m map[string]any, types map[string]string) {
	t.Helper()
	for field, want := range types {
		v, ok := m[field]
		if !ok {
			t.Errorf("field %q missing in %v", field, m)
			continue
		}
		got := jsonType(v)
		okType := false
		for _, alt := range strings.Split(want, "|") {
			if alt == got || (alt == "number" && got == "int") {
				okType = true
			}
		}
		if !okType {
			t.Errorf("field %q is %s (%v), want %s", field, got, v, want)
		}
	}
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "bool"
	case float64:
		if x == float64(int64(x)) {
			return "int"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

// fixture is a tutorial with a recorded Code section and a Question section.
type fixture struct {
	tid, code, quiz string
}

// newTutorial creates a tutorial of owner through the Service, with a Code
// section holding a short recording and a Question section, published or not.
func (e *env) newTutorial(published bool) fixture {
	e.t.Helper()
	ctx := context.Background()
	owner := e.ident(ownerC)
	tid, err := e.svc.CreateTutorial(ctx, owner, NewTutorial{Name: "Python Basics", Language: "python"})
	if err != nil {
		e.t.Fatalf("create tutorial: %v", err)
	}
	code, err := e.svc.CreateSection(ctx, owner, NewSection{TutorialID: tid, Name: "Hello World", TutorialType: "Code"})
	if err != nil {
		e.t.Fatal(err)
	}
	quiz, err := e.svc.CreateSection(ctx, owner, NewSection{TutorialID: tid, Name: "Quiz", TutorialType: "Question"})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.SaveRecording(ctx, owner, memFields(recordingFields(code, testWAV(4000)))); err != nil {
		e.t.Fatalf("save recording: %v", err)
	}
	q := json.RawMessage(`{"quizTitle":"Quiz","questions":[{"question":"What does print do?","questionType":"text","answerSelectionType":"single","answers":["writes","reads"],"correctAnswer":"1","point":"1"}]}`)
	if _, err := e.svc.UpdateSection(ctx, owner, quiz, SectionUpdate{Question: q}); err != nil {
		e.t.Fatal(err)
	}
	if published {
		start := time.Now().Add(-time.Hour)
		if err := e.svc.UpdateTutorial(ctx, owner, tid, TutorialUpdate{SetStart: true, Start: &start, SetEnd: true}); err != nil {
			e.t.Fatal(err)
		}
	}
	return fixture{tid: tid, code: code, quiz: quiz}
}

// newBareTutorial creates an unpublished tutorial of owner with an empty Code
// and Question section straight in the database: cheap fixtures for cases
// that change or delete them.
func (e *env) newBareTutorial() fixture {
	e.t.Helper()
	ctx := context.Background()
	f := fixture{tid: newID(), code: newID(), quiz: newID()}
	lang := "python"
	must(e.t, e.db.CreateTutorial(ctx, itss.Tutorial{ID: f.tid, Name: "Bare", Language: lang, UserID: e.owner}))
	must(e.t, e.db.CreateSection(ctx, itss.Section{ID: f.code, Name: "Code", TutorialType: itss.SectionCode,
		Language: &lang, TutorialID: f.tid}))
	must(e.t, e.db.CreateSection(ctx, itss.Section{ID: f.quiz, Name: "Quiz", TutorialType: itss.SectionQuestion,
		Language: &lang, TutorialID: f.tid}))
	return f
}

// field is one multipart field of a recording upload.
type field struct {
	name  string
	value io.Reader
}

func textField(name, v string) field { return field{name, strings.NewReader(v)} }

// recordingFields are the fields the editor posts, with audio (base64) when
// wav is not nil, the section id first (editorFields has the editor's own
// order, audio first).
func recordingFields(sectionID string, wav []byte) []field {
	f := []field{textField("tutorial_section_id", sectionID)}
	for _, a := range actionFields {
		f = append(f, textField(a, eventJSON[a]))
	}
	f = append(f,
		textField("name", "Hello World"), textField("tutorial_type", "Code"), textField("language", "python"),
		textField("description", "# Hello\nThis section shows **print** in [Python](https://python.org).\n"),
		textField("code_content", `print("hello world")`), textField("code_input", ""), textField("duration", "9000"))
	if wav != nil {
		f = append(f, field{"file", strings.NewReader(base64.StdEncoding.EncodeToString(wav))})
		f = append(f, textField("transcript", `[{"text":"","timestamp":0,"endTime":0},{"text":"today we print hello world in python","timestamp":1200,"endTime":4200}]`))
	}
	return f
}

// eventJSON are event streams as the frontend JSON.stringifies them (from
// the golden upload).
var eventJSON = map[string]string{
	"keystroke":           `[{"content":"print(\"hello world\")","selection":{"start":{"row":0,"column":20},"end":{"row":0,"column":20}},"timestamp":0}]`,
	"consoleAction":       `[{"content":"> hello world\n","timestamp":5000}]`,
	"consoleScrollAction": `[{"timestamp":0,"scroll":0}]`,
	"inputKeystrokes":     `[{"content":"","timestamp":0}]`,
	"inputScrollAction":   `[{"timestamp":0,"scroll":0}]`,
	"layoutAction":        `[{"layout":"default","timestamp":0}]`,
	"selectAction":        `[{"timestamp":0,"selection":null}]`,
	"scrollAction":        `[{"timestamp":0,"scroll":0}]`,
	"editorScrollAction":  `[{"timestamp":0,"scroll":0}]`,
}

// memFields is a FieldReader over in-memory fields.
type memFieldReader struct {
	fields []field
}

func memFields(f []field) *memFieldReader { return &memFieldReader{fields: f} }

func (m *memFieldReader) NextField() (string, io.Reader, error) {
	if len(m.fields) == 0 {
		return "", nil, io.EOF
	}
	f := m.fields[0]
	m.fields = m.fields[1:]
	return f.name, f.value, nil
}

// multipartBody streams fields as a multipart body (nothing held whole);
// it returns the body and its Content-Type.
func multipartBody(fields []field) (io.Reader, string) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for _, f := range fields {
			w, err := mw.CreateFormField(f.name)
			if err == nil {
				_, err = io.Copy(w, f.value)
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(mw.Close())
	}()
	return pr, mw.FormDataContentType()
}

// testWAV returns a valid 16-bit mono PCM WAV of n samples (a ramp, so that
// byte ranges are recognisable).
func testWAV(n int) []byte {
	var b bytes.Buffer
	le := func(v uint32, size int) {
		for i := 0; i < size; i++ {
			b.WriteByte(byte(v >> (8 * i)))
		}
	}
	b.WriteString("RIFF")
	le(uint32(36+2*n), 4)
	b.WriteString("WAVEfmt ")
	le(16, 4)
	le(1, 2)
	le(1, 2)
	le(8000, 4)
	le(16000, 4)
	le(2, 2)
	le(16, 2)
	b.WriteString("data")
	le(uint32(2*n), 4)
	for i := 0; i < n; i++ {
		le(uint32(i*7), 2)
	}
	return b.Bytes()
}

// syncBuffer collects log lines from parallel requests.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// events returns the A12 event lines logged so far.
func (e *env) events() []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(e.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["event"] != nil {
			out = append(out, m)
		}
	}
	return out
}
