package e2e

// These tests replay, request by request, what the unmodified React frontend
// (InteractiveTutorialSoftwareSystem/client at 18d2b3f, see API.md Part B)
// sends, with the bytes the browser puts on the wire: JSON.stringify bodies
// (keys in the order the code builds them, no spaces, ids as strings,
// undefined dropped, null kept) sent as text/plain by fetch when the code
// sets no header, FormData parts in the order the code appends them, and the
// Origin of a dev server on :3000. Every answer is then read the way the
// page reads it: response.json() must succeed, the response must carry the
// CORS header that lets the page see it, and each field must have the type
// the code needs (JSON.parse chains, .length, .replace, truthiness).
// Comments cite client file:line.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// devOrigin is where `npm start` serves the frontend (ALLOWED_ORIGINS default).
const devOrigin = "http://localhost:3000"

// undefinedT marks a value JSON.stringify drops.
type undefinedT struct{}

var undefined undefinedT

// jsObj is an object literal in the order the frontend writes its keys.
type jsObj []any

// js encodes v as JSON.stringify does: object keys in source order, no
// spaces, no HTML escaping, undefined members dropped.
func js(v any) string {
	var b strings.Builder
	writeJS(&b, v)
	return b.String()
}

func writeJS(b *strings.Builder, v any) {
	switch x := v.(type) {
	case jsObj:
		b.WriteByte('{')
		n := 0
		for i := 0; i+1 < len(x); i += 2 {
			if _, skip := x[i+1].(undefinedT); skip {
				continue
			}
			if n > 0 {
				b.WriteByte(',')
			}
			n++
			writeJS(b, x[i])
			b.WriteByte(':')
			writeJS(b, x[i+1])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if _, u := e.(undefinedT); u {
				e = nil // JSON.stringify writes undefined array members as null
			}
			writeJS(b, e)
		}
		b.WriteByte(']')
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			b.WriteString("null") // JSON.stringify(NaN) is null
			return
		}
		j, _ := json.Marshal(x)
		b.Write(j)
	default:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(x); err != nil {
			panic(err)
		}
		b.WriteString(strings.TrimSuffix(buf.String(), "\n"))
	}
}

// page is the browser tab of one frontend page: it sends requests from the
// dev server's origin and reads answers as fetch + response.json() do.
type page struct {
	t *testing.T
}

// fetch sends one request; body "" means none (GET). Without explicit
// headers a string body goes out as text/plain;charset=UTF-8, as fetch
// labels it. The answer must be JSON and readable cross-origin.
func (p page) fetch(method, url, body string, hdr ...string) (int, map[string]any) {
	p.t.Helper()
	var b any
	if body != "" {
		b = body
	}
	status, m, h := call(p.t, method, url, b, append([]string{"Origin", devOrigin}, hdr...)...)
	if got := h.Get("Access-Control-Allow-Origin"); got != devOrigin && got != "*" {
		p.t.Fatalf("%s %s: %d without Access-Control-Allow-Origin for %s (got %q): the page cannot read it",
			method, url, status, devOrigin, got)
	}
	// fetch's default cache mode reuses a fresh (or heuristically fresh)
	// GET answer: the overview re-reads T4/T14 after every change.
	if method == http.MethodGet {
		cc := strings.ToLower(h.Get("Cache-Control"))
		if h.Get("Last-Modified") != "" || h.Get("Expires") != "" ||
			(strings.Contains(cc, "max-age") && !strings.Contains(cc, "max-age=0")) {
			p.t.Fatalf("GET %s: the browser may reuse a stale answer: %v", url, h)
		}
	}
	return status, m
}

// ok is fetch for calls whose answer the page uses without a status check
// (or after r.ok): it must be a 200.
func (p page) ok(what, method, url, body string, hdr ...string) map[string]any {
	p.t.Helper()
	status, m := p.fetch(method, url, body, hdr...)
	return must200(p.t, what, status, m)
}

// preflight is the browser's CORS preflight of a request with non-simple
// headers: it must succeed and allow the method and headers.
func (p page) preflight(url, method, headers string) {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, url, nil)
	req.Header.Set("Origin", devOrigin)
	req.Header.Set("Access-Control-Request-Method", method)
	req.Header.Set("Access-Control-Request-Headers", headers)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode/100 != 2 || h.Get("Access-Control-Allow-Origin") != devOrigin ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), method) {
		p.t.Fatalf("preflight %s %s: %d %v", method, url, resp.StatusCode, h)
	}
	allowed := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
	for _, name := range strings.Split(headers, ",") {
		if !strings.Contains(allowed, strings.ToLower(strings.TrimSpace(name))) {
			p.t.Fatalf("preflight %s %s: header %s not allowed: %q", method, url, name, allowed)
		}
	}
}

// form posts a FormData body: string parts, in the order given, no file
// parts (the audio is a base64 string part).
func (p page) form(url string, fields [][2]string) (int, map[string]any) {
	p.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range fields {
		if err := mw.WriteField(f[0], crlf(f[1])); err != nil {
			p.t.Fatal(err)
		}
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, url, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", devOrigin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		p.t.Fatalf("POST %s: %d, not JSON: %.300q", url, resp.StatusCode, raw)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != devOrigin {
		p.t.Fatalf("POST %s: no CORS header: %v", url, resp.Header)
	}
	return resp.StatusCode, m
}

// crlf is the browser's newline normalization of FormData string values
// when it serializes them as multipart/form-data (HTML "converting newlines
// to CRLF"): the description, code and input arrive with CRLF line breaks.
func crlf(v string) string {
	v = strings.ReplaceAll(v, "\r\n", "\n")
	v = strings.ReplaceAll(v, "\r", "\n")
	return strings.ReplaceAll(v, "\n", "\r\n")
}

// str asserts a field is a JSON string (what .replace, .toLowerCase,
// JSON.parse of it and string props need) and returns it.
func str(t *testing.T, m map[string]any, key string) string {
	t.Helper()
	s, ok := m[key].(string)
	if !ok {
		t.Fatalf("%s is %T (%v), the page needs a string: %v", key, m[key], m[key], m)
	}
	return s
}

// num asserts a field is a JSON number.
func num(t *testing.T, m map[string]any, key string) float64 {
	t.Helper()
	n, ok := m[key].(float64)
	if !ok {
		t.Fatalf("%s is %T (%v), the page needs a number: %v", key, m[key], m[key], m)
	}
	return n
}

// jsonParse is JSON.parse(v) for a string or null (JSON.parse(null) is null);
// anything else, or text that is not JSON, throws in the page.
func jsonParse(t *testing.T, what string, v any) any {
	t.Helper()
	if v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		t.Fatalf("JSON.parse(%s): %T %v is not a string", what, v, v)
	}
	var out any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatalf("JSON.parse(%s) throws: %v: %.200q", what, err, s)
	}
	return out
}

