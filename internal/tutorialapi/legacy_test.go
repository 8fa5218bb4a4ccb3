package tutorialapi

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/itss-go/itss/internal/storage"
	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/store/storetest"
)

// Ids of the golden capture (/work/shared/golden/00-ids.txt): the files in
// testdata/legacy are what the original wrote for them.
const (
	legacyTID = "858c03b2fb62409681e60fb11f373d50"
	legacySID = "67bc56ba8e8245c9aa2d8b294ed68bf9"
	legacyQID = "3642e21a42cf4f77a051bcc050a1285b"
)

// legacyStorage copies testdata/legacy into a storage root laid out as the
// original's storage/ folder (the recording is generated: the original's is
// 1 MB of silence) and returns a local backend over it.
func legacyStorage(t testing.TB) (b storage.Backend, wav []byte, root string) {
	t.Helper()
	root = t.TempDir()
	rec := filepath.Join(root, "recordings")
	err := filepath.WalkDir("testdata/legacy/recordings", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel("testdata/legacy/recordings", p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(rec, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	wav = testWAV(8000)
	must(t, os.WriteFile(filepath.Join(rec, legacySID, "recording.wav"), wav, 0o644))
	q, err := os.ReadFile("testdata/legacy/question.json")
	must(t, err)
	must(t, os.MkdirAll(filepath.Join(rec, legacyQID), 0o755))
	must(t, os.WriteFile(filepath.Join(rec, legacyQID, "question.json"), q, 0o644))
	b, err = storage.New(context.Background(), storage.Options{Type: "local", RecordingsPath: rec,
		LayoutsPath: filepath.Join(root, "layouts")})
	must(t, err)
	return b, wav, root
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// insertLegacyRows writes the rows exactly as the Flask system left them:
// a Python-repr sequence (its "Save Sequence" bug), repr frequent_word and a
// naive start date. The store always writes canonical forms, so this test
// fixture goes around it with plain SQL.
func insertLegacyRows(t testing.TB, driver, dsn string, owner int64) {
	t.Helper()
	raw, err := sql.Open(driver, dsn)
	must(t, err)
	defer raw.Close()
	ctx := context.Background()
	_, err = raw.ExecContext(ctx, "INSERT INTO `tutorial` (`id`, `name`, `language`, `sequence`, `userid`, `start_date`, `end_date`)"+
		" VALUES (?, 'Python Basics', 'python', ?, ?, '2024-01-01 00:00:00', NULL)",
		legacyTID, fmt.Sprintf("['%s', '%s']", legacySID, legacyQID), owner)
	must(t, err)
	_, err = raw.ExecContext(ctx, "INSERT INTO `tutorial_section` (`id`, `name`, `tutorial_type`, `code_input`, `language`, `frequent_word`, `duration`, `tutorial_id`)"+
		" VALUES (?, 'Hello World', 'Code', '', 'python', ?, 9, ?), (?, 'Quiz 1', 'Question', NULL, 'python', '[]', 0, ?)",
		legacySID, "['print', 'hello', 'python', 'section', 'shows']", legacyTID, legacyQID, legacyTID)
	must(t, err)
}

func TestLegacyDataIsServedAndRepairedOnWrite(t *testing.T) {
	t.Parallel()
	storetest.EachDialect(t, func(t *testing.T, dialect string) {
		t.Parallel()
		driver, dsn := storetest.NewDatabase(t, dialect)
		db, err := store.Open(context.Background(), driver, dsn)
		must(t, err)
		t.Cleanup(func() { db.Close() })
		must(t, db.Migrate(context.Background()))
		files, wav, root := legacyStorage(t)
		e := newEnv(t, db, envOptions{files: files})
		insertLegacyRows(t, driver, dsn, e.owner)
		// The original's layout save wrote empty files.
		lay := filepath.Join(root, "layouts", fmt.Sprint(e.learner), legacyTID, "learner")
		must(t, os.MkdirAll(lay, 0o755))
		must(t, os.WriteFile(filepath.Join(lay, "layout.json"), nil, 0o644))
		golden := func(name string) string {
			b, err := os.ReadFile(filepath.Join("testdata/legacy/recordings", legacySID, name))
			must(t, err)
			return string(b)
		}

		t.Run("T4/repr-sequence-returned-as-JSON-and-naive-date-as-UTC", func(t *testing.T) {
			m := wantStatus(t, e.req("GET", "/tutorial/get/"+legacyTID, nil, ownerC), 200)
			if m["sequence"] != fmt.Sprintf(`["%s", "%s"]`, legacySID, legacyQID) {
				t.Fatalf("sequence %q", m["sequence"])
			}
			if m["start_date"] != "2024-01-01T00:00:00Z" {
				t.Fatalf("start_date %q", m["start_date"])
			}
		})
		t.Run("T2-T3/repr-sequence-counts-its-sections", func(t *testing.T) {
			m := wantStatus(t, e.req("GET", fmt.Sprintf("/tutorials/get_all/%d", e.learner), nil, learnerC), 200)
			c := m["tutorials"].([]any)[0].(map[string]any)
			if c["sequence"] != float64(2) || c["startDatetime"] != "2024-01-01T00:00:00Z" {
				t.Fatalf("card %v", c)
			}
			m = wantStatus(t, e.req("GET", fmt.Sprintf("/tutorials/get/%d", e.owner), nil, ownerC), 200)
			if m["tutorials"].([]any)[0].(map[string]any)["sequence"] != float64(2) {
				t.Fatalf("author card %v", m)
			}
		})
		t.Run("T8/event-files-verbatim-and-frequent-word-as-JSON", func(t *testing.T) {
			m := wantStatus(t, e.req("GET", fmt.Sprintf("/tutorial/get/%s/1/%d", legacyTID, e.learner), nil, learnerC), 200)
			for field, file := range map[string]string{"keystroke": fileKeystroke, "consoleAction": fileConsoleAction,
				"consoleScrollAction": fileConsoleScroll, "layoutAction": fileLayoutAction, "selectAction": fileSelectAction,
				"scrollAction": fileScrollAction, "editorScrollAction": fileEditorScrollAction, "transcript": fileTranscript,
				"inputKeystrokes": fileInputKeystrokes, "inputScrollAction": fileInputScroll, "description": fileDescription} {
				if m[field] != golden(file) {
					t.Errorf("%s = %q, want the stored file %q", field, m[field], golden(file))
				}
			}
			if m["frequent_word"] != `["print", "hello", "python", "section", "shows"]` {
				t.Fatalf("frequent_word %q", m["frequent_word"])
			}
			if m["duration"] != float64(9) || m["input_ide"] != "" || m["recording"] == nil {
				t.Fatalf("page %v", m)
			}
			// The recording link serves the stored bytes.
			u := strings.TrimPrefix(m["recording"].(string), "http://tutorial.test")
			w := e.req("GET", u, nil, "")
			if w.Code != 200 || w.Body.String() != string(wav) {
				t.Fatalf("recording: %d, %d bytes", w.Code, w.Body.Len())
			}
			q := wantStatus(t, e.req("GET", fmt.Sprintf("/tutorial/get/%s/2/%d", legacyTID, e.learner), nil, learnerC), 200)
			var quiz []any
			if err := json.Unmarshal([]byte(q["question"].(string)), &quiz); err != nil {
				t.Fatalf("question %q: %v", q["question"], err)
			}
		})
		t.Run("T13/repr-sequence-position-found", func(t *testing.T) {
			m := wantStatus(t, e.req("GET", "/tutorial_section/get/"+legacyQID, nil, ownerC), 200)
			if m["sequence"] != float64(2) {
				t.Fatalf("sequence %v", m["sequence"])
			}
			m = wantStatus(t, e.req("GET", "/tutorial_section/get/"+legacySID, nil, ownerC), 200)
			if m["frequent_word"] != `["print", "hello", "python", "section", "shows"]` || m["code_content"] != golden(fileCode) {
				t.Fatalf("section %v", m)
			}
		})
		t.Run("T20/double-encoded-transcript-is-searched", func(t *testing.T) {
			m := wantStatus(t, e.req("GET", "/tutorial_section/search/keyword/print/"+legacySID, nil, learnerC), 200)
			res := m["result"].([]any)
			if len(res) != 2 || res[0].(map[string]any)["timestamp"] != float64(1200) {
				t.Fatalf("result %v", res)
			}
		})
		t.Run("T19/empty-legacy-layout-is-null", func(t *testing.T) {
			m := wantStatus(t, e.req("POST", "/get_learner_layout",
				map[string]any{"userid": e.learner, "tutorialid": legacyTID, "role": "learner"}, learnerC), 200)
			if v, ok := m["layout"]; !ok || v != nil {
				t.Fatalf("layout %v", m)
			}
		})
		t.Run("writes/repair-sequence-and-frequent-word", func(t *testing.T) {
			wantStatus(t, e.req("POST", "/tutorial/update/"+legacyTID, map[string]any{"endDatetime": nil}, ownerC), 200)
			tu, err := db.TutorialByID(t.Context(), legacyTID)
			must(t, err)
			if *tu.Sequence != fmt.Sprintf(`["%s", "%s"]`, legacySID, legacyQID) {
				t.Fatalf("stored sequence after a date update: %q", *tu.Sequence)
			}
			wantStatus(t, e.req("POST", "/tutorial_section/update/"+legacySID, map[string]any{"name": "Hello World"}, ownerC), 200)
			sec, err := db.SectionByID(t.Context(), legacySID)
			must(t, err)
			var words []string
			if err := json.Unmarshal([]byte(*sec.FrequentWord), &words); err != nil || len(words) == 0 {
				t.Fatalf("stored frequent_word after a save: %q", *sec.FrequentWord)
			}
			// Transcript words count too (the original dropped them on saves).
			if !strings.Contains(*sec.FrequentWord, `"print"`) {
				t.Fatalf("frequent_word %q", *sec.FrequentWord)
			}
			// Existing files a section save does not touch stay byte for byte.
			b, err := files.ReadFile(t.Context(), legacySID, fileKeystroke)
			if err != nil || string(b) != golden(fileKeystroke) {
				t.Fatalf("keystroke.json changed: %q, %v", b, err)
			}
		})
	})
}
