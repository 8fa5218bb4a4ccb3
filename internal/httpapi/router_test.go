package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/itss-go/itss/internal/itss"
)

func TestErrorShape(t *testing.T) {
	t.Parallel()
	tr := newTestRouter(t)
	cases := []struct {
		name           string
		method, target string
		body           string
		status         int
		msg            string
	}{
		{"unknown route is JSON 404", "GET", "/nope", "", 404, "Not found"},
		{"unknown method is JSON 405", "DELETE", "/items/1", "", 405, "Method not allowed"},
		{"panic is JSON 500", "GET", "/panic", "", 500, "Internal error."},
		{"over the limit is 413", "POST", "/echo", `{"name":"` + strings.Repeat("x", 100) + `"}`, 413, "Request body exceeds the limit of 64 bytes"},
		{"malformed JSON is 400", "POST", "/echo", `{"name":`, 400, "Invalid JSON body"},
		{"wrong type is 400", "POST", "/echo", `{"name":5}`, 400, `Field "name" must be a string`},
		{"wrong integer type is 400", "POST", "/echo", `{"count":"5"}`, 400, `Field "count" must be an integer`},
		{"array for an object is 400", "POST", "/echo", `[1]`, 400, "JSON body must be an object"},
		{"trailing data is 400", "POST", "/echo", `{} {}`, 400, "Invalid JSON body"},
		{"empty body is 400", "POST", "/echo", ``, 400, "Request body is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := tr.do(t, c.method, c.target, strings.NewReader(c.body), "Content-Type", "text/plain;charset=UTF-8")
			assertErrorShape(t, res, c.status, c.msg)
		})
	}
}

func TestPanicStackOnlyInLog(t *testing.T) {
	t.Parallel()
	tr := newTestRouter(t)
	res := tr.do(t, "GET", "/panic", nil, "X-Request-ID", "panic-1")
	assertErrorShape(t, res, 500, "Internal error.")
	if strings.Contains(string(res.raw), "boom") || strings.Contains(string(res.raw), "goroutine") {
		t.Fatalf("body leaks the panic: %s", res.raw)
	}
	lines := tr.logs.lines(t, "panic")
	if len(lines) != 1 || lines[0]["panic"] != "boom" || !strings.Contains(lines[0]["stack"].(string), "goroutine") || lines[0]["request_id"] != "panic-1" {
		t.Fatalf("panic log = %v", lines)
	}
}

func TestDecodeIgnoresContentType(t *testing.T) {
	t.Parallel()
	tr := newTestRouter(t)
	for _, ct := range []string{"", "text/plain;charset=UTF-8", "application/json", "application/x-www-form-urlencoded"} {
		res := tr.do(t, "POST", "/echo", strings.NewReader(`{"name":"ada","count":2,"extra":true}`), "Content-Type", ct)
		if res.status != 200 || res.body["name"] != "ada" || res.body["count"] != float64(2) {
			t.Fatalf("Content-Type %q: %d %s", ct, res.status, res.raw)
		}
	}
}

func TestErrorMapsEveryCode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err    error
		status int
		msg    string
	}{
		{itss.Errorf(itss.CodeInvalid, "bad"), 400, "bad"},
		{itss.Errorf(itss.CodeUnauthorized, "who"), 401, "who"},
		{itss.Errorf(itss.CodeForbidden, "no"), 403, "no"},
		{fmt.Errorf("lookup: %w", itss.Errorf(itss.CodeNotFound, "Tutorial not found")), 404, "Tutorial not found"},
		{itss.Errorf(itss.CodeConflict, "taken"), 409, "taken"},
		{itss.Errorf(itss.CodeTooLarge, "big"), 413, "big"},
		{itss.Errorf(itss.CodeRateLimited, "slow down"), 429, "slow down"},
		{itss.Errorf(itss.CodeUnavailable, "Storage unavailable"), 503, "Storage unavailable"},
		{itss.Wrap(itss.CodeInternal, errors.New("db password x"), "secret detail"), 500, "Internal error."},
		{errors.New("sql: connection refused 10.0.0.5"), 500, "Internal error."},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.status), func(t *testing.T) {
			t.Parallel()
			tr := newTestRouter(t)
			tr.Get("/fail", func(w http.ResponseWriter, r *http.Request) { Error(w, r, c.err) })
			res := tr.do(t, "GET", "/fail", nil)
			assertErrorShape(t, res, c.status, c.msg)
			if c.status == 500 && len(tr.logs.lines(t, "internal error")) != 1 {
				t.Fatalf("500 not logged: %s", tr.logs.String())
			}
		})
	}
}

func TestErrorStatusExtraKeys(t *testing.T) {
	t.Parallel()
	tr := newTestRouter(t)
	tr.Post("/run", func(w http.ResponseWriter, r *http.Request) {
		ErrorStatus(w, r, 400, "Unsupported language", map[string]any{"output": "Unsupported language", "code": "ignored"})
	})
	res := tr.do(t, "POST", "/run", nil)
	assertErrorShape(t, res, 400, "Unsupported language", "output")
	if res.body["output"] != "Unsupported language" {
		t.Fatalf("output = %v", res.body["output"])
	}
}

