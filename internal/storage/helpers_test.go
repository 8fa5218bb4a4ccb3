package storage

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/itss-go/itss/internal/itss"
)

const (
	testBucket       = "itss-recordings"
	testLayoutBucket = "itss-layouts"
	testPartSize     = 64 << 10 // small parts so tests exercise multipart uploads
)

// fakeS3 is gofakes3 served over real HTTP on a fixed address, so it can be
// stopped and started again under the same endpoint with its data kept.
type fakeS3 struct {
	t       testing.TB
	handler http.Handler
	addr    string

	mu  sync.Mutex
	srv *httptest.Server
}

func startFakeS3(t testing.TB) *fakeS3 {
	t.Helper()
	mem := s3mem.New()
	for _, b := range []string{testBucket, testLayoutBucket} {
		if err := mem.CreateBucket(b); err != nil {
			t.Fatalf("create bucket: %v", err)
		}
	}
	f := &fakeS3{t: t, handler: gofakes3.New(mem).Server()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	f.addr = ln.Addr().String()
	f.serve(ln)
	t.Cleanup(f.Stop)
	return f
}

func (f *fakeS3) serve(ln net.Listener) {
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: f.handler}}
	srv.Start()
	f.mu.Lock()
	f.srv = srv
	f.mu.Unlock()
}

func (f *fakeS3) URL() string { return "http://" + f.addr }

// Stop closes the listener and every connection: clients see refused
// connections, as with a store that went away.
func (f *fakeS3) Stop() {
	f.mu.Lock()
	srv := f.srv
	f.srv = nil
	f.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

// Start listens again on the same address, data intact.
func (f *fakeS3) Start() {
	f.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may linger for a moment after Close
		if ln, err = net.Listen("tcp", f.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		f.t.Fatalf("restart fake S3: %v", err)
	}
	f.serve(ln)
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func testOptions(t testing.TB, endpoint string) Options {
	dir := t.TempDir()
	return Options{
		RecordingsPath:  filepath.Join(dir, "recordings"),
		LayoutsPath:     filepath.Join(dir, "layouts"),
		AccessKeyID:     "test",
		SecretAccessKey: "test",
		Bucket:          testBucket,
		LearnerBucket:   testLayoutBucket,
		Region:          "us-east-1",
		Endpoint:        endpoint,
		ForcePathStyle:  true,
		MaxAttempts:     1, // fail fast when the fake store is stopped
		Logger:          testLogger(t),
	}
}

func newTestLocal(t testing.TB) *Local {
	t.Helper()
	l, err := NewLocal(testOptions(t, ""))
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func newTestS3(t testing.TB, f *fakeS3) *S3 {
	t.Helper()
	s, err := NewS3(context.Background(), testOptions(t, f.URL()))
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	s.partSize = testPartSize
	return s
}

func newTestAuto(t testing.TB, f *fakeS3) *Auto {
	t.Helper()
	return newTestAutoWith(t, newTestS3(t, f), newTestLocal(t))
}

func newTestAutoWith(t testing.TB, s *S3, l *Local) *Auto {
	a := NewAuto(s, l, testLogger(t))
	t.Cleanup(func() { a.Close() })
	return a
}

// Ids used across tests; the dashed one checks the 36-character form.
const (
	secA      = "67bc56ba8e8245c9aa2d8b294ed68bf9"
	secB      = "3642e21a42cf4f77a051bcc050a1285b"
	secC      = "c339a37a9fc1445a98de584b696a3d84"
	secDashed = "7c5ffd1b-9067-45e6-9495-db857bc62d03"
	tutID     = "858c03b2fb62409681e60fb11f373d50"
)

func wantCode(t testing.TB, err error, code itss.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %s", code)
	}
	if c := itss.ErrorCode(err); c != code {
		t.Fatalf("got %s (%v), want %s", c, err, code)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// failingReader yields n bytes and then an error, as a client that
// disconnects mid-upload.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	r.n -= k
	return k, nil
}

var errClientGone = errors.New("client went away")

// patternReader yields a deterministic, non-repeating-per-part byte stream
// of n bytes without allocating.
type patternReader struct{ off, n int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n-r.off)
	for i := range k {
		x := r.off + i
		p[i] = byte(x ^ x>>8 ^ x>>16)
	}
	r.off += k
	return int(k), nil
}
