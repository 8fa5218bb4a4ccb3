package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"
)

const frontend = "http://localhost:3000"

// syncBuffer is a log sink safe for the concurrent writes of a server.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the JSON log lines whose msg is msg.
func (b *syncBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

type testRouter struct {
	*chi.Mux
	logs *syncBuffer
}

// newTestRouter builds the real router with a few routes used across tests.
func newTestRouter(t *testing.T, trusted ...string) *testRouter {
	t.Helper()
	logs := &syncBuffer{}
	var prefixes []netip.Prefix
	for _, p := range trusted {
		prefixes = append(prefixes, netip.MustParsePrefix(p))
	}
	r := NewRouter(Options{
		Service:        "test",
		Logger:         NewLogger(logs, slog.LevelDebug),
		AllowedOrigins: []string{frontend, "https://app.example.org"},
		TrustedProxies: prefixes,
	})
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		JSON(w, http.StatusOK, map[string]string{"message": "hello world"})
	})
	r.Get("/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		JSON(w, http.StatusOK, map[string]string{"id": chi.URLParam(r, "id")})
	})
	r.Post("/echo", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Name  string `json:"name"`
			Count int    `json:"count"`
			Tags  []string
		}
		if err := Decode(r, &body, 64); err != nil {
			Error(w, r, err)
			return
		}
		JSON(w, http.StatusOK, body)
	})
	r.Get("/panic", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "999")
		panic("boom")
	})
	r.Get("/ip", func(w http.ResponseWriter, r *http.Request) {
		JSON(w, http.StatusOK, map[string]string{"ip": ClientIP(r)})
	})
	r.Get("/file", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Content-Type", "audio/wav")
		_, _ = w.Write([]byte("RIFF"))
	})
	r.Get("/empty", func(w http.ResponseWriter, r *http.Request) {})
	return &testRouter{Mux: r, logs: logs}
}

type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (tr *testRouter) do(t *testing.T, method, target string, body io.Reader, headers ...string) response {
	t.Helper()
	req := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "RemoteAddr" {
			req.RemoteAddr = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	tr.ServeHTTP(rec, req)
	res := response{status: rec.Code, header: rec.Header(), raw: rec.Body.Bytes()}
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(res.raw, &res.body); err != nil {
			t.Fatalf("%s %s: JSON content type with a non-JSON body %q", method, target, res.raw)
		}
	}
	return res
}

// assertErrorShape checks the one error shape and nothing but it (plus extra keys).
func assertErrorShape(t *testing.T, res response, status int, msg string, extra ...string) {
	t.Helper()
	if res.status != status {
		t.Fatalf("status = %d, want %d (body %s)", res.status, status, res.raw)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	want := append([]string{"code", "error", "message", "status"}, extra...)
	sort.Strings(want)
	var got []string
	for k := range res.body {
		got = append(got, k)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("keys = %v, want %v (body %s)", got, want, res.raw)
	}
	if res.body["status"] != "error" || res.body["code"] != float64(status) {
		t.Fatalf("status/code wrong: %s", res.raw)
	}
	if msg != "" && (res.body["message"] != msg || res.body["error"] != msg) {
		t.Fatalf("message = %q / error = %q, want %q", res.body["message"], res.body["error"], msg)
	}
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