func TestJSONKeepsHTMLAndEndsWithNewline(t *testing.T) {
	t.Parallel()
	tr := newTestRouter(t)
	tr.Get("/html", func(w http.ResponseWriter, r *http.Request) {
		JSON(w, 200, map[string]string{"output": "<b>&</b>"})
	})
	res := tr.do(t, "GET", "/html", nil)
	if string(res.raw) != "{\"output\":\"<b>&</b>\"}\n" {
		t.Fatalf("body = %q", res.raw)
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	t.Parallel()
	tr := newTestRouter(t)
	want := map[string]string{
		"X-Content-Type-Options":    "nosniff",
		"X-Frame-Options":           "DENY",
		"X-XSS-Protection":          "1; mode=block",
		"Strict-Transport-Security": "max-age=31536000; includeSubDomains",
		"Referrer-Policy":           "strict-origin-when-cross-origin",
	}
	for _, c := range []struct{ method, target string }{{"GET", "/"}, {"GET", "/nope"}, {"GET", "/panic"}, {"OPTIONS", "/anything"}, {"GET", "/metrics"}} {
		res := tr.do(t, c.method, c.target, nil, "Origin", frontend, "Access-Control-Request-Method", "GET")
		for k, v := range want {
			if got := res.header.Get(k); got != v {
				t.Errorf("%s %s: %s = %q, want %q", c.method, c.target, k, got, v)
			}
		}
	}
}

func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	tr := newTestRouter(t)
	cases := []struct {
		name, target, origin string
		allowed              bool
	}{
		{"allowed origin on a routed path", "/echo", frontend, true},
		{"allowed origin on an arbitrary path", "/auth/protected/anything", "https://app.example.org", true},
		{"disallowed origin", "/echo", "http://evil.example", false},
		{"origin differing by port", "/echo", "http://localhost:3001", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := tr.do(t, "OPTIONS", c.target, nil, "Origin", c.origin,
				"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
			if res.status != 200 || len(res.raw) != 0 {
				t.Fatalf("preflight = %d %q, want 200 with an empty body", res.status, res.raw)
			}
			h := res.header
			if !c.allowed {
				for k := range h {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Fatalf("disallowed origin got %s", k)
					}
				}
				return
			}
			if h.Get("Access-Control-Allow-Origin") != c.origin || h.Get("Access-Control-Allow-Credentials") != "true" {
				t.Fatalf("ACAO = %q, ACAC = %q", h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"))
			}
			if h.Get("Access-Control-Allow-Methods") != "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT" {
				t.Fatalf("methods = %q", h.Get("Access-Control-Allow-Methods"))
			}
			if h.Get("Access-Control-Allow-Headers") != "authorization,content-type" {
				t.Fatalf("headers = %q", h.Get("Access-Control-Allow-Headers"))
			}
			if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
				t.Fatalf("Vary = %v", h.Values("Vary"))
			}
		})
	}
}

func TestCORSOnResponses(t *testing.T) {
	t.Parallel()
	tr := newTestRouter(t)
	cases := []struct {
		name, target, origin string
		acao, acac           string
	}{
		{"allowed origin is echoed", "/", frontend, frontend, "true"},
		{"allowed origin on a 404", "/nope", frontend, frontend, "true"},
		{"allowed origin on a panic", "/panic", frontend, frontend, "true"},
		{"allowed origin on an empty response", "/empty", frontend, frontend, "true"},
		{"disallowed origin gets nothing", "/", "http://evil.example", "", ""},
		{"no origin gets nothing", "/", "", "", ""},
		{"handler's own ACAO is kept", "/file", frontend, "*", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := tr.do(t, "GET", c.target, nil, "Origin", c.origin)
			if got := res.header.Get("Access-Control-Allow-Origin"); got != c.acao {
				t.Fatalf("ACAO = %q, want %q", got, c.acao)
			}
			if got := res.header.Get("Access-Control-Allow-Credentials"); got != c.acac {
				t.Fatalf("ACAC = %q, want %q", got, c.acac)
			}
		})
	}
}

func TestHeadServedByGetRoute(t *testing.T) {
	t.Parallel()
	tr := newTestRouter(t)
	if res := tr.do(t, "HEAD", "/items/7", nil); res.status != 200 {
		t.Fatalf("HEAD = %d", res.status)
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	tr := newTestRouter(t)
	var seen string
	tr.Get("/rid", func(w http.ResponseWriter, r *http.Request) {
		seen = itss.RequestIDFrom(r.Context())
		JSON(w, 200, nil)
	})
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	cases := []struct {
		name, in string
		keep     bool
	}{
		{"sane id is honoured", "abc-123.DEF_4:5", true},
		{"missing id is generated", "", false},
		{"id with spaces is replaced", "a b", false},
		{"id with a newline escape is replaced", "a%0d%0ab", false},
		{"overlong id is replaced", strings.Repeat("a", 129), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := tr.do(t, "GET", "/rid", nil, "X-Request-ID", c.in)
			got := res.header.Get("X-Request-ID")
			if got != seen {
				t.Fatalf("header %q, context %q", got, seen)
			}
			if c.keep && got != c.in || !c.keep && !hex32.MatchString(got) {
				t.Fatalf("request id = %q for input %q", got, c.in)
			}
		})
	}
}

