// Package e2e runs the real service binaries side by side, as `make run`
// does, and walks the React frontend's journeys of API.md §7.1 request by
// request, including the one call between the services (the guest author's
// sample copy).
package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// services is one auth and one tutorial process on a fresh SQLite file.
type services struct {
	auth, tutorial string // base URLs
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start starts both services (built once per run) with env on free ports.
func start(t *testing.T, env ...string) services {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and starts both services: not in -short mode")
	}
	dir := t.TempDir()
	bin := binaries(t)
	authAddr, tutAddr := freeAddr(t), freeAddr(t)
	s := services{auth: "http://" + authAddr, tutorial: "http://" + tutAddr}
	base := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"APP_SECRET_KEY=e2e-secret-0123456789abcdef0123456789abcdef",
		"SQLALCHEMY_DATABASE_URI=sqlite:///" + filepath.Join(dir, "itss.db"),
		"DATA_DIR=" + filepath.Join(dir, "data"),
		"LOCAL_STORAGE_RECORDINGS_PATH=" + filepath.Join(dir, "storage/recordings"),
		"LOCAL_STORAGE_LAYOUTS_PATH=" + filepath.Join(dir, "storage/layouts"),
		"AUTH_ADDR=" + authAddr,
		"TUTORIAL_ADDR=" + tutAddr,
		"REACT_APP_AUTH_URL=" + s.auth,
		"REACT_APP_TUTORIAL_URL=" + s.tutorial,
		"RUN_TIMEOUT=10s",
	}
	base = append(base, env...)
	// The auth service first: it creates the signing key whose public half
	// the tutorial service reads.
	launch(t, dir, filepath.Join(bin, "auth"), base, s.auth)
	launch(t, dir, filepath.Join(bin, "tutorial"), base, s.tutorial)
	return s
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds both services once per test run, into a folder removed by
// TestMain.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		if binDir, buildErr = os.MkdirTemp("", "itss-e2e-bin-"); buildErr != nil {
			return
		}
		for _, name := range []string{"auth", "tutorial"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, name), "./cmd/"+name)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %w\n%s", name, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func launch(t *testing.T, dir, exe string, env []string, url string) {
	t.Helper()
	name := filepath.Base(exe)
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Dir = dir // no .env of the developer's checkout is read
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("%s did not stop on SIGINT", name)
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s log:\n%s", name, tail(string(b), 4000))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("%s did not become healthy:\n%s", name, tail(string(b), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// call sends a request the way the frontend does and decodes a JSON object.
func call(t *testing.T, method, url string, body any, hdr ...string) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		// What fetch sends for a string body without headers.
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %.300q", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode, m, resp.Header
}

func must200(t *testing.T, what string, status int, body map[string]any) map[string]any {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("%s: %d %v", what, status, body)
	}
	return body
}

// wav is a short valid 16-bit PCM WAV file.
func wav() []byte {
	const rate, n = 8000, 8000
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+2*n))
	b.WriteString("WAVEfmt ")
	_ = binary.Write(&b, binary.LittleEndian, []any{uint32(16), uint16(1), uint16(1), uint32(rate), uint32(2 * rate), uint16(2), uint16(16)})
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(2*n))
	for i := 0; i < n; i++ {
		_ = binary.Write(&b, binary.LittleEndian, int16((i%40-20)*800))
	}
	return b.Bytes()
}

