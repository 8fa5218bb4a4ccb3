package tutorialapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/store/storetest"
)

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// parseTwice is what the playback page does with every event field:
// JSON.parse(JSON.parse(x)), which must give an array.
func parseTwice(t testing.TB, field string, v any) []any {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("%s is %T, want a string", field, v)
	}
	var inner string
	if err := json.Unmarshal([]byte(s), &inner); err != nil {
		t.Fatalf("%s: first JSON.parse: %v (%q)", field, err, s)
	}
	var arr []any
	if err := json.Unmarshal([]byte(inner), &arr); err != nil {
		t.Fatalf("%s: second JSON.parse: %v (%q)", field, err, inner)
	}
	return arr
}

func TestRoutesAnswerTheShapesTheFrontendReads(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db, envOptions{})
		f := e.newTutorial(true)
		owner := fmt.Sprint(e.owner)

		t.Run("root/200", func(t *testing.T) {
			m := wantStatus(t, e.req("GET", "/", nil, ""), 200)
			if m["message"] != "hello world" {
				t.Fatalf("got %v", m)
			}
		})
		t.Run("health/200/reports-sandbox", func(t *testing.T) {
			m := wantStatus(t, e.req("GET", "/health", nil, ""), 200)
			wantTypes(t, m, map[string]string{"status": "string", "sandbox": "string", "storage": "string"})
		})
		t.Run("ready/200", func(t *testing.T) {
			wantStatus(t, e.req("GET", "/ready", nil, ""), 200)
		})
		t.Run("T13/preflight-from-the-frontend/2xx", func(t *testing.T) {
			w := e.req("OPTIONS", "/tutorial_section/get/"+f.code, nil, "", "Origin", "http://localhost:3000",
				"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "content-type,accept")
			if w.Code/100 != 2 || w.Header().Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
				t.Fatalf("preflight: %d %v", w.Code, w.Header())
			}
		})
		t.Run("metrics/200", func(t *testing.T) {
			if w := e.req("GET", "/metrics", nil, ""); w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
		})
		t.Run("T3/author-list/200", func(t *testing.T) {
			m := wantStatus(t, e.req("GET", "/tutorials/get/"+owner, nil, ownerC), 200)
			cards := m["tutorials"].([]any)
			if len(cards) != 1 {
				t.Fatalf("cards: %v", cards)
			}
			c := cards[0].(map[string]any)
			wantTypes(t, c, map[string]string{"id": "string", "name": "string", "language": "string",
				"sequence": "int", "user_name": "string", "user_picture": "string|null"})
			if c["sequence"] != float64(2) || c["user_name"] != "Alice Author" {
				t.Fatalf("card %v", c)
			}
		})
		t.Run("T4/tutorial-header/200", func(t *testing.T) {
			m := wantStatus(t, e.req("GET", "/tutorial/get/"+f.tid, nil, ownerC), 200)
			wantTypes(t, m, map[string]string{"id": "string", "name": "string", "language": "string",
				"sequence": "string", "userid": "int", "start_date": "string", "end_date": "null"})
			var seq []string
			if err := json.Unmarshal([]byte(m["sequence"].(string)), &seq); err != nil || len(seq) != 2 || seq[0] != f.code {
				t.Fatalf("sequence %q: %v", m["sequence"], err)
			}
			if _, err := time.Parse(time.RFC3339, m["start_date"].(string)); err != nil || !strings.HasSuffix(m["start_date"].(string), "Z") {
				t.Fatalf("start_date %q is not RFC 3339 UTC", m["start_date"])
			}
		})
		t.Run("T8/code-page/200", func(t *testing.T) {
			m := wantStatus(t, e.req("GET", "/tutorial/get/"+f.tid+"/1/"+fmt.Sprint(e.learner), nil, learnerC), 200)
			wantTypes(t, m, map[string]string{"tutorial_name": "string", "tutorial_pages": "array",
				"tutorial_page": "int", "tutorial_type": "string", "language": "string", "version": "string|null",
				"duration": "int|null", "description": "string|null", "recording": "string|null",
				"frequent_word": "string|null", "tutorial_section_id": "string", "input_ide": "string|null"})
			for _, k := range []string{"keystroke", "consoleAction", "consoleScrollAction", "layoutAction",
				"selectAction", "scrollAction", "editorScrollAction", "transcript", "inputKeystrokes", "inputScrollAction"} {
				parseTwice(t, k, m[k])
			}
			if m["tutorial_page"] != float64(0) || m["tutorial_type"] != "Code" || m["version"] != "python 3.11.7" {
				t.Fatalf("page %v", m)
			}
			if pages := m["tutorial_pages"].([]any); len(pages) != 2 || pages[0] != "Hello World" || pages[1] != "Quiz" {
				t.Fatalf("pages %v", pages)
			}
			rec := m["recording"].(string)
			if !strings.HasPrefix(rec, "http://tutorial.test/api/files/"+f.code+"/recording.wav?exp=") {
				t.Fatalf("recording %q", rec)
			}
			var words []string
			if err := json.Unmarshal([]byte(m["frequent_word"].(string)), &words); err != nil || len(words) == 0 {
				t.Fatalf("frequent_word %q is not a JSON array of words: %v", m["frequent_word"], err)
			}
		})
		t.Run("T8/question-page/200", func(t *testing.T) {
			m := wantStatus(t, e.req("GET", "/tutorial/get/"+f.tid+"/2/"+fmt.Sprint(e.learner), nil, learnerC), 200)
			wantTypes(t, m, map[string]string{"tutorial_name": "string", "tutorial_pages": "array",
				"tutorial_page": "int", "tutorial_type": "string", "question": "string", "tutorial_section_id": "string"})
			var quiz map[string]any
			if err := json.Unmarshal([]byte(m["question"].(string)), &quiz); err != nil || quiz["quizTitle"] != "Quiz" {
				t.Fatalf("question %q: %v", m["question"], err)
			}
		})
		t.Run("T8/empty-event-files-are-null-not-empty-string", func(t *testing.T) {
			sid, _ := e.svc.CreateSection(t.Context(), e.ident(ownerC), NewSection{TutorialID: f.tid, Name: "Empty"})
			m := wantStatus(t, e.req("GET", "/tutorial/get/"+f.tid+"/3/"+owner, nil, ownerC), 200)
			if m["tutorial_section_id"] != sid {
				t.Fatalf("page 3 is %v", m["tutorial_section_id"])
			}
			for _, k := range []string{"keystroke", "consoleAction", "layoutAction", "selectAction", "scrollAction",
				"transcript", "inputKeystrokes", "recording", "description"} {
				if m[k] != nil {
					t.Errorf("%s = %q, want null", k, m[k])
				}
			}
			for _, k := range []string{"consoleScrollAction", "editorScrollAction", "inputScrollAction"} {
				if m[k] != defaultScroll {
					t.Errorf("%s = %q, want the original's default", k, m[k])
				}
			}
			wantStatus(t, e.req("GET", "/tutorial_section/delete/"+sid, nil, ownerC), 200)
		})
		t.Run("T2/catalogue-with-progress/200", func(t *testing.T) {
			// The learner opened page 2 above.
			m := wantStatus(t, e.req("GET", "/tutorials/get_all/"+fmt.Sprint(e.learner), nil, learnerC), 200)
			cards := m["tutorials"].([]any)
			if len(cards) != 1 {
				t.Fatalf("cards %v", cards)
			}
			c := cards[0].(map[string]any)
			wantTypes(t, c, map[string]string{"id": "string", "name": "string", "language": "string",
				"startDatetime": "string|null", "endDatetime": "string|null", "sequence": "int",
				"user_name": "string", "user_picture": "string|null", "last_page": "int"})
			if c["last_page"] != float64(2) || c["sequence"] != float64(2) {
				t.Fatalf("card %v", c)
			}
		})
		t.Run("T13/section-editor/200", func(t *testing.T) {
			m := wantStatus(t, e.req("GET", "/tutorial_section/get/"+f.code, nil, ownerC,
				"Content-Type", "application/json", "Accept", "application/json"), 200)
			wantTypes(t, m, map[string]string{"id": "string", "name": "string", "tutorial_type": "string",
				"description": "string", "code_content": "string", "question": "null", "code_input": "string|null",
				"language": "string", "version": "string|null", "tutorial_id": "string", "frequent_word": "string|null",
				"sequence": "int", "recording": "string"})
			if m["sequence"] != float64(1) || !strings.HasPrefix(m["recording"].(string), "/api/files/"+f.code+"/recording.wav?") {
				t.Fatalf("section %v", m)
			}
			q := wantStatus(t, e.req("GET", "/tutorial_section/get/"+f.quiz, nil, ownerC), 200)
			if q["sequence"] != float64(2) || q["recording"] != nil {
				t.Fatalf("question section %v", q)
			}
			var quiz map[string]any
			if err := json.Unmarshal([]byte(q["question"].(string)), &quiz); err != nil {
				t.Fatalf("question: %v", err)
			}
		})
		t.Run("T14/section-list/200", func(t *testing.T) {
			m := wantStatus(t, e.req("GET", "/tutorial_section/get/tutorial_id/"+f.tid, nil, ownerC), 200)
			list := m["tutorial_section"].([]any)
			if len(list) != 2 {
				t.Fatalf("list %v", list)
			}
			for _, s := range list {
				wantTypes(t, s.(map[string]any), map[string]string{"id": "string", "name": "string",
					"tutorial_type": "string", "code_input": "string|null", "language": "string|null",
					"frequent_word": "string|null", "duration": "int|null", "tutorial_id": "string"})
			}
		})
		t.Run("T14/no-sections/200-message", func(t *testing.T) {
			tid, _ := e.svc.CreateTutorial(t.Context(), e.ident(ownerC), NewTutorial{Name: "Empty", Language: "java"})
			m := wantStatus(t, e.req("GET", "/tutorial_section/get/tutorial_id/"+tid, nil, ownerC), 200)
			if m["message"] != "Tutorial Section not found." || m["tutorial_section"] != nil {
				t.Fatalf("got %v", m)
			}
		})
		t.Run("T5-T15-T16-T7-T17-T9/author-workflow/200", func(t *testing.T) {
			// The frontend's bodies: JSON as text/plain, userid as a string.
			m := wantStatus(t, e.req("POST", "/tutorial/create",
				`{"name":"SQL: SELECT and UPDATE statements","language":"javascript","userid":"`+owner+`"}`, ownerC,
				"Content-Type", "text/plain;charset=UTF-8"), 200)
			tid, _ := m["id"].(string)
			if !hex32.MatchString(tid) {
				t.Fatalf("id %v", m)
			}
			a := wantStatus(t, e.req("POST", "/tutorial_section/create",
				map[string]string{"name": "Untitled Section", "tutorial_id": tid, "tutorial_type": "Code"}, ownerC), 200)["id"].(string)
			b := wantStatus(t, e.req("POST", "/tutorial_section/create",
				map[string]string{"name": "Quiz", "tutorial_id": tid, "tutorial_type": "Question"}, ownerC), 200)["id"].(string)
			m = wantStatus(t, e.req("POST", "/tutorial_section/update/"+a, map[string]any{"name": "Intro",
				"language": "javascript", "description": "Print things. Print more things.",
				"code_content": "console.log(1)", "code_input": ""}, ownerC), 200)
			if m["tutorial_id"] != tid {
				t.Fatalf("update section: %v", m)
			}
			wantStatus(t, e.req("POST", "/tutorial_section/update/"+b, map[string]any{"name": "Quiz 1",
				"question": map[string]any{"quizTitle": "Q", "questions": []any{}}, "tutorial_type": "Question"}, ownerC), 200)
			wantStatus(t, e.req("POST", "/tutorial/update/"+tid, map[string]any{"sequence": []string{b, a}}, ownerC), 200)
			wantStatus(t, e.req("POST", "/tutorial/update/"+tid, map[string]any{
				"startDatetime": "2025-08-24T17:19:00+08:00", "endDatetime": nil}, ownerC), 200)
			h := wantStatus(t, e.req("GET", "/tutorial/get/"+tid, nil, ownerC), 200)
			if h["sequence"] != fmt.Sprintf(`["%s", "%s"]`, b, a) || h["start_date"] != "2025-08-24T09:19:00Z" || h["end_date"] != nil {
				t.Fatalf("after update: %v", h)
			}
			sec := wantStatus(t, e.req("GET", "/tutorial_section/get/"+a, nil, ownerC), 200)
			if sec["sequence"] != float64(2) || sec["name"] != "Intro" || sec["description"] != "Print things. Print more things." {
				t.Fatalf("section after update: %v", sec)
			}
			// Stored as JSON text with Python's separators; the words are the
			// keywords package's business.
			var words []string
			fw, _ := sec["frequent_word"].(string)
			if err := json.Unmarshal([]byte(fw), &words); err != nil || len(words) == 0 || words[0] != "print" ||
				!strings.HasPrefix(fw, `["print", "`) {
				t.Fatalf("frequent_word %q", sec["frequent_word"])
			}
			m = wantStatus(t, e.req("GET", "/tutorial_section/delete/"+b, nil, ownerC), 200)
			if m["message"] != "success" {
				t.Fatalf("delete section: %v", m)
			}
			h = wantStatus(t, e.req("GET", "/tutorial/get/"+tid, nil, ownerC), 200)
			if h["sequence"] != fmt.Sprintf(`["%s"]`, a) {
				t.Fatalf("sequence after delete %v", h["sequence"])
			}
			wantStatus(t, e.req("GET", "/tutorial/delete/"+tid, nil, ownerC), 200)
			wantStatus(t, e.req("GET", "/tutorial/get/"+tid, nil, ownerC), 404)
			if _, err := e.files.Stat(t.Context(), a, fileDescription); err == nil {
				t.Fatal("files of a deleted tutorial remain")
			}
		})
		t.Run("T18-T19/layout-round-trip/200", func(t *testing.T) {
			layout := map[string]any{"dockbox": map[string]any{"mode": "horizontal", "children": []any{}}}
			key := map[string]any{"userid": fmt.Sprint(e.learner), "tutorialid": f.tid, "role": "learner"}
			m := wantStatus(t, e.req("POST", "/get_learner_layout", key, learnerC), 200)
			if v, ok := m["layout"]; !ok || v != nil {
				t.Fatalf("layout before save: %v", m)
			}
			save := map[string]any{"layout": layout}
			for k, v := range key {
				save[k] = v
			}
			wantStatus(t, e.req("POST", "/save_learner_layout", save, learnerC), 200)
			m = wantStatus(t, e.req("POST", "/get_learner_layout", key, learnerC), 200)
			var got map[string]any
			if err := json.Unmarshal([]byte(m["layout"].(string)), &got); err != nil || got["dockbox"] == nil {
				t.Fatalf("layout %v: %v", m["layout"], err)
			}
		})
		t.Run("T20/keyword-search/200", func(t *testing.T) {
			m := wantStatus(t, e.req("GET", "/tutorial_section/search/keyword/print/"+f.code, nil, learnerC), 200)
			res := m["result"].([]any)
			if len(res) != 1 {
				t.Fatalf("result %v", res)
			}
			wantTypes(t, res[0].(map[string]any), map[string]string{"text": "string", "timestamp": "int"})
			m = wantStatus(t, e.req("GET", "/tutorial_section/search/keyword/hello%20world/"+f.code, nil, learnerC), 200)
			if len(m["result"].([]any)) != 1 {
				t.Fatalf("phrase search %v", m)
			}
			m = wantStatus(t, e.req("GET", "/tutorial_section/search/keyword/print/"+f.quiz, nil, learnerC), 200)
			if res, ok := m["result"].([]any); !ok || len(res) != 0 {
				t.Fatalf("no transcript: %v", m)
			}
		})
		t.Run("T22/storage-info-without-paths/200", func(t *testing.T) {
			w := e.req("GET", "/api/storage/info", nil, ownerC)
			m := wantStatus(t, w, 200)
			if m["backend_type"] != "local" || strings.Contains(w.Body.String(), "/") && strings.Contains(w.Body.String(), "recordings\"") {
				t.Fatalf("info %s", w.Body.String())
			}
			for k, v := range m {
				if s, ok := v.(string); ok && strings.Contains(s, "/") {
					t.Fatalf("info leaks a path in %s: %q", k, s)
				}
			}
		})
		t.Run("T23/storage-health/200", func(t *testing.T) {
			m := wantStatus(t, e.req("GET", "/api/storage/health", nil, ownerC), 200)
			wantTypes(t, m, map[string]string{"status": "string", "backend_type": "string", "timestamp": "string"})
			if m["status"] != "healthy" {
				t.Fatalf("health %v", m)
			}
		})
		t.Run("README/tutorials-author-and-learner/200", func(t *testing.T) {
			m := wantStatus(t, e.req("GET", "/tutorials", nil, ownerC), 200)
			if len(m["tutorials"].([]any)) < 1 {
				t.Fatalf("author: %v", m)
			}
			m = wantStatus(t, e.req("GET", "/tutorials", nil, learnerC), 200)
			c := m["tutorials"].([]any)[0].(map[string]any)
			if c["id"] != f.tid || c["last_page"] == nil {
				t.Fatalf("learner: %v", m)
			}
			wantStatus(t, e.req("GET", "/tutorials", nil, ""), 401)
		})
		t.Run("README/create-and-detail/200", func(t *testing.T) {
			m := wantStatus(t, e.req("POST", "/tutorial/create",
				map[string]any{"name": "Recursion", "language": "python", "description": "Functions calling themselves."}, ownerC), 200)
			tid := m["id"].(string)
			s1 := wantStatus(t, e.req("POST", "/tutorial_section/create", map[string]any{"tutorial_id": tid}, ownerC), 200)["id"]
			s2 := wantStatus(t, e.req("POST", "/tutorial_section/create",
				map[string]any{"tutorial_id": tid, "name": "Quiz", "tutorial_type": "Question"}, ownerC), 200)["id"]
			d := wantStatus(t, e.req("GET", "/tutorial/"+tid, nil, ownerC), 200)
			wantTypes(t, d, map[string]string{"id": "string", "name": "string", "language": "string",
				"description": "string", "userid": "int", "sections": "array", "sequence": "array", "published": "bool"})
			secs := d["sections"].([]any)
			if len(secs) != 2 || secs[0].(map[string]any)["id"] != s1 || secs[1].(map[string]any)["id"] != s2 ||
				secs[0].(map[string]any)["name"] != "Untitled Section" {
				t.Fatalf("sections %v", secs)
			}
			if d["description"] != "Functions calling themselves." || d["published"] != false {
				t.Fatalf("detail %v", d)
			}
		})
		t.Run("events/logged-with-original-names", func(t *testing.T) {
			seen := map[string]bool{}
			for _, ev := range e.events() {
				seen[ev["event"].(string)] = true
				if ev["request_id"] == nil {
					t.Errorf("event without request_id: %v", ev)
				}
			}
			for _, name := range []string{"Open Tutorial", "Create Tutorial", "Upload Tutorial Section",
				"Save Tutorial Layout", "Delete Tutorial", "Update Tutorial", "Create Tutorial Section"} {
				if !seen[name] {
					t.Errorf("no %q event", name)
				}
			}
		})
	})
}