func TestAccessLogLine(t *testing.T) {
	t.Parallel()
	tr := newTestRouter(t)
	tr.do(t, "GET", "/items/42", nil, "X-Request-ID", "log-1", "RemoteAddr", "203.0.113.9:5555")
	lines := tr.logs.lines(t, "request")
	if len(lines) != 1 {
		t.Fatalf("lines = %v", lines)
	}
	l := lines[0]
	want := map[string]any{"method": "GET", "route": "/items/{id}", "path": "/items/42", "status": float64(200),
		"request_id": "log-1", "client_ip": "203.0.113.9", "level": "INFO"}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("%s = %v, want %v", k, l[k], v)
		}
	}
	if l["bytes"].(float64) <= 0 {
		t.Errorf("bytes = %v", l["bytes"])
	}
	if _, ok := l["duration_ms"].(float64); !ok {
		t.Errorf("duration_ms = %v", l["duration_ms"])
	}
}

func TestClientIPFromTrustedProxiesOnly(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, remote, xff string
		trusted           []string
		want              string
	}{
		{"no proxies configured ignores XFF", "203.0.113.9:1", "198.51.100.1", nil, "203.0.113.9"},
		{"untrusted peer's XFF is ignored", "203.0.113.9:1", "198.51.100.1", []string{"10.0.0.0/8"}, "203.0.113.9"},
		{"trusted proxy's XFF is believed", "10.0.0.2:1", "198.51.100.1", []string{"10.0.0.0/8"}, "198.51.100.1"},
		{"spoofed left entries are skipped", "10.0.0.2:1", "1.1.1.1, 198.51.100.1", []string{"10.0.0.0/8"}, "198.51.100.1"},
		{"trusted hops are walked from the right", "10.0.0.2:1", "198.51.100.1, 10.0.0.7, 10.0.0.3", []string{"10.0.0.0/8"}, "198.51.100.1"},
		{"all trusted gives the leftmost", "10.0.0.2:1", "10.0.0.9, 10.0.0.3", []string{"10.0.0.0/8"}, "10.0.0.9"},
		{"garbage stops the walk at the last good hop", "10.0.0.2:1", "198.51.100.1, not-an-ip", []string{"10.0.0.0/8"}, "10.0.0.2"},
		{"entries with ports are understood", "10.0.0.2:1", "198.51.100.1:4444", []string{"10.0.0.0/8"}, "198.51.100.1"},
		{"ipv6 proxy and client", "[fd00::1]:1", "2001:db8::5", []string{"fd00::/8"}, "2001:db8::5"},
		{"single-address proxy", "192.168.1.7:1", "198.51.100.1", []string{"192.168.1.7/32"}, "198.51.100.1"},
		{"trusted proxy without XFF is the client", "10.0.0.2:1", "", []string{"10.0.0.0/8"}, "10.0.0.2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tr := newTestRouter(t, c.trusted...)
			res := tr.do(t, "GET", "/ip", nil, "RemoteAddr", c.remote, "X-Forwarded-For", c.xff)
			if res.body["ip"] != c.want {
				t.Fatalf("client ip = %v, want %s", res.body["ip"], c.want)
			}
		})
	}
}

func TestClientIPOutsideRouterIsPeer(t *testing.T) {
	t.Parallel()
	req, _ := http.NewRequest("GET", "/", nil)
	req.RemoteAddr = "[::ffff:192.0.2.1]:80"
	req.Header.Set("X-Forwarded-For", "1.2.3.4")
	if got := ClientIP(req); got != "192.0.2.1" {
		t.Fatalf("ClientIP = %q", got)
	}
}

func TestEventLine(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	log := NewLogger(logs, slog.LevelInfo)
	ctx := itss.WithRequestID(context.Background(), "ev-1")
	ctx = itss.WithIdentity(ctx, itss.Identity{UserID: 7, Role: itss.RoleAuthor})
	Event(ctx, log, "Create Tutorial", "tutorial_id", "abc")
	Event(itss.WithRequestID(context.Background(), "ev-2"), log, "Open Tutorial", "user_id", int64(9), slog.String("role", "learner"))
	lines := logs.lines(t, "event")
	if len(lines) != 2 {
		t.Fatalf("lines = %s", logs.String())
	}
	want := []map[string]any{
		{"event": "Create Tutorial", "request_id": "ev-1", "user_id": float64(7), "role": "author", "tutorial_id": "abc"},
		{"event": "Open Tutorial", "request_id": "ev-2", "user_id": float64(9), "role": "learner"},
	}
	for i, w := range want {
		for k, v := range w {
			if lines[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, lines[i][k], v)
			}
		}
	}
	if n := strings.Count(logs.String(), `"user_id"`); n != 2 {
		t.Errorf("user_id appears %d times: %s", n, logs.String())
	}
}