// parseTwice is TutorialPage.js:290-388's JSON.parse(JSON.parse(x)) of an
// event field: null, or a JSON string literal of a JSON array.
func parseTwice(t *testing.T, pageData map[string]any, key string) []any {
	t.Helper()
	once := jsonParse(t, key, pageData[key])
	if once == nil {
		return nil
	}
	if _, ok := once.(string); !ok {
		t.Fatalf("%s is single-encoded (%T): the page's second JSON.parse throws", key, once)
	}
	arr, ok := jsonParse(t, key+" (second parse)", once).([]any)
	if !ok {
		t.Fatalf("%s does not parse twice to an array: %v", key, pageData[key])
	}
	return arr
}

// isoDate is date-fns parseISO of T4's dates, as TutorialOverviewPage.js
// decides visibility.
func isoDate(t *testing.T, v any) *time.Time {
	t.Helper()
	if v == nil {
		return nil
	}
	d, err := time.Parse(time.RFC3339, v.(string))
	if err != nil {
		t.Fatalf("parseISO(%v) is Invalid Date: %v", v, err)
	}
	return &d
}

// sgt formats an instant as TutorialOverviewPage.js does:
// formatInTimeZone(parseISO(datetime-local), 'Asia/Singapore', "yyyy-MM-dd'T'HH:mm:ssXXX"),
// from minute-precision datetime-local inputs.
func sgt(d time.Time) string {
	return d.Truncate(time.Minute).In(time.FixedZone("SGT", 8*3600)).Format("2006-01-02T15:04:05-07:00")
}

// filenameOf is name.replace(/[^A-Z0-9]/ig, '_').toLowerCase()
// (TutorialSectionPage.js T13 handler, TutorialPage.js T8 handler).
func filenameOf(name string) string {
	return strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(name, "_"))
}

// session registers and logs in through the auth pages and returns what
// PrivateRoute hands the pages: String(data.id) and data.role.
func session(t *testing.T, p page, auth, name, email, regRole, loginRole string) (uid, token string) {
	t.Helper()
	// RegisterPage.js:139
	p.ok("register "+email, "POST", auth+"/auth/register", js(jsObj{"name", name, "email", email, "password", "Passw0rd!",
		"repassword", "Passw0rd!", "role", regRole}), "Content-Type", "application/json")
	// LoginPage.js:77
	body := p.ok("login "+email, "POST", auth+"/auth/login", js(jsObj{"email", email, "password", "Passw0rd!", "role", loginRole}),
		"Content-Type", "application/json")
	token = str(t, body, "access_token")
	// PrivateRoute.js:42 via authFetch
	who := p.ok("protected", "GET", auth+"/auth/protected", "", "Authorization", "Bearer "+token)
	if who["role"] != loginRole || num(t, who, "id") < 1 {
		t.Fatalf("PrivateRoute needs data.role and data.id truthy: %v", who)
	}
	return fmt.Sprint(who["id"]), token
}

// Event arrays as the section editor builds them (editor CodeSection.js
// recordKeystroke etc.): Ace ranges, undefined scroll dropped, NaN scroll
// null, selection data itself a JSON string or null, non-ASCII text.
var (
	feCode        = "name = input()\nprint(\"héllo ☕ 😀\", name)"
	feKeystrokes  = []any{jsObj{"content", feCode, "selection", jsObj{"start", jsObj{"row", 1, "column", 5}, "end", jsObj{"row", 1, "column", 5}}, "timestamp", 0}}
	feConsole     = []any{jsObj{"content", "", "selection", jsObj{"start", jsObj{"row", 0, "column", 0}, "end", jsObj{"row", 0, "column", 0}}, "timestamp", 0}}
	feScrolls     = []any{jsObj{"timestamp", 0, "scroll", 0}, jsObj{"timestamp", 420, "scroll", 16}}
	feMDScroll    = []any{jsObj{"timestamp", 0, "scroll", undefined}, jsObj{"timestamp", 10, "scroll", math.NaN()}, jsObj{"timestamp", 20, "scroll", 0.5}}
	feSelectData  = js(jsObj{"startNode", "We greet \"Ada\"", "startOffset", 3, "startIsText", true, "startTagName", "P", "startHTML", "We greet <b>\"Ada\"</b>", "endNode", "Ada", "endOffset", 2, "endIsText", true, "endTagName", "B", "endHTML", "\"Ada\""})
	feSelects     = []any{jsObj{"timestamp", 0, "data", nil}, jsObj{"timestamp", 300, "data", feSelectData}}
	feLayoutObj   = jsObj{"dockbox", jsObj{"id", "+3", "size", 200, "mode", "horizontal", "children", []any{jsObj{"id", "+5", "size", 400, "tabs", []any{jsObj{"id", "description"}}, "activeId", "description"}}}}
	feLayouts     = []any{jsObj{"layout", feLayoutObj, "timestamp", 0}}
	feTranscript  = []any{jsObj{"text", "", "timestamp", 0, "endTime", 0}, jsObj{"text", "we greet Ada politely, déjà vu", "timestamp", 100, "endTime", 900}, jsObj{"text", "recursion calls itself", "timestamp", nil, "endTime", 1500, "end", "transcript"}}
	feDescription = "# Greeting ☕\nWe greet **Ada** with `input`. Greeting people is polite; greeting is fun."
)

// recordingForm is the FormData of editor CodeSection.js handleSaveRecording:
// with a microphone (:924) the audio comes first, before the section id,
// and transcript and duration last; without one (:959) there is neither
// file nor transcript. duration is a number turned into text by FormData.
func recordingForm(sectionID, name, language string, audio []byte) [][2]string {
	var f [][2]string
	if audio != nil {
		f = append(f, [2]string{"file", base64.StdEncoding.EncodeToString(audio)})
	}
	f = append(f,
		[2]string{"tutorial_section_id", sectionID},
		[2]string{"keystroke", js(feKeystrokes)},
		[2]string{"consoleAction", js(feConsole)},
		[2]string{"consoleScrollAction", js(feScrolls)},
		[2]string{"inputKeystrokes", js([]any{jsObj{"content", "Ada", "selection", jsObj{"start", jsObj{"row", 0, "column", 3}, "end", jsObj{"row", 0, "column", 3}}, "timestamp", 0}})},
		[2]string{"inputScrollAction", js(feScrolls)},
		[2]string{"layoutAction", js(feLayouts)},
		[2]string{"selectAction", js(feSelects)},
		[2]string{"scrollAction", js(feMDScroll)},
		[2]string{"editorScrollAction", js(feScrolls)},
		[2]string{"name", name},
		[2]string{"tutorial_type", "Code"},
		[2]string{"language", language},
		[2]string{"description", feDescription},
		[2]string{"code_content", feCode},
		[2]string{"code_input", "Ada"},
	)
	if audio != nil {
		f = append(f, [2]string{"transcript", js(feTranscript)})
	}
	return append(f, [2]string{"duration", "2345"})
}

// sampleQuiz is a react-quiz-component object as QuizForm produces it.
var sampleQuiz = jsObj{"quizTitle", "Greetings ¿sí?", "quizSynopsis", "Check <what> you learnt", "questions", []any{
	jsObj{"question", "What does input() return?", "questionType", "text", "answerSelectionType", "single",
		"answers", []any{"A string", "An int"}, "correctAnswer", "1", "messageForCorrectAnswer", "Yes!",
		"messageForIncorrectAnswer", "No.", "explanation", "Always a str.", "point", "10"},
	jsObj{"question", "Pick two", "questionType", "text", "answerSelectionType", "multiple",
		"answers", []any{"a", "b", "c"}, "correctAnswer", []any{1, 3}, "point", 5.5},
}}