// uploadRecording posts the section editor's multipart form (T10).
func uploadRecording(t *testing.T, url, sectionID string, audio []byte) map[string]any {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fields := [][2]string{
		{"tutorial_section_id", sectionID},
		{"keystroke", `[{"content":"name = input()\nprint(\"hello\", name)","selection":{"start":{"row":1,"column":21},"end":{"row":1,"column":21}},"timestamp":0}]`},
		{"consoleAction", `[{"content":"> hello Ada\n","timestamp":900}]`},
		{"consoleScrollAction", `[{"timestamp":0,"scroll":0}]`},
		{"inputKeystrokes", `[{"content":"Ada","timestamp":0}]`},
		{"inputScrollAction", `[{"timestamp":0,"scroll":0}]`},
		{"layoutAction", `[{"layout":"default","timestamp":0}]`},
		{"selectAction", `[{"timestamp":0,"data":null}]`},
		{"scrollAction", `[{"timestamp":0,"scroll":0}]`},
		{"editorScrollAction", `[{"timestamp":0,"scroll":0}]`},
		{"name", "Greeting"},
		{"tutorial_type", "Code"},
		{"language", "python"},
		{"description", "# Greeting\nWe read a name with input and print a greeting. Greeting people is polite."},
		{"code_content", "name = input()\nprint(\"hello\", name)"},
		{"code_input", "Ada"},
		{"duration", "1000"},
		{"file", base64.StdEncoding.EncodeToString(audio)},
		{"transcript", `[{"text":"","timestamp":0,"endTime":0},{"text":"we greet Ada politely","timestamp":100,"endTime":900}]`},
	}
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	mw.Close()
	resp, err := http.Post(url+"/upload_recording", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	if resp.StatusCode != http.StatusOK || m["message"] != "success" {
		t.Fatalf("upload: %d %v", resp.StatusCode, m)
	}
	return m
}

// TestFrontendJourneyOptionalMode walks API.md §7.1 with the unmodified
// frontend's requests: no token to the tutorial service, ids in paths and
// bodies, JSON labelled text/plain.
func TestFrontendJourneyOptionalMode(t *testing.T) {
	t.Parallel()
	s := start(t, "API_AUTH=optional")
	origin := "http://localhost:3000"

	// 1-2. Register, log in as author, PrivateRoute's identity check.
	status, body, _ := call(t, "POST", s.auth+"/auth/register", map[string]string{
		"name": "Alice Author", "email": "alice@example.com", "password": "Passw0rd!", "repassword": "Passw0rd!", "role": "both"},
		"Content-Type", "application/json", "Origin", origin)
	must200(t, "register", status, body)
	status, body, hdr := call(t, "POST", s.auth+"/auth/login", map[string]string{"email": "alice@example.com", "password": "Passw0rd!", "role": "author"},
		"Content-Type", "application/json", "Origin", origin)
	must200(t, "login", status, body)
	if hdr.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("CORS header missing on login: %v", hdr)
	}
	authorToken := body["access_token"].(string)
	status, body, _ = call(t, "GET", s.auth+"/auth/protected", nil, "Authorization", "Bearer "+authorToken)
	must200(t, "protected", status, body)
	uid := fmt.Sprint(body["id"])

	// 3. Create a tutorial; the overview loads its (empty) sections and header.
	status, body, _ = call(t, "POST", s.tutorial+"/tutorial/create", map[string]string{"name": "Greetings", "language": "python", "userid": uid})
	tid := must200(t, "create tutorial", status, body)["id"].(string)
	status, body, _ = call(t, "GET", s.tutorial+"/tutorial_section/get/tutorial_id/"+tid, nil)
	must200(t, "sections of new tutorial", status, body)
	status, body, _ = call(t, "GET", s.tutorial+"/tutorial/get/"+tid, nil)
	if must200(t, "tutorial header", status, body)["sequence"] != "[]" {
		t.Fatalf("sequence of a new tutorial: %v", body["sequence"])
	}

	// 4-5. A Code section (created through the API, as the frontend's menu is broken), the editor loads it.
	status, body, _ = call(t, "POST", s.tutorial+"/tutorial_section/create", map[string]string{"name": "Untitled Section", "tutorial_id": tid, "tutorial_type": "Code"})
	sid := must200(t, "create section", status, body)["id"].(string)
	status, body, _ = call(t, "GET", s.tutorial+"/tutorial_section/get/"+sid, nil, "Content-Type", "application/json", "Accept", "application/json")
	if must200(t, "editor load", status, body)["sequence"] != float64(1) || body["recording"] != nil {
		t.Fatalf("editor load: %v", body)
	}
	status, body, _ = call(t, "POST", s.tutorial+"/get_learner_layout", map[string]string{"userid": uid, "tutorialid": tid, "role": "author"})
	if must200(t, "author layout", status, body)["layout"] != nil {
		t.Fatalf("layout before any save: %v", body)
	}
	if _, err := exec.LookPath("python3"); err == nil {
		status, body, _ = call(t, "POST", s.tutorial+"/run_script/python", map[string]string{"data": "name = input()\nprint('hello', name)", "input": "Ada", "filename": "untitled_section"})
		if must200(t, "run", status, body)["output"] != "hello Ada\n" || body["time"] == nil {
			t.Fatalf("run: %v", body)
		}
	} else {
		t.Log("python3 not found: the Run step of the journey is skipped")
	}

	// 6. Record and save, then "Back".
	audio := wav()
	up := uploadRecording(t, s.tutorial, sid, audio)
	var words []string
	if err := json.Unmarshal([]byte(up["frequent_word"].(string)), &words); err != nil || len(words) == 0 {
		t.Fatalf("frequent_word is not a JSON array: %v", up["frequent_word"])
	}
	status, body, _ = call(t, "POST", s.tutorial+"/tutorial_section/update/"+sid, map[string]string{
		"name": "Greeting", "language": "python", "description": "# Greeting\nWe read a name.", "code_content": "name = input()", "code_input": "Ada"})
	if must200(t, "back", status, body)["tutorial_id"] != tid {
		t.Fatalf("back: %v", body)
	}

	// 7. Save the order and release without an end date, in the frontend's +08:00 format.
	status, body, _ = call(t, "POST", s.tutorial+"/tutorial/update/"+tid, map[string]any{"sequence": []string{sid}})
	must200(t, "save sequence", status, body)
	start := time.Now().Add(-time.Minute).In(time.FixedZone("SGT", 8*3600)).Format("2006-01-02T15:04:00-07:00")
	status, body, _ = call(t, "POST", s.tutorial+"/tutorial/update/"+tid, map[string]any{"startDatetime": start, "endDatetime": nil})
	must200(t, "release", status, body)
	status, body, _ = call(t, "GET", s.tutorial+"/tutorial/get/"+tid, nil)
	must200(t, "header after release", status, body)
	if sd, _ := body["start_date"].(string); !strings.HasSuffix(sd, "Z") || body["sequence"] != `["`+sid+`"]` {
		t.Fatalf("header after release: %v", body)
	}

	// 8. Log in as learner (same account), catalogue.
	status, body, _ = call(t, "POST", s.auth+"/auth/login", map[string]string{"email": "alice@example.com", "password": "Passw0rd!", "role": "learner"},
		"Content-Type", "application/json")
	must200(t, "learner login", status, body)
	catalogue := func() map[string]any {
		status, body, _ := call(t, "GET", s.tutorial+"/tutorials/get_all/"+uid, nil)
		for _, c := range must200(t, "catalogue", status, body)["tutorials"].([]any) {
			if card := c.(map[string]any); card["id"] == tid {
				return card
			}
		}
		t.Fatalf("published tutorial missing from the catalogue: %v", body)
		return nil
	}
	if card := catalogue(); card["sequence"] != float64(1) || card["last_page"] != float64(0) || card["user_name"] != "Alice Author" {
		t.Fatalf("card before opening: %v", card)
	}

	// 9. Open the tutorial: the page, its events double-encoded, the signed audio with Range.
	status, body, _ = call(t, "GET", s.tutorial+"/tutorial/get/"+tid+"/1/"+uid, nil)
	page := must200(t, "playback", status, body)
	var once string
	var events []map[string]any
	if err := json.Unmarshal([]byte(page["keystroke"].(string)), &once); err != nil || json.Unmarshal([]byte(once), &events) != nil || len(events) != 1 {
		t.Fatalf("keystroke is not double-encoded: %q", page["keystroke"])
	}
	rec, _ := page["recording"].(string)
	if !strings.HasPrefix(rec, s.tutorial+"/api/files/"+sid+"/recording.wav?") {
		t.Fatalf("recording URL %q", rec)
	}
	req, _ := http.NewRequest("GET", rec, nil)
	req.Header.Set("Range", "bytes=0-99")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, audio[:100]) || resp.Header.Get("Content-Type") != "audio/wav" {
		t.Fatalf("audio range: %d %q %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(got))
	}

	// 10-11. Run from the playback page; save and reload the layout.
	status, body, _ = call(t, "POST", s.tutorial+"/save_learner_layout", map[string]any{"userid": uid, "tutorialid": tid, "role": "learner",
		"layout": map[string]any{"dockbox": map[string]any{"mode": "horizontal", "children": []any{}}}})
	must200(t, "save layout", status, body)
	status, body, _ = call(t, "POST", s.tutorial+"/get_learner_layout", map[string]string{"userid": uid, "tutorialid": tid, "role": "learner"})
	var layout map[string]any
	if l, _ := must200(t, "get layout", status, body)["layout"].(string); json.Unmarshal([]byte(l), &layout) != nil || layout["dockbox"] == nil {
		t.Fatalf("layout: %v", body)
	}

	// Keyword chips: the transcript is searchable.
	status, body, _ = call(t, "GET", s.tutorial+"/tutorial_section/search/keyword/ada/"+sid, nil)
	if res, _ := must200(t, "search", status, body)["result"].([]any); len(res) != 1 {
		t.Fatalf("search: %v", body)
	}

	// 12. Progress shows in the catalogue.
	if card := catalogue(); card["last_page"] != float64(1) {
		t.Fatalf("progress not recorded: %v", card)
	}

	// 13. Guests: a learner guest sees the catalogue; an author guest gets
	// the sample copied by the tutorial service, asked by the auth service.
	status, body, _ = call(t, "POST", s.auth+"/guest/login", map[string]string{"role": "author"}, "Content-Type", "application/json")
	guestToken := must200(t, "guest author", status, body)["access_token"].(string)
	status, body, _ = call(t, "GET", s.auth+"/auth/protected", nil, "Authorization", "Bearer "+guestToken)
	guestID := fmt.Sprint(must200(t, "guest identity", status, body)["id"])
	status, body, _ = call(t, "GET", s.tutorial+"/tutorials/get/"+guestID, nil)
	list := must200(t, "guest author's tutorials", status, body)["tutorials"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["sequence"] != float64(2) {
		t.Fatalf("guest author has no copy of the sample: %v", body)
	}

	// A token, when sent, is checked: another user's list is refused.
	status, body, _ = call(t, "GET", s.tutorial+"/tutorials/get/"+uid, nil, "Authorization", "Bearer "+guestToken)
	if status != http.StatusForbidden || body["status"] != "error" {
		t.Fatalf("another user's tutorials with a token: %d %v", status, body)
	}

	// Clean-up routes of the overview page.
	status, body, _ = call(t, "GET", s.tutorial+"/tutorial_section/delete/"+sid, nil)
	must200(t, "delete section", status, body)
	status, body, _ = call(t, "GET", s.tutorial+"/tutorial/delete/"+tid, nil)
	must200(t, "delete tutorial", status, body)
}

// TestRequiredModeWithSessionCookie checks the same-origin deployment: the
// browser sends the itss_session cookie set at login, and nothing else.
func TestRequiredModeWithSessionCookie(t *testing.T) {
	t.Parallel()
	s := start(t, "API_AUTH=required")
	status, body, _ := call(t, "POST", s.auth+"/auth/login", map[string]string{"email": "nobody@example.com", "password": "x", "role": "author"})
	if status != http.StatusUnauthorized {
		t.Fatalf("unknown account: %d %v", status, body)
	}
	status, body, hdr := call(t, "POST", s.auth+"/guest/login", map[string]string{"role": "author"})
	must200(t, "guest author", status, body)
	var cookie string
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		if c.Name == "itss_session" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		t.Fatal("login set no itss_session cookie")
	}
	status, body, _ = call(t, "GET", s.tutorial+"/tutorials", nil)
	if status != http.StatusUnauthorized {
		t.Fatalf("no identity in required mode: %d %v", status, body)
	}
	status, body, _ = call(t, "GET", s.tutorial+"/tutorials", nil, "Cookie", cookie)
	if list, _ := must200(t, "tutorials with the cookie", status, body)["tutorials"].([]any); len(list) != 1 {
		t.Fatalf("guest author's sample copy through the cookie: %v", body)
	}
}

