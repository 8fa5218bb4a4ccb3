package runapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/itss-go/itss/internal/httpapi"
	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/openapi"
	"github.com/itss-go/itss/internal/openapi/openapitest"
	"github.com/itss-go/itss/internal/runner"
)

const testRunTimeout = 3 * time.Second

var (
	sharedOnce sync.Once
	sharedR    *runner.Runner
	sharedErr  error
	sharedDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedR != nil {
		sharedR.Close()
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// testBwrap simulates a host without bubblewrap under
// ITSS_TEST_WITHOUT_BWRAP=1 (see the runner package's tests).
func testBwrap() string {
	if os.Getenv("ITSS_TEST_WITHOUT_BWRAP") == "1" {
		return "/nonexistent/bwrap"
	}
	return ""
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func sharedRunner(t testing.TB) *runner.Runner {
	t.Helper()
	sharedOnce.Do(func() {
		if sharedDir, sharedErr = os.MkdirTemp("", "itss-runapi-test-"); sharedErr != nil {
			return
		}
		sharedR, sharedErr = runner.New(context.Background(), runner.Options{
			DataDir: sharedDir, RunTimeout: testRunTimeout, CompileTimeout: 20 * time.Second,
			Workers: 2, Queue: 1000, Logger: quietLogger(), BwrapBin: testBwrap(),
		})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedR
}

// requireRuntimes skips a case whose interpreters this host lacks, with the
// reason, or fails it when ITSS_REQUIRE_RUNTIMES=1 says the host must have
// them (CI does).
func requireRuntimes(t testing.TB, langs ...string) {
	t.Helper()
	r := sharedRunner(t)
	for _, lang := range langs {
		if r.Version(lang) != nil {
			continue
		}
		msg := lang + " is not installed on this host"
		if os.Getenv("ITSS_REQUIRE_RUNTIMES") == "1" {
			t.Fatal("ITSS_REQUIRE_RUNTIMES=1: " + msg)
		}
		t.Skip(msg)
	}
}

// testIdentity stands in for the tutorial service's identity middleware:
// X-Test-User: <id> makes the request come from that user.
func testIdentity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get("X-Test-User"); v != "" {
			id, _ := strconv.ParseInt(v, 10, 64)
			r = r.WithContext(itss.WithIdentity(r.Context(), itss.Identity{UserID: id, Role: itss.RoleLearner}))
		}
		next.ServeHTTP(w, r)
	})
}

func newServer(t testing.TB, o Options) *httptest.Server {
	t.Helper()
	if o.Runner == nil {
		o.Runner = sharedRunner(t)
	}
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	r := httpapi.NewRouter(httpapi.Options{Service: "tutorial", Logger: o.Logger})
	r.Group(func(r chi.Router) {
		r.Use(testIdentity)
		Mount(r, o)
		r.Get("/health", httpapi.Health(func() map[string]any { return map[string]any{"sandbox": o.Runner.Isolation()} }))
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// apiDoc validates every response of the run routes against the tutorial
// service's OpenAPI document.
var apiDoc = sync.OnceValues(func() (*openapitest.Validator, error) {
	return openapitest.Load(openapi.Tutorial())
})

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func post(t testing.TB, srv *httptest.Server, path, body string, header ...string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	// The frontend sends JSON as text/plain.
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if _, bench := t.(*testing.B); !bench {
		v, err := apiDoc()
		if err != nil {
			t.Fatalf("OpenAPI document: %v", err)
		}
		v.Check(t, req, resp, raw)
	}
	rep := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &rep.body); err != nil {
		t.Fatalf("%s: body is not a JSON object: %q", path, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type %q", path, ct)
	}
	return rep
}

func script(data, input, filename string) string {
	m := map[string]any{"data": data, "input": input}
	if filename != "" {
		m["filename"] = filename
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func keys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

// TestGoldenRunAndCompileShapes replays the original system's recorded
// requests (shared/golden 65-84) and checks the answers keep their shapes,
// with the changes of API.md A10: no blocklist, stdout then stderr on
// failure, temporary names replaced, Java files named after the public class.
func TestGoldenRunAndCompileShapes(t *testing.T) {
	requireRuntimes(t, runner.Python, runner.Java, runner.JavaScript)
	t.Parallel()
	srv := newServer(t, Options{})
	javaMain := "public class Main {\n  public static void main(String[] args) {\n    System.out.println(1);\n  }\n}"
	cases := []struct {
		name, path, body string
		status           int
		keys             []string
		output           string // exact, unless prefix is set
		prefix           bool
	}{
		{"65 python", "/run_script/python", script("print(1)", "", "main"), 200, []string{"output", "time"}, "1\n", false},
		{"66 python builtins input now allowed", "/run_script/python", script("x = int(__builtins__.input())\nprint(x * 2)", "21\n", "main"), 200, []string{"output", "time"}, "42\n", false},
		{"67 python stdin from sys", "/run_script/python", script("from sys import stdin\nfor l in stdin:\n    print(l.strip().upper())", "abc\ndef\n", "main"), 200, []string{"output", "time"}, "ABC\nDEF\n", false},
		{"68 python fileinput now allowed", "/run_script/python", script("import fileinput\nfor l in fileinput.input():\n    print(l.strip().upper())", "abc\n", "main"), 200, []string{"output", "time"}, "ABC\n", false},
		{"69 python error names main.py", "/run_script/python", script("print(undefined_name)", "", "main"), 200, []string{"output"},
			"Traceback (most recent call last):\n  File \"main.py\", line 1, in <module>\n    print(undefined_name)\n          ^^^^^^^^^^^^^^\nNameError: name 'undefined_name' is not defined\n", false},
		{"70 python import os now allowed", "/run_script/python", script("import os\nprint(os.name)", "", "main"), 200, []string{"output", "time"}, "posix\n", false},
		{"71 python input() now allowed", "/run_script/python", script("name = input()\nprint(name)", "bob\n", "main"), 200, []string{"output", "time"}, "bob\n", false},
		{"72 bad filename is 400", "/run_script/python", script("print(1)", "", "../x"), 400, []string{"code", "error", "message", "output", "status"}, "Invalid filename", false},
		{"72b empty filename is 400", "/run_script/python", `{"data":"print(1)","input":"","filename":""}`, 400, []string{"code", "error", "message", "output", "status"}, "Invalid filename", false},
		{"73 no filename", "/run_script/python", script("print(1)", "", ""), 200, []string{"output", "time"}, "1\n", false},
		{"74 timeout", "/run_script/python", script("while True:\n    pass", "", "main"), 200, []string{"output"}, "Script execution timeout after 3 seconds", false},
		{"75 java", "/run_script/java", script(javaMain, "", "Main"), 200, []string{"output", "time"}, "1\n\r\n", false},
		{"76 java compile error", "/run_script/java", script(strings.Replace(javaMain, "(1);", "(1)", 1), "", "Main"), 200, []string{"output"},
			"Main.java:3: error: ';' expected\n    System.out.println(1)\n                         ^\n1 error\nerror: compilation failed\n", false},
		{"77 javascript", "/run_script/javascript", script("console.log(1)", "", "main"), 200, []string{"output", "time"}, "1\n", false},
		{"78 javascript error names main.js", "/run_script/javascript", script("console.log(y)", "", "main"), 200, []string{"output"},
			"main.js:1\nconsole.log(y)\n            ^\n\nReferenceError: y is not defined\n    at Object.<anonymous> (main.js:1:13)\n", true},
		{"79 ruby unsupported", "/run_script/ruby", script("puts 1", "", "main"), 400, []string{"code", "error", "message", "output", "status"}, "Unsupported language", false},
		{"80 empty data", "/run_script/python", script("", "", "main"), 400, []string{"code", "error", "message", "output", "status"}, "Script content is empty", false},
		{"81 compile java succeeds with a public class", "/compile_script/java", script(javaMain, "", "Main"), 200, []string{"output", "success", "time"}, "Compilation successful", false},
		{"82 compile java error", "/compile_script/java", script("public class Main { void f() { int x = \"s\"; } }", "", "Main"), 200, []string{"output", "success"},
			"Main.java:1: error: incompatible types: String cannot be converted to int\npublic class Main { void f() { int x = \"s\"; } }\n                                       ^\n1 error\n", false},
		{"83 compile python", "/compile_script/python", script("print(1)", "", "main"), 200, []string{"output", "success"}, "Python is an interpreted language - no compilation needed", false},
		{"84 compile javascript", "/compile_script/javascript", script("console.log(1)", "", "main"), 200, []string{"output", "success"}, "JavaScript is an interpreted language - no compilation needed", false},
		{"compile ruby unsupported", "/compile_script/ruby", script("puts 1", "", "main"), 400, []string{"code", "error", "message", "output", "status"}, "Unsupported language", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rep := post(t, srv, c.path, c.body)
			if rep.status != c.status {
				t.Fatalf("status %d, want %d: %s", rep.status, c.status, rep.raw)
			}
			if got := keys(rep.body); !slices.Equal(got, c.keys) {
				t.Fatalf("keys %v, want %v: %s", got, c.keys, rep.raw)
			}
			out, ok := rep.body["output"].(string)
			if !ok {
				t.Fatalf("output is not a string: %s", rep.raw)
			}
			if (c.prefix && !strings.HasPrefix(out, c.output)) || (!c.prefix && out != c.output) {
				t.Fatalf("output %q, want %q", out, c.output)
			}
			if tm, ok := rep.body["time"]; ok {
				if f, ok := tm.(float64); !ok || f <= 0 {
					t.Fatalf("time %v is not a positive number", tm)
				}
			}
			if s, ok := rep.body["success"]; ok {
				if _, ok := s.(bool); !ok {
					t.Fatalf("success %v is not a boolean", s)
				}
			}
			if c.status >= 400 && (rep.body["status"] != "error" || rep.body["code"] != float64(c.status) || rep.body["message"] != out || rep.body["error"] != out) {
				t.Fatalf("not the one error shape: %s", rep.raw)
			}
		})
	}
}

func TestRunRejectsBadBodiesWithOutput(t *testing.T) {
	t.Parallel()
	srv := newServer(t, Options{})
	big := strings.Repeat("#", 64<<10+1)
	cases := []struct {
		name, path, body string
		status           int
	}{
		{"malformed json is 400", "/run_script/python", `{"data": `, 400},
		{"data of wrong type is 400", "/run_script/python", `{"data": 5}`, 400},
		{"empty body is 400", "/run_script/python", ``, 400},
		{"whitespace source is 400", "/run_script/python", script("  \n", "", ""), 400},
		{"source over 64 KiB is 413", "/run_script/python", script(big, "", ""), 413},
		{"stdin over 64 KiB is 413", "/run_script/python", script("pass", strings.Repeat("x", 64<<10+1), ""), 413},
		// The name replaces every temporary name the program prints: a long
		// one would multiply a 64 KiB output into hundreds of megabytes.
		{"filename over 255 bytes is 400", "/run_script/python", script("print(1)", "", strings.Repeat("n", 256)), 400},
		{"compile filename over 255 bytes is 400", "/compile_script/java", script("class A {}", "", strings.Repeat("n", 256)), 400},
		{"body over 1 MiB is 413", "/run_script/python", `{"data":"` + strings.Repeat("a", 1<<20) + `"}`, 413},
		{"execute unsupported language is 400", "/code/execute", `{"language":"cobol","code":"x"}`, 400},
		{"execute malformed is 400", "/code/execute", `[1]`, 400},
		{"execute source over 64 KiB is 413", "/code/execute", `{"language":"python","code":"` + big + `"}`, 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rep := post(t, srv, c.path, c.body)
			out, ok := rep.body["output"].(string)
			if rep.status != c.status || !ok || out == "" || rep.body["message"] != out || rep.body["status"] != "error" {
				t.Fatalf("got %d %s", rep.status, rep.raw)
			}
		})
	}
}

func TestExecuteShapes(t *testing.T) {
	requireRuntimes(t, runner.Python, runner.JavaScript)
	t.Parallel()
	srv := newServer(t, Options{})
	exec := func(lang, code, input string) reply {
		b, _ := json.Marshal(map[string]string{"language": lang, "code": code, "input": input})
		return post(t, srv, "/code/execute", string(b))
	}
	want := []string{"exit_code", "output", "stderr", "stdout", "time", "timed_out", "truncated"}
	t.Run("success", func(t *testing.T) {
		t.Parallel()
		rep := exec("python", "import sys\nprint(input() + '!')\nprint('warn', file=sys.stderr)", "hi\n")
		if rep.status != 200 || !slices.Equal(keys(rep.body), want) {
			t.Fatalf("%d %s", rep.status, rep.raw)
		}
		if rep.body["stdout"] != "hi!\n" || rep.body["stderr"] != "warn\n" || rep.body["output"] != "hi!\n" ||
			rep.body["exit_code"] != float64(0) || rep.body["timed_out"] != false || rep.body["truncated"] != false {
			t.Fatalf("%s", rep.raw)
		}
	})
	t.Run("failure shows stdout then stderr", func(t *testing.T) {
		t.Parallel()
		rep := exec("javascript", "console.log('before'); process.exit(3)", "")
		if rep.body["exit_code"] != float64(3) || rep.body["output"] != "before\n" || rep.body["stdout"] != "before\n" {
			t.Fatalf("%s", rep.raw)
		}
		rep = exec("python", "print('partial')\nraise SystemExit('boom')", "")
		if rep.body["exit_code"] != float64(1) || rep.body["output"] != "partial\nboom\n" {
			t.Fatalf("%s", rep.raw)
		}
	})
	t.Run("timeout has null exit code", func(t *testing.T) {
		t.Parallel()
		rep := exec("python", "import time\ntime.sleep(60)", "")
		if rep.body["timed_out"] != true || rep.body["exit_code"] != nil || rep.body["output"] != "Script execution timeout after 3 seconds" {
			t.Fatalf("%s", rep.raw)
		}
	})
	t.Run("flood is truncated", func(t *testing.T) {
		t.Parallel()
		rep := exec("python", "print('x' * 200000)", "")
		if rep.body["truncated"] != true || len(rep.body["stdout"].(string)) != 64<<10 || !strings.HasSuffix(rep.body["output"].(string), "[Output truncated]\n") {
			t.Fatalf("%.300s", rep.raw)
		}
	})
	t.Run("java compile error", func(t *testing.T) {
		t.Parallel()
		rep := exec("java", "public class Oops { void f() { undefined(); } }", "")
		if rep.body["exit_code"] == float64(0) || !strings.Contains(rep.body["stderr"].(string), "Oops.java:1: error: cannot find symbol") {
			t.Fatalf("%s", rep.raw)
		}
	})
}

func TestAnonymousRunsNeedIdentityInRequiredMode(t *testing.T) {
	requireRuntimes(t, runner.Python)
	t.Parallel()
	srv := newServer(t, Options{RequireIdentity: true})
	for _, path := range []string{"/run_script/python", "/compile_script/java", "/code/execute"} {
		body := script("print(1)", "", "")
		if path == "/code/execute" {
			body = `{"language":"python","code":"print(1)"}`
		}
		rep := post(t, srv, path, body)
		if rep.status != 401 || rep.body["output"] != "Authentication required" {
			t.Fatalf("%s anonymous: %d %s", path, rep.status, rep.raw)
		}
	}
	rep := post(t, srv, "/run_script/python", script("print(1)", "", ""), "X-Test-User", "7")
	if rep.status != 200 || rep.body["output"] != "1\n" {
		t.Fatalf("with identity: %d %s", rep.status, rep.raw)
	}
}

func TestRunsAreRateLimitedPerIdentityOrIP(t *testing.T) {
	requireRuntimes(t, runner.Python)
	t.Parallel()
	lim := httpapi.NewMemoryLimiter()
	srv := newServer(t, Options{Limiter: lim})
	ctx := context.Background()
	// Spend the anonymous client's budget without running 30 programs.
	for range RunLimit {
		lim.Allow(ctx, "run:ip:127.0.0.1", RunLimit, RunWindow)
	}
	rep := post(t, srv, "/run_script/python", script("print(1)", "", ""))
	if rep.status != 429 || rep.header.Get("Retry-After") == "" || !strings.HasPrefix(rep.body["output"].(string), "Too many runs") {
		t.Fatalf("over the limit: %d %v %s", rep.status, rep.header, rep.raw)
	}
	rep = post(t, srv, "/code/execute", `{"language":"python","code":"print(1)"}`)
	if rep.status != 429 {
		t.Fatalf("execute over the limit: %d %s", rep.status, rep.raw)
	}
	// Compiling interpreted languages costs nothing and is not counted.
	if rep = post(t, srv, "/compile_script/python", script("print(1)", "", "")); rep.status != 200 {
		t.Fatalf("python compile: %d %s", rep.status, rep.raw)
	}
	// A signed-in user has a budget of their own.
	if rep = post(t, srv, "/run_script/python", script("print(1)", "", ""), "X-Test-User", "42"); rep.status != 200 {
		t.Fatalf("identity budget: %d %s", rep.status, rep.raw)
	}
}

func TestFullPoolAnswers429AtOnceAndDisconnectCancels(t *testing.T) {
	requireRuntimes(t, runner.Python)
	t.Parallel()
	rn, err := runner.New(context.Background(), runner.Options{
		DataDir: t.TempDir(), RunTimeout: 20 * time.Second, Workers: 1, Queue: 1, Logger: quietLogger(), BwrapBin: testBwrap(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rn.Close() })
	srv := newServer(t, Options{Runner: rn})

	// Two clients fill the worker and the queue, then hang up.
	ctx, hangUp := context.WithCancel(context.Background())
	defer hangUp()
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/run_script/python",
				strings.NewReader(script("import time\ntime.sleep(60)", "", "")))
			if resp, err := srv.Client().Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	waitFor(t, "pool full", func() bool { running, queued := rn.Busy(); return running == 1 && queued == 1 })

	rep := post(t, srv, "/run_script/python", script("print(1)", "", ""))
	if rep.status != 429 || rep.header.Get("Retry-After") != "1" || rep.body["output"] == "" {
		t.Fatalf("full pool: %d %v %s", rep.status, rep.header, rep.raw)
	}
	// The server still answers other requests at once.
	resp, err := srv.Client().Get(srv.URL + "/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health while saturated: %v %v", err, resp)
	}
	resp.Body.Close()

	hangUp()
	wg.Wait()
	waitFor(t, "jobs cancelled", func() bool { running, queued := rn.Busy(); return running == 0 && queued == 0 })
}

func TestSandboxRequiredWithoutBwrapAnswers503(t *testing.T) {
	t.Parallel()
	rn, err := runner.New(context.Background(), runner.Options{
		DataDir: t.TempDir(), Sandbox: runner.SandboxRequired, BwrapBin: "/nonexistent/bwrap", Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rn.Close() })
	srv := newServer(t, Options{Runner: rn})
	for _, path := range []string{"/run_script/python", "/compile_script/java"} {
		rep := post(t, srv, path, script("print(1)", "", ""))
		if rep.status != 503 || !strings.Contains(rep.body["output"].(string), "unavailable") {
			t.Fatalf("%s: %d %s", path, rep.status, rep.raw)
		}
	}
}

func TestEachRunIsLoggedAsAnEventWithoutTheSource(t *testing.T) {
	requireRuntimes(t, runner.Python)
	t.Parallel()
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	srv := newServer(t, Options{Logger: log})
	secret := "print('SOURCE-MARKER-" + strconv.Itoa(os.Getpid()) + "')"
	post(t, srv, "/run_script/python", script(secret, "", ""))
	post(t, srv, "/run_script/python", script("while True: pass", "", ""))
	post(t, srv, "/run_script/ruby", script("puts 1", "", ""))

	var events []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["event"] == "Run Script" {
			events = append(events, m)
		}
	}
	if strings.Contains(buf.String(), "SOURCE-MARKER") {
		t.Fatal("the source reached the log")
	}
	outcomes := map[string]map[string]any{}
	for _, e := range events {
		outcomes[fmt.Sprint(e["outcome"])] = e
	}
	ok, timeout, rejected := outcomes["ok"], outcomes["timeout"], outcomes["rejected"]
	if ok == nil || timeout == nil || rejected == nil {
		t.Fatalf("events: %v", events)
	}
	if ok["language"] != "python" || ok["duration_ms"] == nil || ok["exit_code"] != float64(0) {
		t.Fatalf("ok event: %v", ok)
	}
	if limits, _ := timeout["limits"].([]any); !slices.Contains(limits, any("wall")) {
		t.Fatalf("timeout event lacks the wall limit: %v", timeout)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