func parsedJS(t *testing.T, v any) any {
	t.Helper()
	var out any
	if err := json.Unmarshal([]byte(js(v)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFrontendAuthPagesReplay replays the auth pages, PrivateRoute, the token
// refresh and the profile page against the auth service.
func TestFrontendAuthPagesReplay(t *testing.T) {
	t.Parallel()
	s := start(t, "API_AUTH=optional")
	p := page{t}
	jsonHdr := []string{"Content-Type", "application/json"}

	// Every call with Content-Type: application/json is preflighted.
	for _, path := range []string{"/auth/register", "/auth/login", "/guest/login", "/oauth/login", "/oauth/register", "/auth/refresh", "/getUserDetails"} {
		p.preflight(s.auth+path, "POST", "content-type")
	}
	// PrivateRoute.js:42: authFetch adds Authorization.
	p.preflight(s.auth+"/auth/protected", "GET", "authorization")

	// RegisterPage.js:139, role radio "both"; on r.ok the snackbar shows
	// message, else message too.
	reg := func(name, email, pw, repw, role string) (int, map[string]any) {
		return p.fetch("POST", s.auth+"/auth/register", js(jsObj{"name", name, "email", email, "password", pw, "repassword", repw, "role", role}), jsonHdr...)
	}
	status, body := reg("Bea Both", "Bea@Example.com", "Passw0rd!", "Passw0rd!", "both")
	if status != http.StatusOK || str(t, body, "message") == "" {
		t.Fatalf("register: %d %v", status, body)
	}
	for _, c := range []struct{ email, pw, repw, role string }{
		{"bea@example.com", "Passw0rd!", "Passw0rd!", "learner"}, // already registered
		{"weak@example.com", "password", "password", "learner"},  // policy
		{"role@example.com", "Passw0rd!", "Passw0rd!", "admin"},  // radio tampered
		{"not-an-email", "Passw0rd!", "Passw0rd!", "author"},     // no client-side email check
	} {
		status, body := reg("Someone", c.email, c.pw, c.repw, c.role)
		if status == http.StatusOK || str(t, body, "message") == "" {
			t.Fatalf("register %v: %d %v: the page shows message", c, status, body)
		}
	}

	// LoginPage.js:77: !r.ok shows a generic error; on 200 access_token
	// must be truthy and role "author"/"learner" for the navigation.
	login := func(email, pw, role string) (int, map[string]any) {
		return p.fetch("POST", s.auth+"/auth/login", js(jsObj{"email", email, "password", pw, "role", role}), jsonHdr...)
	}
	status, body = login("bea@example.com", "Passw0rd!", "author")
	tok := str(t, must200(t, "login", status, body), "access_token")
	if body["role"] != "author" || len(strings.Split(tok, ".")) != 3 {
		t.Fatalf("login: %v", body)
	}
	for _, c := range [][3]string{{"bea@example.com", "wrong", "author"}, {"nobody@example.com", "Passw0rd!", "learner"}} {
		if status, body := login(c[0], c[1], c[2]); status == http.StatusOK {
			t.Fatalf("login %v: %d %v", c, status, body)
		}
	}

	// react-token-auth reads exp from the payload with atob to decide on a
	// refresh (API.md §2.4): a numeric exp in the future.
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if exp, _ := claims["exp"].(float64); exp*1000 < float64(time.Now().UnixMilli()) {
		t.Fatalf("exp claim: %v", claims["exp"])
	}

	// PrivateRoute.js:42: Bearer <access_token> -> data.id, data.role truthy;
	// the pages get String(data.id).
	who := p.ok("protected", "GET", s.auth+"/auth/protected", "", "Authorization", "Bearer "+tok)
	if who["role"] != "author" || num(t, who, "id") < 1 || num(t, who, "id") != math.Trunc(num(t, who, "id")) {
		t.Fatalf("protected: %v", who)
	}
	uid := fmt.Sprint(who["id"])
	// After a failed refresh the library sends "Bearer null": !response.ok.
	for _, h := range []string{"Bearer null", "Bearer " + tok + "x", ""} {
		status, body := p.fetch("GET", s.auth+"/auth/protected", "", "Authorization", h)
		if status == http.StatusOK {
			t.Fatalf("protected with %q: %d %v", h, status, body)
		}
	}

	// auth/index.js:11-18: the raw JWT as body, labelled JSON; on r.ok the
	// whole object replaces the stored token and must hold access_token.
	ref := p.ok("refresh", "POST", s.auth+"/auth/refresh", tok, jsonHdr...)
	newTok := str(t, ref, "access_token")
	// The refreshed object has no role: PrivateRoute gets it from the token.
	if who := p.ok("protected after refresh", "GET", s.auth+"/auth/protected", "", "Authorization", "Bearer "+newTok); fmt.Sprint(who["id"]) != uid || who["role"] != "author" {
		t.Fatalf("identity after refresh: %v", who)
	}
	if status, body := p.fetch("POST", s.auth+"/auth/refresh", "not-a-token", jsonHdr...); status == http.StatusOK {
		t.Fatalf("refresh of garbage: %d %v", status, body)
	}

	// ProfilePage.js:41: {"id": props.userId} (a string); name non-empty
	// (name[0] is the avatar), email shown when truthy, roles verbatim.
	prof := p.ok("profile", "POST", s.auth+"/getUserDetails", js(jsObj{"id", uid}), jsonHdr...)
	if str(t, prof, "name") != "Bea Both" || prof["email"] != "bea@example.com" || str(t, prof, "roles") == "" {
		t.Fatalf("profile: %v", prof)
	}
	if pic, ok := prof["picture"]; ok && pic != nil {
		str(t, prof, "picture")
	}

	// LoginPage.js:180: the Guest Login button, data-role learner.
	g := p.ok("guest learner", "POST", s.auth+"/guest/login", js(jsObj{"role", "learner"}), jsonHdr...)
	if str(t, g, "access_token") == "" || g["role"] != "learner" {
		t.Fatalf("guest learner: %v", g)
	}
	gwho := p.ok("guest protected", "GET", s.auth+"/auth/protected", "", "Authorization", "Bearer "+g["access_token"].(string))
	gprof := p.ok("guest profile", "POST", s.auth+"/getUserDetails", js(jsObj{"id", fmt.Sprint(gwho["id"])}), jsonHdr...)
	if str(t, gprof, "name") == "" || str(t, gprof, "roles") == "" {
		t.Fatalf("guest profile: %v", gprof)
	}
	// ResearchStudyLoginPage.js:55: no status check; access_token, else
	// message is shown.
	status, g = p.fetch("POST", s.auth+"/guest/login", js(jsObj{"role", "author"}), jsonHdr...)
	if str(t, g, "access_token") == "" || g["role"] != "author" {
		t.Fatalf("research study guest author: %d %v", status, g)
	}
	status, g = p.fetch("POST", s.auth+"/guest/login", js(jsObj{"role", nil}), jsonHdr...)
	if status == http.StatusOK || str(t, g, "message") == "" {
		t.Fatalf("guest with data-role missing: %d %v", status, g)
	}

	// LoginPage.js:122 / RegisterPage.js:189 (Google, only rendered with a
	// client id): a bad credential is a non-2xx JSON answer with message.
	for _, path := range []string{"/oauth/login", "/oauth/register"} {
		status, body := p.fetch("POST", s.auth+path, js(jsObj{"token", "not-a-google-token", "role", "learner"}), jsonHdr...)
		if status == http.StatusOK || str(t, body, "message") == "" {
			t.Fatalf("%s with a bad credential: %d %v", path, status, body)
		}
	}
}

// TestFrontendAuthorJourneyReplay replays the author's pages of API.md §7.1:
// AllTutorialsPage, CreateTutorialPage, TutorialOverviewPage and the section
// editor (Code and Question), then the author's preview.
func TestFrontendAuthorJourneyReplay(t *testing.T) {
	t.Parallel()
	s := start(t, "API_AUTH=optional")
	p := page{t}
	uid, _ := session(t, p, s.auth, "Ada Author", "ada@example.com", "author", "author")
	_, hasPython := exec.LookPath("python3")

	// AllTutorialsPage.js:130: data.tutorials || [] after r.ok.
	list := p.ok("author tutorials", "GET", s.tutorial+"/tutorials/get/"+uid, "")
	if l, ok := list["tutorials"].([]any); !ok || len(l) != 0 {
		t.Fatalf("tutorials of a new author: %v", list)
	}

	// CreateTutorialPage.js:65: no headers, userid is props.userId (a
	// string); data.id goes into the URL without a status check.
	created := p.ok("create tutorial", "POST", s.tutorial+"/tutorial/create",
		js(jsObj{"name", "  Greetings & <Recursion> ☕ ", "language", "python", "userid", uid}))
	tid := str(t, created, "id")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(tid) {
		t.Fatalf("tutorial id %q", tid)
	}

	// TutorialOverviewPage.js:118 then :133 (twice): with no section yet the
	// list has no tutorial_section, so only the header is read.
	secs := p.ok("sections of a new tutorial", "GET", s.tutorial+"/tutorial_section/get/tutorial_id/"+tid, "")
	if _, ok := secs["tutorial_section"]; ok {
		if l, _ := secs["tutorial_section"].([]any); len(l) != 0 {
			t.Fatalf("sections of a new tutorial: %v", secs)
		}
	}
	overview := func() (map[string]any, []any) {
		t.Helper()
		hdr := p.ok("tutorial header", "GET", s.tutorial+"/tutorial/get/"+tid, "")
		str(t, hdr, "name")
		str(t, hdr, "language")
		seq, ok := jsonParse(t, "sequence", hdr["sequence"]).([]any)
		if !ok {
			t.Fatalf("JSON.parse(data.sequence) is not an array: %v", hdr["sequence"])
		}
		isoDate(t, hdr["start_date"])
		isoDate(t, hdr["end_date"])
		return hdr, seq
	}
	hdr, seq := overview()
	if hdr["name"] != "Greetings & <Recursion> ☕" || hdr["language"] != "python" || len(seq) != 0 || hdr["start_date"] != nil {
		t.Fatalf("header of a new tutorial: %v", hdr)
	}

	// TutorialOverviewPage.js:181 (as coded; the menu throws before it in
	// this client, §8.3): data.id goes into the editor URL.
	createSection := func(typ string) string {
		sec := p.ok("create "+typ, "POST", s.tutorial+"/tutorial_section/create",
			js(jsObj{"name", "Untitled Section", "tutorial_id", tid, "tutorial_type", typ}))
		return str(t, sec, "id")
	}
	code, quiz := createSection("Code"), createSection("Question")

	// TutorialSectionPage.js:155-163: a GET with JSON headers, preflighted.
	p.preflight(s.tutorial+"/tutorial_section/get/"+code, "GET", "content-type")
	editorLoad := func(sid string) map[string]any {
		t.Helper()
		d := p.ok("editor load", "GET", s.tutorial+"/tutorial_section/get/"+sid, "",
			"Content-Type", "application/json", "Accept", "application/json")
		str(t, d, "tutorial_type")
		str(t, d, "language")
		filenameOf(str(t, d, "name")) // data.name.replace(...)
		if str(t, d, "tutorial_id") != tid {
			t.Fatalf("editor load tutorial_id: %v", d)
		}
		if n := num(t, d, "sequence"); n < 1 || n != math.Trunc(n) {
			t.Fatalf("sequence (the Preview page number): %v", d["sequence"])
		}
		if v := d["version"]; v != nil {
			str(t, d, "version")
		}
		if d["question"] != nil { // JSON.parse when truthy
			jsonParse(t, "question", d["question"])
		}
		for _, k := range []string{"code_content", "code_input", "description", "recording"} {
			if d[k] != nil {
				str(t, d, k)
			}
		}
		return d
	}
	d := editorLoad(code)
	if d["tutorial_type"] != "Code" || d["language"] != "python" || d["sequence"] != float64(1) || d["recording"] != nil {
		t.Fatalf("editor load of a new Code section: %v", d)
	}
	filename := filenameOf(d["name"].(string))

	// editor CodeSection.js:411-426: role is props.role; JSON.parse(data.layout).
	layoutKey := js(jsObj{"userid", uid, "tutorialid", tid, "role", "author"})
	if l := p.ok("author layout", "POST", s.tutorial+"/get_learner_layout", layoutKey); jsonParse(t, "layout", l["layout"]) != nil {
		t.Fatalf("layout before any save: %v", l)
	}

	// editor CodeSection.js:792 (Run) and :842 (Compile): output must be a
	// string (it is appended and .toLowerCase()d); time a number when set.
	run := p.ok("run", "POST", s.tutorial+"/run_script/python", js(jsObj{"data", feCode, "input", "Ada", "filename", filename}))
	out := str(t, run, "output")
	if hasPython == nil && (out != "héllo ☕ 😀 Ada\n" || num(t, run, "time") <= 0) {
		t.Fatalf("run: %v", run)
	}
	comp := p.ok("compile", "POST", s.tutorial+"/compile_script/python", js(jsObj{"data", feCode, "filename", filename}))
	if str(t, comp, "output") == "" || comp["success"] != true {
		t.Fatalf("compile: %v", comp)
	}
	// Run clicked before the section loaded: filename is still "". The
	// original refused it too; the page appends output whatever the status.
	_, early := p.fetch("POST", s.tutorial+"/run_script/python", js(jsObj{"data", "print(1)", "input", "", "filename", ""}))
	str(t, early, "output")

	// editor CodeSection.js:428-443: Save Layout, then Load Layout parses it.
	p.ok("save author layout", "POST", s.tutorial+"/save_learner_layout",
		js(jsObj{"userid", uid, "tutorialid", tid, "layout", feLayoutObj, "role", "author"}))
	l := p.ok("author layout", "POST", s.tutorial+"/get_learner_layout", layoutKey)
	if got := jsonParse(t, "layout", l["layout"]); !reflect.DeepEqual(got, parsedJS(t, feLayoutObj)) {
		t.Fatalf("saved layout: %v", got)
	}

	// editor CodeSection.js:924: Save recording with a microphone.
	audio := wav()
	status, up := p.form(s.tutorial+"/upload_recording", recordingForm(code, "Greeting", "python", audio))
	if status != http.StatusOK || up["message"] != "success" {
		t.Fatalf("upload with audio: %d %v", status, up)
	}
	d = editorLoad(code)
	if d["recording"] == nil || d["description"] != crlf(feDescription) || d["code_content"] != crlf(feCode) || d["code_input"] != "Ada" || d["name"] != "Greeting" {
		t.Fatalf("editor load after the upload: %v", d)
	}

	// TutorialSectionPage.js:242-257: Back from a Code section sends the
	// editor state; data.tutorial_id is navigated to without a status check.
	back := func(sid string, body string) map[string]any {
		t.Helper()
		b := p.ok("back", "POST", s.tutorial+"/tutorial_section/update/"+sid, body)
		if b["tutorial_id"] != tid {
			t.Fatalf("back: %v", b)
		}
		return b
	}
	back(code, js(jsObj{"name", "Greeting", "language", "python", "description", feDescription, "code_content", feCode, "code_input", "Ada"}))
	// The author cleared the title, the description, the code and the input.
	back(code, js(jsObj{"name", "", "language", "python", "description", "", "code_content", "", "code_input", ""}))
	d = editorLoad(code)
	if d["name"] != "Greeting" || d["description"] != nil && d["description"] != "" || d["code_input"] != nil && d["code_input"] != "" {
		t.Fatalf("editor load after clearing: %v", d)
	}
	back(code, js(jsObj{"name", "Greeting", "language", "python", "description", feDescription, "code_content", feCode, "code_input", "Ada"}))

	// The Question section: editor load, Back before any quiz (question is
	// null), QuestionSection.js:23-43 quiz submit, Back with the quiz
	// (TutorialSectionPage.js:258-273: navigates iff status == 200).
	q := editorLoad(quiz)
	if q["tutorial_type"] != "Question" || q["question"] != nil {
		t.Fatalf("editor load of a new Question section: %v", q)
	}
	back(quiz, js(jsObj{"name", "Untitled Section", "question", nil}))
	p.ok("quiz submit", "POST", s.tutorial+"/tutorial_section/update/"+quiz, js(jsObj{"name", "Quiz time", "question", sampleQuiz, "tutorial_type", "Question"}))
	back(quiz, js(jsObj{"name", "Quiz time", "question", sampleQuiz}))
	q = editorLoad(quiz)
	if got := jsonParse(t, "question", q["question"]); !reflect.DeepEqual(got, parsedJS(t, sampleQuiz)) || q["name"] != "Quiz time" {
		t.Fatalf("quiz after saving: %v", q)
	}
	back(quiz, js(jsObj{"name", "Quiz time", "question", nil}))
	if q = editorLoad(quiz); q["question"] == nil {
		t.Fatalf("Back without a quiz erased the saved one: %v", q)
	}

	// TutorialOverviewPage.js:118 and :133: the list is ordered by
	// JSON.parse(sequence); elem.id == seq.
	secs = p.ok("sections", "GET", s.tutorial+"/tutorial_section/get/tutorial_id/"+tid, "")
	rows, ok := secs["tutorial_section"].([]any)
	if !ok || len(rows) != 2 {
		t.Fatalf("sections: %v", secs)
	}
	for _, r := range rows {
		row := r.(map[string]any)
		str(t, row, "id")
		str(t, row, "name")
		str(t, row, "tutorial_type")
	}
	_, seq = overview()
	if !reflect.DeepEqual(seq, []any{code, quiz}) {
		t.Fatalf("sequence: %v", seq)
	}

	// :190-201 Save Sequence after a drag and drop.
	if r := p.ok("save sequence", "POST", s.tutorial+"/tutorial/update/"+tid, js(jsObj{"sequence", []any{quiz, code}})); r["message"] != "success" {
		t.Fatalf("save sequence: %v", r)
	}
	if _, seq = overview(); !reflect.DeepEqual(seq, []any{quiz, code}) {
		t.Fatalf("sequence after saving: %v", seq)
	}
	if d = editorLoad(code); d["sequence"] != float64(2) {
		t.Fatalf("Preview page of the moved section: %v", d["sequence"])
	}

	// :264-277 Release with an end date, :305-314 Hide, :288-296 Release
	// without an end date; visibility as the page computes it from parseISO.
	visible := func() bool {
		hdr, _ := overview()
		now := time.Now()
		st, en := isoDate(t, hdr["start_date"]), isoDate(t, hdr["end_date"])
		return st != nil && now.After(*st) && (en == nil || en.After(now))
	}
	now := time.Now()
	p.ok("release", "POST", s.tutorial+"/tutorial/update/"+tid, js(jsObj{"startDatetime", sgt(now.Add(-time.Minute)), "endDatetime", sgt(now.Add(24 * time.Hour))}))
	if !visible() {
		t.Fatal("released tutorial shows as hidden")
	}
	p.ok("hide", "POST", s.tutorial+"/tutorial/update/"+tid, js(jsObj{"startDatetime", nil, "endDatetime", nil}))
	if visible() {
		t.Fatal("hidden tutorial shows as visible")
	}
	// The dialog's default start is "now" at minute precision.
	p.ok("release without end", "POST", s.tutorial+"/tutorial/update/"+tid, js(jsObj{"startDatetime", sgt(time.Now()), "endDatetime", nil}))
	if !visible() {
		t.Fatal("tutorial released without an end date shows as hidden")
	}

	// The overview's Preview link (new tab /tutorial/<id>/1): TutorialPage.js:288.
	pg := p.ok("preview page 1", "GET", s.tutorial+"/tutorial/get/"+tid+"/1/"+uid, "")
	checkQuestionPage(t, pg, 0)
	pg = p.ok("preview page 2", "GET", s.tutorial+"/tutorial/get/"+tid+"/2/"+uid, "")
	checkCodePage(t, pg, 1, true)
	// AllTutorialsPage: the author's card (no progress for an author).
	list = p.ok("author tutorials", "GET", s.tutorial+"/tutorials/get/"+uid, "")
	cards := list["tutorials"].([]any)
	if len(cards) != 1 {
		t.Fatalf("author tutorials: %v", list)
	}
	checkCard(t, cards[0].(map[string]any), tid, 2, false)

	// Re-recording (editor CodeSection.js:924 again) then Preview: the
	// <audio src> must not be answered from the browser's cache of the
	// previous recording, whose answer allowed reuse for an hour.
	rec1 := str(t, pg, "recording")
	resp, err := http.Get(rec1)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cached := !strings.Contains(resp.Header.Get("Cache-Control"), "no-cache") && !strings.Contains(resp.Header.Get("Cache-Control"), "no-store")
	audio2 := wav()
	audio2[len(audio2)-1] ^= 0x7f
	if status, up = p.form(s.tutorial+"/upload_recording", recordingForm(code, "Greeting", "python", audio2)); status != http.StatusOK || up["message"] != "success" {
		t.Fatalf("second upload with audio: %d %v", status, up)
	}
	pg = p.ok("preview page 2 after re-recording", "GET", s.tutorial+"/tutorial/get/"+tid+"/2/"+uid, "")
	rec2 := str(t, pg, "recording")
	if rec2 == rec1 && cached {
		t.Fatalf("the re-recorded audio has the URL of the previous one (%s), which the browser may keep for %q",
			rec2, resp.Header.Get("Cache-Control"))
	}
	if resp, err = http.Get(rec2); err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, audio2) {
		t.Fatalf("re-recorded audio: %d, %d bytes", resp.StatusCode, len(got))
	}
	if d = editorLoad(code); d["recording"] == nil {
		t.Fatal("editor load after re-recording: no recording")
	}

	// editor CodeSection.js:959: re-recording without a microphone replaces
	// the recording (no file, no transcript).
	status, up = p.form(s.tutorial+"/upload_recording", recordingForm(code, "Greeting", "python", nil))
	if status != http.StatusOK || up["message"] != "success" {
		t.Fatalf("upload without audio: %d %v", status, up)
	}
	if d = editorLoad(code); d["recording"] != nil {
		t.Fatalf("recording after a re-recording without audio: %v", d["recording"])
	}
	pg = p.ok("preview page 2 without audio", "GET", s.tutorial+"/tutorial/get/"+tid+"/2/"+uid, "")
	if checkCodePage(t, pg, 1, false); pg["transcript"] != nil || num(t, pg, "duration") != 2345 {
		t.Fatalf("page without audio: transcript %v duration %v", pg["transcript"], pg["duration"])
	}

	// :232-244 delete a section: reload iff data.message == "success";
	// :214-225 delete the tutorial: navigate iff status == 200.
	if r := p.ok("delete section", "GET", s.tutorial+"/tutorial_section/delete/"+quiz, ""); r["message"] != "success" {
		t.Fatalf("delete section: %v", r)
	}
	if _, seq = overview(); !reflect.DeepEqual(seq, []any{code}) {
		t.Fatalf("sequence after deleting a section: %v", seq)
	}
	p.ok("delete tutorial", "GET", s.tutorial+"/tutorial/delete/"+tid, "")
}

// checkCard reads a card as AllTutorialsPage.js:45-73 does.
func checkCard(t *testing.T, c map[string]any, tid string, sections int, learner bool) {
	t.Helper()
	if str(t, c, "id") != tid || num(t, c, "sequence") != float64(sections) {
		t.Fatalf("card: %v", c)
	}
	str(t, c, "name")
	if l := str(t, c, "language"); l != "python" && l != "java" && l != "javascript" {
		t.Fatalf("card language %q is filtered out", l)
	}
	if str(t, c, "user_name") == "" { // user_name[0] is the avatar
		t.Fatalf("card without an author name: %v", c)
	}
	if c["user_picture"] != nil {
		str(t, c, "user_picture")
	}
	if learner {
		if lp := num(t, c, "last_page"); lp < 0 || lp != math.Trunc(lp) {
			t.Fatalf("last_page: %v", c)
		}
	}
}

// checkPageHeader reads TutorialPage.js:290-296: tutorial_pages[tutorial_page]
// must be a string (.replace), tutorial_pages.length the page count.
func checkPageHeader(t *testing.T, pg map[string]any, index int) {
	t.Helper()
	str(t, pg, "tutorial_name")
	pages, ok := pg["tutorial_pages"].([]any)
	if !ok || num(t, pg, "tutorial_page") != float64(index) || index >= len(pages) {
		t.Fatalf("page header: %v", pg)
	}
	if _, ok := pages[index].(string); !ok {
		t.Fatalf("tutorial_pages[tutorial_page] is not a string: %v", pages)
	}
}

func checkQuestionPage(t *testing.T, pg map[string]any, index int) {
	t.Helper()
	if got := checkQuestionShape(t, pg, index); !reflect.DeepEqual(got, parsedJS(t, sampleQuiz)) {
		t.Fatalf("question: %v", got)
	}
}

// checkQuestionShape reads a Question page as TutorialPage.js:290-388 and
// QuestionSection (react-quiz-component's quiz prop) do.
func checkQuestionShape(t *testing.T, pg map[string]any, index int) any {
	t.Helper()
	checkPageHeader(t, pg, index)
	if pg["tutorial_type"] != "Question" {
		t.Fatalf("not a Question page: %v", pg)
	}
	q, ok := jsonParse(t, "question", pg["question"]).(map[string]any)
	if !ok {
		t.Fatalf("JSON.parse(question) is not a quiz object: %v", pg["question"])
	}
	if _, ok := q["questions"].([]any); !ok {
		t.Fatalf("quiz without questions: %v", q)
	}
	return q
}

// checkCodePage reads a Code page as TutorialPage.js:290-388 does and
// compares its events with the editor's upload.
func checkCodePage(t *testing.T, pg map[string]any, index int, withAudio bool) {
	t.Helper()
	parsed := checkCodeShape(t, pg, index, withAudio)
	// The events are the editor's, byte for byte after two parses.
	for k, want := range map[string][]any{"keystroke": feKeystrokes, "selectAction": feSelects, "scrollAction": feMDScroll, "layoutAction": feLayouts} {
		if !reflect.DeepEqual(parsed[k], parsedJS(t, want)) {
			t.Fatalf("%s after JSON.parse twice: %v", k, parsed[k])
		}
	}
	if withAudio && !reflect.DeepEqual(parsed["transcript"], parsedJS(t, feTranscript)) {
		t.Fatalf("transcript after JSON.parse twice: %v", parsed["transcript"])
	}
}

// checkCodeShape reads a Code page as TutorialPage.js:290-388 and the
// playback CodeSection (event .timestamp, .content, .selection, .scroll,
// .layout; transcript .text) do, and returns the parsed event arrays.
func checkCodeShape(t *testing.T, pg map[string]any, index int, withAudio bool) map[string][]any {
	t.Helper()
	checkPageHeader(t, pg, index)
	if pg["tutorial_type"] != "Code" || str(t, pg, "language") != "python" || str(t, pg, "tutorial_section_id") == "" {
		t.Fatalf("not a Code page: %v", pg)
	}
	if pg["version"] != nil {
		str(t, pg, "version")
	}
	if pg["description"] != nil {
		str(t, pg, "description")
	}
	if pg["input_ide"] != nil {
		str(t, pg, "input_ide")
	}
	keys := []string{"keystroke", "consoleAction", "consoleScrollAction", "layoutAction", "selectAction",
		"scrollAction", "editorScrollAction", "transcript", "inputKeystrokes", "inputScrollAction"}
	parsed := map[string][]any{}
	for _, k := range keys {
		parsed[k] = parseTwice(t, pg, k)
		for _, e := range parsed[k] {
			ev, ok := e.(map[string]any)
			if !ok {
				t.Fatalf("%s event %v is not an object", k, e)
			}
			// getCurrentElement compares timestamps; the transcript's
			// interim phrase may have a null one.
			if _, ok := ev["timestamp"].(float64); !ok && k != "transcript" {
				t.Fatalf("%s event without a numeric timestamp: %v", k, ev)
			}
			switch k {
			case "keystroke", "consoleAction", "inputKeystrokes":
				if _, ok := ev["selection"].(map[string]any); !ok { // selection.setRange(k.selection)
					t.Fatalf("%s event without a selection range: %v", k, ev)
				}
			case "transcript":
				if _, ok := ev["text"].(string); !ok {
					t.Fatalf("transcript entry without text: %v", ev)
				}
			}
		}
	}
	// frequent_word: JSON.parse(...).map(word => ...) in a try/catch.
	if pg["frequent_word"] != nil {
		words, ok := jsonParse(t, "frequent_word", pg["frequent_word"]).([]any)
		if !ok || len(words) == 0 {
			t.Fatalf("frequent_word gives no chips: %v", pg["frequent_word"])
		}
		for _, w := range words {
			if _, ok := w.(string); !ok { // data.label.toLowerCase()
				t.Fatalf("frequent word %v is not a string", w)
			}
		}
	}
	// recording != null is the <audio src>; else duration builds silence.
	if withAudio {
		str(t, pg, "recording")
	} else if pg["recording"] != nil {
		t.Fatalf("recording of a section without audio: %v", pg["recording"])
	}
	if pg["duration"] != nil {
		num(t, pg, "duration")
	}
	return parsed
}

// TestFrontendLearnerJourneyReplay replays the learner's pages of API.md
// §7.1 on a tutorial the author built through the editor's calls:
// AllTutorialsPage, TutorialPage (Code and Question pages, layouts, runs,
// keyword search, the audio) and the progress in the catalogue.
func TestFrontendLearnerJourneyReplay(t *testing.T) {
	t.Parallel()
	s := start(t, "API_AUTH=optional")
	p := page{t}
	_, hasPython := exec.LookPath("python3")

	// The author's part, as in TestFrontendAuthorJourneyReplay.
	author, _ := session(t, p, s.auth, "Ada Author", "ada@example.com", "both", "author")
	tid := str(t, p.ok("create", "POST", s.tutorial+"/tutorial/create", js(jsObj{"name", "Greetings", "language", "python", "userid", author})), "id")
	code := str(t, p.ok("create code", "POST", s.tutorial+"/tutorial_section/create", js(jsObj{"name", "Untitled Section", "tutorial_id", tid, "tutorial_type", "Code"})), "id")
	quiz := str(t, p.ok("create quiz", "POST", s.tutorial+"/tutorial_section/create", js(jsObj{"name", "Untitled Section", "tutorial_id", tid, "tutorial_type", "Question"})), "id")
	audio := wav()
	if status, up := p.form(s.tutorial+"/upload_recording", recordingForm(code, "Say hello: part 1/2", "python", audio)); status != http.StatusOK || up["message"] != "success" {
		t.Fatalf("upload: %d %v", status, up)
	}
	p.ok("quiz", "POST", s.tutorial+"/tutorial_section/update/"+quiz, js(jsObj{"name", "Quiz", "question", sampleQuiz, "tutorial_type", "Question"}))
	p.ok("release", "POST", s.tutorial+"/tutorial/update/"+tid, js(jsObj{"startDatetime", sgt(time.Now()), "endDatetime", nil}))

	// A learner: RegisterPage, LoginPage, PrivateRoute.
	uid, _ := session(t, p, s.auth, "Lena Learner", "lena@example.com", "learner", "learner")

	// AllTutorialsPage.js:143: the catalogue; the card links to
	// /tutorial/<id>/<min(last_page, sequence) or 1>.
	card := func() map[string]any {
		t.Helper()
		list := p.ok("catalogue", "GET", s.tutorial+"/tutorials/get_all/"+uid, "")
		for _, c := range list["tutorials"].([]any) {
			if c.(map[string]any)["id"] == tid {
				checkCard(t, c.(map[string]any), tid, 2, true)
				return c.(map[string]any)
			}
		}
		t.Fatalf("released tutorial not in the catalogue: %v", list)
		return nil
	}
	if c := card(); c["last_page"] != float64(0) || c["user_name"] != "Ada Author" {
		t.Fatalf("card before opening: %v", c)
	}

	// TutorialPage.js:288 (page 1) and :402-415 (layout, in parallel).
	pg := p.ok("page 1", "GET", s.tutorial+"/tutorial/get/"+tid+"/1/"+uid, "")
	checkCodePage(t, pg, 0, true)
	fname := filenameOf(pg["tutorial_pages"].([]any)[0].(string))
	if fname != "say_hello__part_1_2" || pg["input_ide"] != "Ada" || pg["description"] != crlf(feDescription) || num(t, pg, "duration") != 2345 {
		t.Fatalf("page 1: %v", pg)
	}
	layoutKey := js(jsObj{"userid", uid, "tutorialid", tid, "role", "learner"})
	if l := p.ok("learner layout", "POST", s.tutorial+"/get_learner_layout", layoutKey); jsonParse(t, "layout", l["layout"]) != nil {
		t.Fatalf("layout before any save: %v", l)
	}

	// The <audio> element plays the recording URL (no CORS, Range).
	rec := str(t, pg, "recording")
	req, _ := http.NewRequest("GET", rec, nil)
	req.Header.Set("Range", "bytes=44-")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, audio[44:]) {
		t.Fatalf("audio: %d, %d bytes", resp.StatusCode, len(got))
	}

	// Playback CodeSection.js:419-474 (Playback tab Run), :476-525
	// (Compile), :527-555 and :557-581 (Practice tab).
	for _, path := range []string{"/run_script/python", "/compile_script/python"} {
		body := jsObj{"data", feCode, "input", "Ada", "filename", fname}
		if strings.HasPrefix(path, "/compile") {
			body = jsObj{"data", feCode, "filename", fname}
		}
		r := p.ok(path, "POST", s.tutorial+path, js(body))
		out := str(t, r, "output")
		if path == "/run_script/python" && hasPython == nil && out != "héllo ☕ 😀 Ada\n" {
			t.Fatalf("run: %v", r)
		}
	}
	failing := p.ok("failing run", "POST", s.tutorial+"/run_script/python", js(jsObj{"data", "raise ValueError('x')", "input", "", "filename", fname}))
	if hasPython == nil && !strings.Contains(strings.ToLower(str(t, failing, "output")), "error") {
		t.Fatalf("a failing run: %v", failing)
	}

	// Playback CodeSection.js:1015-1034: a frequent-word chip (lower-cased)
	// and a typed search (spaces become %20 in the URL).
	words := jsonParse(t, "frequent_word", pg["frequent_word"]).([]any)
	search := func(kw string) []any {
		t.Helper()
		r := p.ok("search "+kw, "GET", s.tutorial+"/tutorial_section/search/keyword/"+strings.ReplaceAll(kw, " ", "%20")+"/"+code, "")
		res, ok := r["result"].([]any)
		if !ok {
			t.Fatalf("search %q: result is not an array: %v", kw, r)
		}
		for _, it := range res {
			item := it.(map[string]any)
			str(t, item, "text")
			if item["timestamp"] != nil { // formatTime(item.timestamp), seek target
				num(t, item, "timestamp")
			}
		}
		return res
	}
	for _, w := range words {
		search(strings.ToLower(w.(string)))
	}
	if res := search("greet ada"); len(res) != 1 {
		t.Fatalf("search for a phrase of the transcript: %v", res)
	}
	if res := search("recursion"); len(res) != 1 {
		t.Fatalf("search for the interim phrase: %v", res)
	}
	if res := search("nothing like this"); len(res) != 0 {
		t.Fatalf("search without match: %v", res)
	}
	// A typed word with accents: fetch percent-encodes it as UTF-8.
	if res := search("d%C3%A9j%C3%A0"); len(res) != 1 {
		t.Fatalf("search for a word with accents: %v", res)
	}
	// "c#" and "what?" are concatenated unencoded: the fragment and the
	// query cut the path; the answer must still be JSON the page can read.
	p.fetch("GET", s.tutorial+"/tutorial_section/search/keyword/c", "")
	p.fetch("GET", s.tutorial+"/tutorial_section/search/keyword/what?/"+code, "")
	// An empty search box: the URL has an empty segment; the page reads
	// data.result (undefined hides the list) after response.json().
	p.fetch("GET", s.tutorial+"/tutorial_section/search/keyword//"+code, "")

	// TutorialPage.js:417-432: Save Layout; the next load parses it.
	p.ok("save layout", "POST", s.tutorial+"/save_learner_layout", js(jsObj{"userid", uid, "tutorialid", tid, "layout", feLayoutObj, "role", "learner"}))
	l := p.ok("learner layout", "POST", s.tutorial+"/get_learner_layout", layoutKey)
	if got := jsonParse(t, "layout", l["layout"]); !reflect.DeepEqual(got, parsedJS(t, feLayoutObj)) {
		t.Fatalf("layout after saving: %v", got)
	}

	// Page 2 is the quiz: JSON.parse(data.question) once.
	pg = p.ok("page 2", "GET", s.tutorial+"/tutorial/get/"+tid+"/2/"+uid, "")
	checkQuestionPage(t, pg, 1)
	if len(pg["tutorial_pages"].([]any)) != 2 {
		t.Fatalf("pages: %v", pg["tutorial_pages"])
	}

	// Back in the catalogue: 2 of 2 lessons, the card resumes at page 2.
	if c := card(); c["last_page"] != float64(2) {
		t.Fatalf("progress: %v", c)
	}
	// ProfilePage.js:41 for the learner.
	prof := p.ok("profile", "POST", s.auth+"/getUserDetails", js(jsObj{"id", uid}), "Content-Type", "application/json")
	if prof["name"] != "Lena Learner" || str(t, prof, "roles") == "" {
		t.Fatalf("profile: %v", prof)
	}

	// A page past the end (a stale bookmark): JSON, no crash of the server.
	if status, body := p.fetch("GET", s.tutorial+"/tutorial/get/"+tid+"/3/"+uid, ""); status == http.StatusOK {
		t.Fatalf("page 3 of 2: %v", body)
	}
}

// TestFrontendGuestAuthorSampleReplay replays the research-study path of
// API.md §7.1 step 13 through every page the guest author then opens: the
// copied sample tutorial (built in, not made by the frontend) must read like
// one the editor made — overview, section editor, playback of each page,
// keyword chips and audio.
func TestFrontendGuestAuthorSampleReplay(t *testing.T) {
	t.Parallel()
	s := start(t, "API_AUTH=optional")
	p := page{t}

	// ResearchStudyLoginPage.js:55, then PrivateRoute.js:42.
	_, g := p.fetch("POST", s.auth+"/guest/login", js(jsObj{"role", "author"}), "Content-Type", "application/json")
	who := p.ok("protected", "GET", s.auth+"/auth/protected", "", "Authorization", "Bearer "+str(t, g, "access_token"))
	uid := fmt.Sprint(who["id"])

	// AllTutorialsPage.js:130: the copy of the sample.
	list := p.ok("guest author tutorials", "GET", s.tutorial+"/tutorials/get/"+uid, "")
	cards, _ := list["tutorials"].([]any)
	if len(cards) != 1 {
		t.Fatalf("guest author's tutorials: %v", list)
	}
	card := cards[0].(map[string]any)
	tid := str(t, card, "id")
	checkCard(t, card, tid, int(num(t, card, "sequence")), false)

	// TutorialOverviewPage.js:118, :133: the list ordered by the sequence.
	secs := p.ok("sections", "GET", s.tutorial+"/tutorial_section/get/tutorial_id/"+tid, "")
	rows, _ := secs["tutorial_section"].([]any)
	hdr := p.ok("header", "GET", s.tutorial+"/tutorial/get/"+tid, "")
	seq, _ := jsonParse(t, "sequence", hdr["sequence"]).([]any)
	if len(seq) == 0 || len(seq) != len(rows) || len(seq) != int(num(t, card, "sequence")) {
		t.Fatalf("sample copy: sequence %v, sections %v, card %v", hdr["sequence"], secs, card)
	}
	types := map[string]string{}
	for _, r := range rows {
		row := r.(map[string]any)
		types[str(t, row, "id")] = str(t, row, "tutorial_type")
	}

	// TutorialSectionPage.js:163 for each section, then the preview page it
	// links to (TutorialPage.js:288), audio and keyword search included.
	for i, sid := range seq {
		d := p.ok("editor load", "GET", s.tutorial+"/tutorial_section/get/"+sid.(string), "",
			"Content-Type", "application/json", "Accept", "application/json")
		filenameOf(str(t, d, "name"))
		if d["tutorial_type"] != types[sid.(string)] || d["tutorial_id"] != tid || num(t, d, "sequence") != float64(i+1) {
			t.Fatalf("editor load of section %d: %v", i+1, d)
		}
		if d["question"] != nil {
			jsonParse(t, "question", d["question"])
		}
		pg := p.ok("playback", "GET", fmt.Sprintf("%s/tutorial/get/%s/%d/%s", s.tutorial, tid, i+1, uid), "")
		if types[sid.(string)] == "Question" {
			checkQuestionShape(t, pg, i)
			continue
		}
		checkCodeShape(t, pg, i, pg["recording"] != nil)
		if rec, ok := pg["recording"].(string); ok {
			resp, err := http.Get(rec)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(b, []byte("RIFF")) {
				t.Fatalf("sample audio: %d, %.20q", resp.StatusCode, b)
			}
		}
		if pg["frequent_word"] != nil {
			for _, w := range jsonParse(t, "frequent_word", pg["frequent_word"]).([]any) {
				r := p.ok("chip", "GET", s.tutorial+"/tutorial_section/search/keyword/"+strings.ToLower(w.(string))+"/"+sid.(string), "")
				if _, ok := r["result"].([]any); !ok {
					t.Fatalf("search result: %v", r)
				}
			}
		}
		input, _ := pg["input_ide"].(string) // data.input_ide ? ... : ""
		if r := p.ok("run sample code", "POST", s.tutorial+"/run_script/"+str(t, pg, "language"),
			js(jsObj{"data", "print(1)", "input", input, "filename", filenameOf(pg["tutorial_pages"].([]any)[i].(string))})); r["output"] == nil {
			t.Fatalf("run: %v", r)
		}
	}
}
