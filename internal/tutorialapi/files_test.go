package tutorialapi

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/itss-go/itss/internal/security"
)

// recordingPath returns the signed path the playback page links to.
func (e *env) recordingPath(f fixture) string {
	e.t.Helper()
	m := wantStatus(e.t, e.req("GET", fmt.Sprintf("/tutorial/get/%s/1/%d", f.tid, e.owner), nil, ownerC), 200)
	return strings.TrimPrefix(m["recording"].(string), "http://tutorial.test")
}

func TestRecordingRangeRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetestOpen(t), envOptions{})
	f := e.newTutorial(false)
	wav, err := e.files.ReadFile(t.Context(), f.code, fileRecording)
	must(t, err)
	size := len(wav)
	path := e.recordingPath(f)
	get := func(method, rng string) *httptest.ResponseRecorder {
		if rng == "" {
			return e.req(method, path, nil, "")
		}
		return e.req(method, path, nil, "", "Range", rng)
	}
	check := func(t *testing.T, w *httptest.ResponseRecorder, status int, body []byte, contentRange string) {
		t.Helper()
		if w.Code != status {
			t.Fatalf("status %d, want %d: %.200q", w.Code, status, w.Body.String())
		}
		h := w.Header()
		if h.Get("Content-Type") != "audio/wav" || h.Get("Access-Control-Allow-Origin") != "*" ||
			h.Get("Accept-Ranges") != "bytes" {
			t.Fatalf("headers %v", h)
		}
		if !bytes.Equal(w.Body.Bytes(), body) {
			t.Fatalf("body of %d bytes, want %d", w.Body.Len(), len(body))
		}
		if h.Get("Content-Range") != contentRange {
			t.Fatalf("Content-Range %q, want %q", h.Get("Content-Range"), contentRange)
		}
	}
	t.Run("full/200", func(t *testing.T) { check(t, get("GET", ""), 200, wav, "") })
	t.Run("first-bytes/206", func(t *testing.T) {
		check(t, get("GET", "bytes=0-99"), 206, wav[:100], fmt.Sprintf("bytes 0-99/%d", size))
	})
	t.Run("middle/206", func(t *testing.T) {
		check(t, get("GET", "bytes=1000-1999"), 206, wav[1000:2000], fmt.Sprintf("bytes 1000-1999/%d", size))
	})
	t.Run("open-end/206", func(t *testing.T) {
		check(t, get("GET", "bytes=8000-"), 206, wav[8000:], fmt.Sprintf("bytes 8000-%d/%d", size-1, size))
	})
	t.Run("suffix/206", func(t *testing.T) {
		check(t, get("GET", "bytes=-100"), 206, wav[size-100:], fmt.Sprintf("bytes %d-%d/%d", size-100, size-1, size))
	})
	t.Run("unsatisfiable/416", func(t *testing.T) {
		w := get("GET", "bytes=99999999-")
		wantStatus(t, w, 416)
		if w.Header().Get("Content-Range") != fmt.Sprintf("bytes */%d", size) {
			t.Fatalf("Content-Range %q", w.Header().Get("Content-Range"))
		}
	})
	t.Run("head/200", func(t *testing.T) {
		w := get("HEAD", "")
		if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") != fmt.Sprint(size) {
			t.Fatalf("HEAD: %d, %d bytes, %v", w.Code, w.Body.Len(), w.Header())
		}
	})
}

func TestRecordingSignatures(t *testing.T) {
	t.Parallel()
	db := storetestOpen(t)
	e := newEnv(t, db, envOptions{})
	f := e.newTutorial(false)
	path := e.recordingPath(f)
	u, err := url.Parse(path)
	must(t, err)
	q := u.Query()
	forged := []byte(q.Get("sig"))
	forged[0] ^= 1
	if forged[0] == q.Get("sig")[0] {
		t.Fatal("forgery failed")
	}
	expired := security.SignFileURL(testSecret, f.code, fileRecording, time.Now().Add(-time.Minute))
	other := e.newTutorial(false)
	cases := []struct {
		name, path, auth string
		status           int
	}{
		{"valid/anonymous/required/200", path, "", 200},
		{"expired/anonymous/required/403", "/api/files/" + f.code + "/recording.wav?" + expired, "", 403},
		{"forged/anonymous/required/403", fmt.Sprintf("/api/files/%s/recording.wav?exp=%s&sig=%s", f.code, q.Get("exp"), forged), "", 403},
		{"exp-changed/anonymous/required/403", fmt.Sprintf("/api/files/%s/recording.wav?exp=%d&sig=%s", f.code,
			time.Now().Add(48*time.Hour).Unix(), q.Get("sig")), "", 403},
		{"other-section/anonymous/required/403", "/api/files/" + other.code + "/recording.wav?" + u.RawQuery, "", 403},
		{"unsigned/anonymous/required/401", "/api/files/" + f.code + "/recording.wav", "", 401},
		{"unsigned/owner-cookie/required/200", "/api/files/" + f.code + "/recording.wav", "Cookie " + e.token(ownerC), 200},
		{"unsigned/learner-unpublished/required/403", "/api/files/" + f.code + "/recording.wav", learnerC, 403},
		{"expired/owner/required/200", "/api/files/" + f.code + "/recording.wav?" + expired, ownerC, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			wantStatus(t, e.req("GET", c.path, nil, c.auth), c.status)
		})
	}
	t.Run("optional-mode", func(t *testing.T) {
		o := newEnv(t, db, envOptions{optional: true})
		g := o.newTutorial(false)
		wantStatus(t, o.req("GET", "/api/files/"+g.code+"/recording.wav", nil, ""), 200)
		// Anonymous requests are served in optional mode, so a stale link
		// (a playback tab left open past the link's lifetime) keeps working.
		bad := security.SignFileURL([]byte("another-secret-0123456789-abcdefghijk"), g.code, fileRecording, time.Now().Add(time.Hour))
		wantStatus(t, o.req("GET", "/api/files/"+g.code+"/recording.wav?"+bad, nil, ""), 200)
		stale := security.SignFileURL(testSecret, g.code, fileRecording, time.Now().Add(-time.Minute))
		wantStatus(t, o.req("GET", "/api/files/"+g.code+"/recording.wav?"+stale, nil, ""), 200)
	})
}
