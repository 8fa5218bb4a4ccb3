package tutorialapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/sample"
	"github.com/itss-go/itss/internal/security"
	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/store/storetest"
)

func TestCreateSampleCopiesTheBuiltInSampleForAGuestAuthor(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db, envOptions{})
		must(t, sample.Ensure(t.Context(), db, e.files))
		author := string(itss.RoleAuthor)
		guest := e.user("Guest", "guest,author", &author)
		m := wantStatus(t, e.req("POST", "/tutorial/createsample", map[string]any{"userid": guest},
			"Bearer "+e.serviceToken(guest), "Content-Type", "application/json"), 200)
		tid, _ := m["id"].(string)
		if !hex32.MatchString(tid) || tid == sample.TutorialID {
			t.Fatalf("response %v", m)
		}
		tu, err := db.TutorialByID(t.Context(), tid)
		must(t, err)
		if tu.UserID != guest || tu.StartDate != nil || tu.Name == "" {
			t.Fatalf("copy %+v", tu)
		}
		ids, legacy, err := itss.ParseSequence(tu.Sequence)
		if err != nil || legacy || len(ids) != 2 || ids[0] == sample.CodeSectionID {
			t.Fatalf("sequence %q", *tu.Sequence)
		}
		// Every file of every section came along.
		for i, src := range []string{sample.CodeSectionID, sample.QuestionSectionID} {
			want, err := e.files.List(t.Context(), src)
			must(t, err)
			got, err := e.files.List(t.Context(), ids[i])
			must(t, err)
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("section %d: %d files copied of %d", i, len(got), len(want))
			}
			for _, fi := range want {
				a, _ := e.files.ReadFile(t.Context(), src, fi.Name)
				b, err := e.files.ReadFile(t.Context(), ids[i], fi.Name)
				if err != nil || !bytes.Equal(a, b) {
					t.Fatalf("%s differs in the copy", fi.Name)
				}
			}
		}
		// The guest author sees and plays the copy; the frontend parses it.
		token := e.signerToken(guest, "author")
		list := wantStatus(t, e.req("GET", fmt.Sprintf("/tutorials/get/%d", guest), nil, "Bearer "+token), 200)
		if len(list["tutorials"].([]any)) != 1 {
			t.Fatalf("guest's tutorials %v", list)
		}
		p := wantStatus(t, e.req("GET", fmt.Sprintf("/tutorial/get/%s/1/%d", tid, guest), nil, "Bearer "+token), 200)
		for _, k := range []string{"keystroke", "consoleAction", "transcript", "layoutAction", "selectAction"} {
			parseTwice(t, k, p[k])
		}
		if p["recording"] == nil {
			t.Fatal("the copy has no recording")
		}
		q := wantStatus(t, e.req("GET", fmt.Sprintf("/tutorial/get/%s/2/%d", tid, guest), nil, "Bearer "+token), 200)
		var quiz map[string]any
		if err := json.Unmarshal([]byte(q["question"].(string)), &quiz); err != nil || len(quiz["questions"].([]any)) == 0 {
			t.Fatalf("question %v: %v", q["question"], err)
		}
		// The sample itself is untouched and still the built-in owner's.
		st, err := db.TutorialByID(t.Context(), sample.TutorialID)
		must(t, err)
		if st.UserID == guest {
			t.Fatal("the sample changed hands")
		}
	})
}

func TestCreateSampleRefusesAllButServiceTokens(t *testing.T) {
	t.Parallel()
	db := storetestOpen(t)
	for _, mode := range []string{"required", "optional"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, db, envOptions{optional: mode == "optional"})
			must(t, sample.Ensure(t.Context(), db, e.files))
			body := map[string]any{"userid": e.guest}
			cases := []struct {
				name, auth string
				body       any
				status     int
			}{
				{"anonymous/" + mode + "/401", "", body, 401},
				{"owner-token/" + mode + "/403", ownerC, map[string]any{"userid": e.owner}, 403},
				{"learner-cookie/" + mode + "/403", "Cookie " + e.token(learnerC), body, 403},
				{"service-token-other-user/" + mode + "/403", "Bearer " + e.serviceToken(e.other), body, 403},
				{"service-token-unknown-user/" + mode + "/404", "Bearer " + e.serviceToken(99999), map[string]any{"userid": 99999}, 404},
				{"service-token-bad-body/" + mode + "/400", "Bearer " + e.serviceToken(e.guest), `{"userid":"x"}`, 400},
				{"service-token/" + mode + "/200", "Bearer " + e.serviceToken(e.guest), body, 200},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					wantStatus(t, e.req("POST", "/tutorial/createsample", c.body, c.auth), c.status)
				})
			}
		})
	}
}

// TestCreateSampleHonoursSampleTutorialID copies every section of the
// configured tutorial, however many (the original assumed five).
func TestCreateSampleHonoursSampleTutorialID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetestOpen(t), envOptions{})
	f := e.newTutorial(true)
	for i := range 4 {
		_, err := e.svc.CreateSection(t.Context(), e.ident(ownerC), NewSection{TutorialID: f.tid, Name: fmt.Sprint("Extra ", i)})
		must(t, err)
	}
	e.svc.sampleID = f.tid
	id, err := e.svc.CopySample(t.Context(), itss.Identity{UserID: e.guest, Service: true}, e.guest)
	must(t, err)
	secs, err := e.db.SectionsByTutorial(t.Context(), id)
	must(t, err)
	if len(secs) != 6 || secs[0].Name != "Hello World" || secs[5].Name != "Extra 3" {
		t.Fatalf("copied %d sections: %+v", len(secs), secs)
	}
}

func (e *env) signerToken(uid int64, role string) string {
	e.t.Helper()
	tok, err := e.signer.Issue(uid, 0, role, security.AudienceAPI, time.Hour)
	must(e.t, err)
	return tok
}

// TestCreateSampleCopiesTheSamplesPagesInOrder: the copy has the pages the
// sample shows, in its order; a section its sequence leaves out (legacy data:
// the original's sequence bugs dropped sections from it) is not a page of the
// sample and does not become one of the copy.
func TestCreateSampleCopiesTheSamplesPagesInOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetestOpen(t), envOptions{})
	f := e.newTutorial(true)
	hidden, err := e.svc.CreateSection(t.Context(), e.ident(ownerC), NewSection{TutorialID: f.tid, Name: "Hidden"})
	must(t, err)
	seq := fmt.Sprintf(`["%s", "%s"]`, f.quiz, f.code)
	must(t, e.db.UpdateTutorial(t.Context(), f.tid, store.TutorialPatch{Sequence: &seq}))
	e.svc.sampleID = f.tid
	id, err := e.svc.CopySample(t.Context(), itss.Identity{UserID: e.guest, Service: true}, e.guest)
	must(t, err)
	secs, err := e.db.SectionsByTutorial(t.Context(), id)
	must(t, err)
	if len(secs) != 2 || secs[0].Name != "Quiz" || secs[1].Name != "Hello World" {
		t.Fatalf("copied %+v, want the sample's two pages, quiz first (not %s)", secs, hidden)
	}
}
