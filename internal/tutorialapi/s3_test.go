package tutorialapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/itss-go/itss/internal/sample"
	"github.com/itss-go/itss/internal/storage"
)

// newS3Storage serves an in-memory S3 over real HTTP and returns a backend
// of the given type ("s3" or "auto") on it.
func newS3Storage(t testing.TB, typ string) storage.Backend {
	t.Helper()
	mem := s3mem.New()
	for _, b := range []string{"recordings", "layouts"} {
		must(t, mem.CreateBucket(b))
	}
	srv := httptest.NewServer(gofakes3.New(mem).Server())
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	b, err := storage.New(context.Background(), storage.Options{Type: typ, Bucket: "recordings",
		LearnerBucket: "layouts", Region: "us-east-1", Endpoint: srv.URL, ForcePathStyle: true,
		AccessKeyID: "test", SecretAccessKey: "test", MaxAttempts: 1,
		RecordingsPath: filepath.Join(dir, "recordings"), LayoutsPath: filepath.Join(dir, "layouts")})
	must(t, err)
	return b
}

func TestS3RecordingsArePresignedAndUploadsAreAtomic(t *testing.T) {
	t.Parallel()
	files := newS3Storage(t, "s3")
	e := newEnv(t, storetestOpen(t), envOptions{files: files})
	f := e.newTutorial(true)
	wav, err := files.ReadFile(t.Context(), f.code, fileRecording)
	must(t, err)

	m := wantStatus(t, e.req("GET", fmt.Sprintf("/tutorial/get/%s/1/%d", f.tid, e.learner), nil, learnerC), 200)
	rec, _ := m["recording"].(string)
	if !strings.Contains(rec, "X-Amz-Signature=") || strings.Contains(rec, "/api/files/") {
		t.Fatalf("recording %q is not a presigned S3 URL", rec)
	}
	get := func(u string, hdr ...string) *http.Response {
		req, err := http.NewRequest("GET", u, nil)
		must(t, err)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := get(rec)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(body, wav) {
		t.Fatalf("presigned GET: %d, %d bytes", resp.StatusCode, len(body))
	}
	sec := wantStatus(t, e.req("GET", "/tutorial_section/get/"+f.code, nil, ownerC), 200)
	if !strings.Contains(sec["recording"].(string), "X-Amz-Signature=") {
		t.Fatalf("editor recording %q", sec["recording"])
	}
	// /api/files sends whoever may read to the store.
	w := e.req("GET", "/api/files/"+f.code+"/recording.wav", nil, learnerC)
	if w.Code != http.StatusFound || !strings.Contains(w.Header().Get("Location"), "X-Amz-Signature=") {
		t.Fatalf("/api/files on S3: %d %v", w.Code, w.Header())
	}

	// A cut-off upload leaves the stored set as it was.
	cut := recordingFields(f.code, nil)
	cut = append(cut, field{"file", &failAfter{r: strings.NewReader(strings.Repeat("QUJD", 200000)), n: 300000}})
	if _, err := e.svc.SaveRecording(t.Context(), e.ident(ownerC), memFields(cut)); err == nil {
		t.Fatal("cut-off upload accepted")
	}
	after, err := files.ReadFile(t.Context(), f.code, fileRecording)
	if err != nil || !bytes.Equal(after, wav) {
		t.Fatalf("recording changed by a failed upload (%v)", err)
	}
	// A complete one replaces it.
	postUpload(e, recordingFields(f.code, testWAV(777)), ownerC)
	after, err = files.ReadFile(t.Context(), f.code, fileRecording)
	if err != nil || !bytes.Equal(after, testWAV(777)) {
		t.Fatalf("recording not replaced (%v)", err)
	}
	// Layouts live in the second bucket.
	wantStatus(t, e.req("POST", "/save_learner_layout", map[string]any{"userid": e.learner, "tutorialid": f.tid,
		"role": "learner", "layout": map[string]any{"dockbox": map[string]any{}}}, learnerC), 200)
	l := wantStatus(t, e.req("POST", "/get_learner_layout", map[string]any{"userid": e.learner, "tutorialid": f.tid,
		"role": "learner"}, learnerC), 200)
	if l["layout"] != `{"dockbox":{}}` {
		t.Fatalf("layout %v", l["layout"])
	}
	h := wantStatus(t, e.req("GET", "/api/storage/health", nil, ownerC), 200)
	if h["backend_type"] != "s3" {
		t.Fatalf("health %v", h)
	}
}

func TestS3SampleCopy(t *testing.T) {
	t.Parallel()
	files := newS3Storage(t, "s3")
	e := newEnv(t, storetestOpen(t), envOptions{files: files})
	must(t, sample.Ensure(t.Context(), e.db, files))
	must(t, sample.Ensure(t.Context(), e.db, files)) // idempotent
	m := wantStatus(t, e.req("POST", "/tutorial/createsample", map[string]any{"userid": e.guest},
		"Bearer "+e.serviceToken(e.guest)), 200)
	secs, err := e.db.SectionsByTutorial(t.Context(), m["id"].(string))
	must(t, err)
	if len(secs) != 2 {
		t.Fatalf("sections %v", secs)
	}
	got, err := files.ReadFile(t.Context(), secs[0].ID, fileRecording)
	if err != nil || !bytes.Equal(got, sample.Recording()) {
		t.Fatalf("recording not copied (%v)", err)
	}
}
