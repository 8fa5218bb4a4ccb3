package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/store"
)

func ptr[T any](v T) *T { return &v }

// newID returns a 32-hex id as the services generate them.
func newID() string { return strings.ReplaceAll(uuid.NewString(), "-", "") }

func wantCode(t *testing.T, err error, code itss.Code) {
	t.Helper()
	if !itss.IsCode(err, code) {
		t.Fatalf("error = %v, want code %s", err, code)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustAuthor(t *testing.T, db *store.DB, name string) itss.User {
	t.Helper()
	u, _, err := db.CreateFormUser(t.Context(), name, "author,learner", strings.ToLower(name)+"-"+newID()[:8]+"@its.com", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", ptr("author"))
	must(t, err)
	return u
}

func mustTutorial(t *testing.T, db *store.DB, author int64, mod func(*itss.Tutorial)) itss.Tutorial {
	t.Helper()
	tu := itss.Tutorial{ID: newID(), Name: "Recursion", Language: "python", UserID: author}
	if mod != nil {
		mod(&tu)
	}
	must(t, db.CreateTutorial(t.Context(), tu))
	got, err := db.TutorialByID(t.Context(), tu.ID)
	must(t, err)
	return got
}

func mustSection(t *testing.T, db *store.DB, tutorialID string) itss.Section {
	t.Helper()
	s := itss.Section{ID: newID(), Name: "Untitled Section", TutorialType: itss.SectionCode, Language: ptr("python"), Duration: ptr(int64(0)), TutorialID: tutorialID}
	must(t, db.CreateSection(t.Context(), s))
	return s
}

func sequenceOf(t *testing.T, db *store.DB, tutorialID string) string {
	t.Helper()
	tu, err := db.TutorialByID(t.Context(), tutorialID)
	must(t, err)
	if tu.Sequence == nil {
		return "<nil>"
	}
	return *tu.Sequence
}

func seqText(ids ...string) string { return itss.FormatSequence(ids) }

// sameInstant compares two optional dates and requires stored ones in UTC.
func sameInstant(t *testing.T, what string, got, want *time.Time) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Fatalf("%s = %v, want %v", what, got, want)
	case !got.Equal(*want) || got.Location() != time.UTC:
		t.Fatalf("%s = %v (%v), want %v in UTC", what, got, got.Location(), want.UTC())
	}
}
