package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	tr := newTestRouter(t)
	tr.Get("/health", Health(func() map[string]any { return map[string]any{"isolation": "off", "status": "overridden?"} }))
	res := tr.do(t, "GET", "/health", nil)
	if res.status != 200 || res.body["status"] != "ok" || res.body["isolation"] != "off" {
		t.Fatalf("health = %d %s", res.status, res.raw)
	}
}

func TestReady(t *testing.T) {
	t.Parallel()
	ok := Check{Name: "database", Fn: func(context.Context) error { return nil }}
	bad := Check{Name: "storage", Fn: func(context.Context) error { return errors.New("dial tcp 10.1.2.3:9000: refused") }}
	hung := Check{Name: "redis", Fn: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}

	tr := newTestRouter(t)
	tr.Get("/ready", Ready(ok))
	tr.Get("/ready-bad", Ready(ok, bad))
	tr.Get("/ready-hung", Ready(hung, ok))

	res := tr.do(t, "GET", "/ready", nil)
	if res.status != 200 || res.body["status"] != "ready" {
		t.Fatalf("ready = %d %s", res.status, res.raw)
	}

	res = tr.do(t, "GET", "/ready-bad", nil)
	assertErrorShape(t, res, 503, "Not ready: storage failed", "checks")
	checks := res.body["checks"].(map[string]any)
	if checks["database"] != "ok" || checks["storage"] != "failed" {
		t.Fatalf("checks = %v", checks)
	}
	if strings.Contains(string(res.raw), "10.1.2.3") {
		t.Fatalf("503 leaks the cause: %s", res.raw)
	}
	if !strings.Contains(tr.logs.String(), "10.1.2.3") {
		t.Fatalf("cause not logged: %s", tr.logs.String())
	}

	// A check that never returns is cut off by its timeout; the request's
	// own deadline makes that quick here.
	req, _ := http.NewRequest("GET", "/ready-hung", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	rec := newRecorder()
	tr.ServeHTTP(rec, req.WithContext(ctx))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "Not ready: redis failed") {
		t.Fatalf("hung check = %d %s", rec.Code, rec.Body)
	}
}

func TestMetricsExposed(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	r := NewRouter(Options{Service: "auth", Logger: slog.New(slog.DiscardHandler), Registry: reg})
	r.Get("/items/{id}", func(w http.ResponseWriter, r *http.Request) { JSON(w, 200, nil) })
	tr := &testRouter{Mux: r, logs: &syncBuffer{}}
	tr.do(t, "GET", "/items/1", nil)
	tr.do(t, "GET", "/items/2", nil)
	tr.do(t, "GET", "/missing/3", nil)
	res := tr.do(t, "GET", "/metrics", nil)
	if res.status != 200 {
		t.Fatalf("metrics = %d", res.status)
	}
	body := string(res.raw)
	for _, want := range []string{
		`http_requests_total{method="GET",route="/items/{id}",service="auth",status="200"} 2`,
		`http_requests_total{method="GET",route="unmatched",service="auth",status="404"} 1`,
		`http_request_duration_seconds_bucket{method="GET",route="/items/{id}",service="auth",le="+Inf"} 2`,
		"go_goroutines",
		"process_cpu_seconds_total",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Paths with ids never become label values.
	if strings.Contains(body, "/items/1") {
		t.Error("raw path used as a label")
	}
	// A second router on its own registry does not collide.
	NewRouter(Options{Logger: slog.New(slog.DiscardHandler)})
	// Two routers sharing one registry reuse the collectors.
	NewRouter(Options{Service: "auth", Logger: slog.New(slog.DiscardHandler), Registry: reg})
}

func TestLimitBody(t *testing.T) {
	t.Parallel()
	tr := newTestRouter(t)
	tr.With(LimitBody(10)).Post("/upload", func(w http.ResponseWriter, r *http.Request) {
		b, err := ReadBody(r, 1<<20)
		if err != nil {
			Error(w, r, err)
			return
		}
		JSON(w, 200, map[string]int{"n": len(b)})
	})
	if res := tr.do(t, "POST", "/upload", strings.NewReader("0123456789")); res.status != 200 {
		t.Fatalf("at the limit = %d", res.status)
	}
	assertErrorShape(t, tr.do(t, "POST", "/upload", strings.NewReader("0123456789A")), 413, "Request body exceeds the limit of 10 bytes")
	// Without a Content-Length the reader itself stops at the limit.
	req, _ := http.NewRequest("POST", "/upload", io.MultiReader(strings.NewReader("0123456789"), strings.NewReader("ABC")))
	req.ContentLength = -1
	rec := newRecorder()
	tr.ServeHTTP(rec, req)
	if rec.Code != 413 {
		t.Fatalf("streamed over the limit = %d %s", rec.Code, rec.Body)
	}
}

func TestServeShutsDownGracefully(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ServeListener(ctx, ln, h, slog.New(slog.DiscardHandler), ServerOptions{})
	}()

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		res, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		got <- result{string(b), err}
	}()
	<-entered
	cancel() // as SIGTERM would
	// Wait until the listener is closed, i.e. the shutdown has begun while
	// the request is still in its handler…
	for {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(time.Millisecond)
	}
	// …then the in-flight request still completes.
	close(release)
	if r := <-got; r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request = %q, %v", r.body, r.err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v, want nil after a graceful shutdown", err)
	}
}

func TestServeReportsListenErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = Serve(context.Background(), ln.Addr().String(), http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("Serve on a busy port = %v", err)
	}
}

func TestDefaultServerOptions(t *testing.T) {
	t.Parallel()
	o := ServerOptions{WriteTimeout: time.Hour}.withDefaults()
	if o.ReadHeaderTimeout != 5*time.Second || o.IdleTimeout != 120*time.Second || o.ShutdownTimeout != 20*time.Second ||
		o.ReadTimeout != 15*time.Minute || o.WriteTimeout != time.Hour {
		t.Fatalf("options = %+v", o)
	}
}
