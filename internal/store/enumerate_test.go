package store_test

import (
	"slices"
	"testing"

	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/store/storetest"
)

func TestSectionIDsListsEverySectionSorted(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		ids, err := db.SectionIDs(ctx)
		must(t, err)
		if ids == nil || len(ids) != 0 {
			t.Fatalf("SectionIDs of an empty database = %#v, want empty", ids)
		}
		a := mustAuthor(t, db, "Ada")
		t1 := mustTutorial(t, db, a.ID, nil)
		t2 := mustTutorial(t, db, a.ID, nil)
		var want []string
		for _, tu := range []string{t1.ID, t1.ID, t2.ID} {
			want = append(want, mustSection(t, db, tu).ID)
		}
		slices.Sort(want)
		ids, err = db.SectionIDs(ctx)
		must(t, err)
		if !slices.Equal(ids, want) {
			t.Fatalf("SectionIDs = %v, want %v", ids, want)
		}
	})
}

func TestSectionIDsOfTutorialsReturnsOnlyTheirSections(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		a := mustAuthor(t, db, "Ada")
		t1 := mustTutorial(t, db, a.ID, nil)
		t2 := mustTutorial(t, db, a.ID, nil)
		t3 := mustTutorial(t, db, a.ID, nil)
		want := []string{mustSection(t, db, t1.ID).ID, mustSection(t, db, t1.ID).ID, mustSection(t, db, t3.ID).ID}
		mustSection(t, db, t2.ID)
		slices.Sort(want)

		ids, err := db.SectionIDsOfTutorials(ctx, []string{t3.ID, t1.ID, t1.ID, newID()})
		must(t, err)
		if !slices.Equal(ids, want) {
			t.Fatalf("SectionIDsOfTutorials = %v, want %v", ids, want)
		}
		ids, err = db.SectionIDsOfTutorials(ctx, nil)
		must(t, err)
		if ids == nil || len(ids) != 0 {
			t.Fatalf("SectionIDsOfTutorials(nil) = %#v, want empty", ids)
		}
	})
}

// TestSectionIDsOfTutorialsSplitsLongLists asks for more tutorials than one
// IN list holds.
func TestSectionIDsOfTutorialsSplitsLongLists(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	a := mustAuthor(t, db, "Ada")
	first := mustTutorial(t, db, a.ID, nil)
	last := mustTutorial(t, db, a.ID, nil)
	want := []string{mustSection(t, db, first.ID).ID, mustSection(t, db, last.ID).ID}
	slices.Sort(want)
	ask := []string{first.ID}
	for range 1200 {
		ask = append(ask, newID())
	}
	ask = append(ask, last.ID)
	ids, err := db.SectionIDsOfTutorials(t.Context(), ask)
	must(t, err)
	if !slices.Equal(ids, want) {
		t.Fatalf("SectionIDsOfTutorials = %v, want %v", ids, want)
	}
}