// TestAutoStorageStartsAndServesWhileS3IsDown starts the tutorial service
// with STORAGE_TYPE=auto and an S3 endpoint that refuses connections: it
// must start, save a recording on local disk, serve it, and say degraded.
func TestAutoStorageStartsAndServesWhileS3IsDown(t *testing.T) {
	t.Parallel()
	down := freeAddr(t) // nothing listens there
	s := start(t, "API_AUTH=optional", "STORAGE_TYPE=auto", "S3_ENDPOINT=http://"+down,
		"S3_BUCKET_NAME=recordings", "S3_LEARNER_BUCKET_NAME=layouts", "ACCESS_KEY_ID=test", "SECRET_ACCESS_KEY=test-secret")

	status, body, _ := call(t, "POST", s.auth+"/guest/login", map[string]string{"role": "learner"})
	must200(t, "guest", status, body)
	status, body, _ = call(t, "POST", s.auth+"/auth/register", map[string]string{
		"name": "Ann", "email": "ann@example.com", "password": "Passw0rd!", "repassword": "Passw0rd!", "role": "author"})
	must200(t, "register", status, body)
	status, body, _ = call(t, "POST", s.auth+"/auth/login", map[string]string{"email": "ann@example.com", "password": "Passw0rd!", "role": "author"})
	tok := must200(t, "login", status, body)["access_token"].(string)
	status, body, _ = call(t, "GET", s.auth+"/auth/protected", nil, "Authorization", "Bearer "+tok)
	uid := fmt.Sprint(must200(t, "protected", status, body)["id"])

	status, body, _ = call(t, "POST", s.tutorial+"/tutorial/create", map[string]string{"name": "Offline", "language": "python", "userid": uid})
	tid := must200(t, "create tutorial", status, body)["id"].(string)
	status, body, _ = call(t, "POST", s.tutorial+"/tutorial_section/create", map[string]string{"name": "One", "tutorial_id": tid, "tutorial_type": "Code"})
	sid := must200(t, "create section", status, body)["id"].(string)
	audio := wav()
	uploadRecording(t, s.tutorial, sid, audio)

	status, body, _ = call(t, "GET", s.tutorial+"/tutorial/get/"+tid+"/1/"+uid, nil)
	rec, _ := must200(t, "playback", status, body)["recording"].(string)
	resp, err := http.Get(rec)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, audio) {
		t.Fatalf("recording saved during the S3 outage: %d, %d bytes", resp.StatusCode, len(got))
	}
	status, body, _ = call(t, "GET", s.tutorial+"/api/storage/health", nil)
	if must200(t, "storage health", status, body)["status"] != "degraded" {
		t.Fatalf("storage health during the S3 outage: %v", body)
	}
}
