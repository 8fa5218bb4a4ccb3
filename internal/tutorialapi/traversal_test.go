package tutorialapi

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

// hostileIDs are path-segment values that must never reach storage or SQL
// as anything but a rejected id.
var hostileIDs = []string{
	"..",
	"%2e%2e",
	"..%2F..%2F..%2Fetc%2Fpasswd",
	"67bc56ba8e8245c9aa2d8b294ed68bf9%2F..%2F3642e21a42cf4f77a051bcc050a1285b",
	"67bc56ba8e8245c9aa2d8b294ed68bf9%00",
	"%00",
	"67bc56ba8e8245c9aa2d8b294ed68bf9%5C..",
	"67bc56ba8e8245c9aa2d8b294ed68bf%2F",
	"'OR'1'='1'--",
	"1%27%20OR%20%271%27%3D%271",
	strings.Repeat("a", 5000),
	strings.Repeat("0", 32) + "%0a",
	"%252e%252e%252f",
	"%ff%fe",
}

var hostileNames = []string{
	"..%2Frecording.wav",
	"..%2F..%2F..%2Fetc%2Fpasswd",
	"recording.wav%00.txt",
	"recording.wav%2F",
	".recording.wav",
	"%2e%2e",
	"RECORDING.WAV",
	strings.Repeat("r", 5000) + ".wav",
	"..%5Crecording.wav",
}

// TestHostileIDsAndFileNamesAreRejected sends traversal and injection
// attempts in every id and file-name parameter; each must be a 4xx in the
// one error shape, never a 500, never a file.
func TestHostileIDsAndFileNamesAreRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetestOpen(t), envOptions{})
	f := e.newTutorial(true)
	var paths []string
	var bodies []struct {
		path string
		body any
	}
	for _, id := range hostileIDs {
		paths = append(paths,
			"/tutorial/get/"+id,
			"/tutorial/"+id,
			fmt.Sprintf("/tutorial/get/%s/1/%d", id, e.owner),
			fmt.Sprintf("/tutorial/get/%s/%s/%s", f.tid, id, id),
			"/tutorial/delete/"+id,
			"/tutorial_section/get/"+id,
			"/tutorial_section/get/tutorial_id/"+id,
			"/tutorial_section/delete/"+id,
			"/tutorial_section/search/keyword/print/"+id,
			"/tutorial_section/search/keyword/"+id+"/"+id,
			"/tutorials/get/"+id,
			"/tutorials/get_all/"+id,
			"/api/files/"+id+"/recording.wav",
		)
		raw := strings.ReplaceAll(strings.ReplaceAll(id, "%2F", "/"), "%00", "\x00")
		bodies = append(bodies,
			struct {
				path string
				body any
			}{"/tutorial/update/" + id, map[string]any{"sequence": []string{}}},
			struct {
				path string
				body any
			}{"/tutorial_section/update/" + id, map[string]any{"name": "x"}},
			struct {
				path string
				body any
			}{"/tutorial_section/create", map[string]any{"tutorial_id": raw, "name": "x"}},
			struct {
				path string
				body any
			}{"/save_learner_layout", map[string]any{"userid": e.owner, "tutorialid": raw, "role": "author", "layout": map[string]any{}}},
			struct {
				path string
				body any
			}{"/get_learner_layout", map[string]any{"userid": raw, "tutorialid": f.tid, "role": raw}},
			struct {
				path string
				body any
			}{"/tutorial/create", map[string]any{"name": "x", "language": raw, "userid": raw}},
		)
	}
	for _, name := range hostileNames {
		paths = append(paths, "/api/files/"+f.code+"/"+name)
	}
	check := func(t *testing.T, w *httptest.ResponseRecorder) {
		t.Helper()
		if w.Code < 400 || w.Code >= 500 {
			t.Fatalf("status %d: %.200q", w.Code, w.Body.String())
		}
		wantErrorShape(t, jsonBody(t, w), w.Code)
	}
	for _, p := range paths {
		t.Run("GET "+trimName(p), func(t *testing.T) {
			t.Parallel()
			check(t, e.req("GET", p, nil, ownerC))
		})
	}
	for _, b := range bodies {
		t.Run("POST "+trimName(b.path), func(t *testing.T) {
			t.Parallel()
			check(t, e.req("POST", b.path, b.body, ownerC))
		})
	}
	for _, id := range hostileIDs {
		t.Run("upload "+trimName(id), func(t *testing.T) {
			t.Parallel()
			raw := strings.ReplaceAll(strings.ReplaceAll(id, "%2F", "/"), "%00", "\x00")
			fields := recordingFields(raw, nil)
			body, ct := multipartBody(fields)
			check(t, e.req("POST", "/upload_recording", body, ownerC, "Content-Type", ct))
		})
	}
}

func trimName(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