// TestClientMistakesGetTheOneErrorShape: every client mistake is a 4xx in
// the one JSON shape, never a 500 or HTML.
func TestClientMistakesGetTheOneErrorShape(t *testing.T) {
	t.Parallel()
	db := storetestOpen(t)
	e := newEnv(t, db, envOptions{})
	f := e.newTutorial(true)
	owner := fmt.Sprint(e.owner)
	unknown := "ffffffffffffffffffffffffffffffff"
	cases := []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"T2/user-zero/400", "GET", "/tutorials/get_all/0", nil, 400},
		{"T2/user-not-a-number/400", "GET", "/tutorials/get_all/abc", nil, 400},
		{"T3/user-zero/400", "GET", "/tutorials/get/0", nil, 400},
		{"T3/user-negative/400", "GET", "/tutorials/get/-5", nil, 400},
		{"T4/short-id/400", "GET", "/tutorial/get/abc", nil, 400},
		{"T4/unknown/404", "GET", "/tutorial/get/" + unknown, nil, 404},
		{"T5/missing-language/400", "POST", "/tutorial/create", `{"name":"X","userid":` + owner + `}`, 400},
		{"T5/bad-language/400", "POST", "/tutorial/create", `{"name":"X","language":"ruby"}`, 400},
		{"T5/name-too-long/400", "POST", "/tutorial/create", map[string]any{"name": strings.Repeat("x", 321), "language": "python"}, 400},
		{"T5/malformed-json/400", "POST", "/tutorial/create", `{"name":`, 400},
		{"T5/wrong-type/400", "POST", "/tutorial/create", `{"name":5,"language":"python"}`, 400},
		{"T5/bad-userid/400", "POST", "/tutorial/create", `{"name":"X","language":"python","userid":"abc"}`, 400},
		{"T5/body-over-1MiB/413", "POST", "/tutorial/create", `{"name":"` + strings.Repeat("x", 1<<20) + `"}`, 413},
		{"T7/bad-date/400", "POST", "/tutorial/update/" + f.tid, `{"startDatetime":"tomorrow"}`, 400},
		{"T7/sequence-not-array/400", "POST", "/tutorial/update/" + f.tid, `{"sequence":"abc"}`, 400},
		{"T7/sequence-foreign-id/400", "POST", "/tutorial/update/" + f.tid, `{"sequence":["` + unknown + `"]}`, 400},
		{"T7/sequence-duplicate/400", "POST", "/tutorial/update/" + f.tid, `{"sequence":["` + f.code + `","` + f.code + `"]}`, 400},
		{"T7/unknown/404", "POST", "/tutorial/update/" + unknown, `{"sequence":[]}`, 404},
		{"T8/short-id/400", "GET", "/tutorial/get/abc/1/" + owner, nil, 400},
		{"T8/page-zero/400", "GET", "/tutorial/get/" + f.tid + "/0/" + owner, nil, 400},
		{"T8/page-huge/400", "GET", "/tutorial/get/" + f.tid + "/99999999999999999999/" + owner, nil, 400},
		{"T8/user-zero/400", "GET", "/tutorial/get/" + f.tid + "/1/0", nil, 400},
		{"T8/page-out-of-range/404", "GET", "/tutorial/get/" + f.tid + "/3/" + owner, nil, 404},
		{"T8/unknown-tutorial/404", "GET", "/tutorial/get/" + unknown + "/1/" + owner, nil, 404},
		{"T8/other-user-in-path/403", "GET", "/tutorial/get/" + f.tid + "/1/" + fmt.Sprint(e.learner), nil, 403},
		{"T9/unknown/404", "GET", "/tutorial/delete/" + unknown, nil, 404},
		{"T9/bad-id/400", "GET", "/tutorial/delete/xyz", nil, 400},
		{"T10/not-multipart/400", "POST", "/upload_recording", `{"a":1}`, 400},
		{"T13/unknown/404", "GET", "/tutorial_section/get/" + unknown, nil, 404},
		{"T13/bad-id/400", "GET", "/tutorial_section/get/nope", nil, 400},
		{"T14/unknown-tutorial/404", "GET", "/tutorial_section/get/tutorial_id/" + unknown, nil, 404},
		{"T15/unknown-tutorial/404", "POST", "/tutorial_section/create", `{"name":"A","tutorial_id":"` + unknown + `","tutorial_type":"Code"}`, 404},
		{"T15/bad-type/400", "POST", "/tutorial_section/create", `{"name":"A","tutorial_id":"` + f.tid + `","tutorial_type":"Video"}`, 400},
		{"T15/missing-tutorial/400", "POST", "/tutorial_section/create", `{"name":"A"}`, 400},
		{"T16/unknown/404", "POST", "/tutorial_section/update/" + unknown, `{"name":"A"}`, 404},
		{"T16/name-too-long/400", "POST", "/tutorial_section/update/" + f.code, map[string]any{"name": strings.Repeat("x", 321)}, 400},
		{"T16/bad-language/400", "POST", "/tutorial_section/update/" + f.code, `{"language":"cobol"}`, 400},
		{"T17/unknown/404", "GET", "/tutorial_section/delete/" + unknown, nil, 404},
		{"T18/missing-layout/400", "POST", "/save_learner_layout", `{"userid":"` + owner + `","tutorialid":"` + f.tid + `","role":"author"}`, 400},
		{"T18/bad-role/400", "POST", "/save_learner_layout", `{"userid":"` + owner + `","tutorialid":"` + f.tid + `","role":"admin","layout":{}}`, 400},
		{"T18/missing-keys/400", "POST", "/save_learner_layout", `{}`, 400},
		{"T19/unknown-tutorial/404", "POST", "/get_learner_layout", `{"userid":"` + owner + `","tutorialid":"` + unknown + `","role":"author"}`, 404},
		{"T19/other-user/403", "POST", "/get_learner_layout", `{"userid":"` + fmt.Sprint(e.other) + `","tutorialid":"` + f.tid + `","role":"author"}`, 403},
		{"T20/unknown-section/404", "GET", "/tutorial_section/search/keyword/print/" + unknown, nil, 404},
		{"T20/keyword-too-long/400", "GET", "/tutorial_section/search/keyword/" + strings.Repeat("k", 201) + "/" + f.code, nil, 400},
		{"T21/missing-file/404", "GET", "/api/files/" + unknown + "/recording.wav", nil, 404},
		{"T21/other-file/404", "GET", "/api/files/" + f.code + "/transcript.json", nil, 404},
		{"T21/bad-name/400", "GET", "/api/files/" + f.code + "/a%20b.wav", nil, 400},
		{"T6/user-token/403", "POST", "/tutorial/createsample", `{"userid":` + owner + `}`, 403},
		{"unknown-route/404", "GET", "/no/such/route", nil, 404},
		{"wrong-method/405", "DELETE", "/tutorial/create", nil, 405},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			wantStatus(t, e.req(c.method, c.path, c.body, ownerC), c.status)
		})
	}
}

// storetestOpen returns a SQLite database for tests that need only one.
func storetestOpen(t *testing.T) *store.DB {
	t.Helper()
	return storetest.Open(t)
}
