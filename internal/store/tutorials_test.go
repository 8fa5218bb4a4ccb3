package store_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/store/storetest"
)

func TestCreateTutorialStoresCanonicalSequenceAndUTCDates(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		author := mustAuthor(t, db, "Alice")
		sgt := time.FixedZone("SGT", 8*3600)
		start := time.Date(2025, 8, 24, 17, 19, 0, 700_000_000, sgt) // sub-second part is dropped
		tu := itss.Tutorial{ID: newID(), Name: "再帰 — Recursion 😀", Language: "python", UserID: author.ID,
			Sequence: ptr("['a1', 'b2']"), StartDate: &start, Description: ptr("Intro")}
		must(t, db.CreateTutorial(ctx, tu))
		got, err := db.TutorialByID(ctx, tu.ID)
		must(t, err)
		if got.Name != tu.Name || got.Language != "python" || got.UserID != author.ID || *got.Description != "Intro" {
			t.Fatalf("TutorialByID = %+v", got)
		}
		if *got.Sequence != `["a1", "b2"]` {
			t.Fatalf("sequence = %q, want canonical JSON", *got.Sequence)
		}
		sameInstant(t, "start", got.StartDate, ptr(time.Date(2025, 8, 24, 9, 19, 0, 0, time.UTC)))
		sameInstant(t, "end", got.EndDate, nil)

		plain := mustTutorial(t, db, author.ID, nil)
		if *plain.Sequence != "[]" || plain.Description != nil || plain.StartDate != nil {
			t.Fatalf("defaults = %+v", plain)
		}
	})
}

func TestCreateTutorialRejectsDuplicatesAndBadInput(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		tu := mustTutorial(t, db, 1, nil)
		wantCode(t, db.CreateTutorial(ctx, itss.Tutorial{ID: tu.ID, Name: "again"}), itss.CodeConflict)
		wantCode(t, db.CreateTutorial(ctx, itss.Tutorial{Name: "no id"}), itss.CodeInvalid)
		wantCode(t, db.CreateTutorial(ctx, itss.Tutorial{ID: newID(), Sequence: ptr("{x")}), itss.CodeInvalid)
		_, err := db.TutorialByID(ctx, newID())
		wantCode(t, err, itss.CodeNotFound)
	})
}

func TestUpdateTutorialChangesOnlyGivenFields(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		tu := mustTutorial(t, db, 1, func(tu *itss.Tutorial) { tu.Description = ptr("old") })
		start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
		end := start.Add(48 * time.Hour)

		must(t, db.UpdateTutorial(ctx, tu.ID, store.TutorialPatch{Name: ptr("Renamed")}))
		must(t, db.UpdateTutorial(ctx, tu.ID, store.TutorialPatch{Sequence: ptr("['x', 'y']"), SetStart: true, Start: &start, SetEnd: true, End: &end}))
		got, _ := db.TutorialByID(ctx, tu.ID)
		if got.Name != "Renamed" || *got.Description != "old" || *got.Sequence != seqText("x", "y") || got.Language != "python" {
			t.Fatalf("after updates: %+v", got)
		}
		sameInstant(t, "start", got.StartDate, &start)
		sameInstant(t, "end", got.EndDate, &end)

		// Clearing the start leaves the end alone; an empty description is kept as given.
		must(t, db.UpdateTutorial(ctx, tu.ID, store.TutorialPatch{SetStart: true, Description: ptr("")}))
		got, _ = db.TutorialByID(ctx, tu.ID)
		sameInstant(t, "start", got.StartDate, nil)
		sameInstant(t, "end", got.EndDate, &end)
		if *got.Description != "" {
			t.Fatalf("description = %q", *got.Description)
		}

		must(t, db.UpdateTutorial(ctx, tu.ID, store.TutorialPatch{})) // nothing to do, tutorial exists
		wantCode(t, db.UpdateTutorial(ctx, newID(), store.TutorialPatch{}), itss.CodeNotFound)
		wantCode(t, db.UpdateTutorial(ctx, newID(), store.TutorialPatch{Name: ptr("x")}), itss.CodeNotFound)
		wantCode(t, db.UpdateTutorial(ctx, tu.ID, store.TutorialPatch{Sequence: ptr("not a list")}), itss.CodeInvalid)
		long := make([]string, 300)
		for i := range long {
			long[i] = newID()
		}
		wantCode(t, db.UpdateTutorial(ctx, tu.ID, store.TutorialPatch{Sequence: ptr(seqText(long...))}), itss.CodeInvalid)
		if got, _ := db.TutorialByID(ctx, tu.ID); *got.Sequence != seqText("x", "y") {
			t.Fatalf("rejected updates changed the sequence to %q", *got.Sequence)
		}
	})
}

func TestDeleteTutorialRemovesSectionsAndProgressAndReturnsSectionIDs(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		author := mustAuthor(t, db, "Alice")
		learner := mustAuthor(t, db, "Lena")
		doomed := mustTutorial(t, db, author.ID, nil)
		kept := mustTutorial(t, db, author.ID, nil)
		s1, s2 := mustSection(t, db, doomed.ID), mustSection(t, db, doomed.ID)
		other := mustSection(t, db, kept.ID)
		must(t, db.UpsertProgress(ctx, learner.ID, doomed.ID, 2))
		must(t, db.UpsertProgress(ctx, learner.ID, kept.ID, 1))

		ids, err := db.DeleteTutorial(ctx, doomed.ID)
		must(t, err)
		want := []string{s1.ID, s2.ID}
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Fatalf("section ids = %v, want %v", ids, want)
		}
		_, err = db.TutorialByID(ctx, doomed.ID)
		wantCode(t, err, itss.CodeNotFound)
		_, err = db.SectionByID(ctx, s1.ID)
		wantCode(t, err, itss.CodeNotFound)
		if p, _ := db.LastPage(ctx, learner.ID, doomed.ID); p != 0 {
			t.Fatalf("progress survived: %d", p)
		}
		if _, err := db.SectionByID(ctx, other.ID); err != nil {
			t.Fatalf("other tutorial's section: %v", err)
		}
		if p, _ := db.LastPage(ctx, learner.ID, kept.ID); p != 1 {
			t.Fatalf("other tutorial's progress = %d", p)
		}

		_, err = db.DeleteTutorial(ctx, doomed.ID)
		wantCode(t, err, itss.CodeNotFound)
		empty := mustTutorial(t, db, author.ID, nil)
		ids, err = db.DeleteTutorial(ctx, empty.ID)
		if err != nil || len(ids) != 0 {
			t.Fatalf("delete empty tutorial = %v, %v", ids, err)
		}
	})
}

func TestTutorialsByAuthorListsOwnTutorialsWithAuthorDetails(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		alice, err := db.CreateGoogleUser(ctx, "Alice", ptr("https://pic/a"), "author", "a1", "a@gmail.com")
		must(t, err)
		bob := mustAuthor(t, db, "Bob")
		past := time.Now().Add(-time.Hour)
		a1 := mustTutorial(t, db, alice.ID, nil)
		a2 := mustTutorial(t, db, alice.ID, func(tu *itss.Tutorial) { tu.StartDate = &past })
		mustTutorial(t, db, bob.ID, nil)
		must(t, db.UpsertProgress(ctx, bob.ID, a1.ID, 4))

		cards, err := db.TutorialsByAuthor(ctx, alice.ID)
		must(t, err)
		want := []string{a1.ID, a2.ID}
		slices.Sort(want)
		if len(cards) != 2 || cards[0].ID != want[0] || cards[1].ID != want[1] {
			t.Fatalf("cards = %+v, want ids %v", cards, want)
		}
		for _, c := range cards {
			if c.AuthorName != "Alice" || c.AuthorPicture == nil || *c.AuthorPicture != "https://pic/a" || c.LastPage != 0 || *c.Sequence != "[]" {
				t.Fatalf("card = %+v", c)
			}
		}
		if cards, err := db.TutorialsByAuthor(ctx, 999); err != nil || len(cards) != 0 {
			t.Fatalf("unknown author = %v, %v", cards, err)
		}
	})
}

func TestPublishedTutorialsUsesStrictWindowAndCallerProgress(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
		author := mustAuthor(t, db, "Alice")
		learner := mustAuthor(t, db, "Lena")
		other := mustAuthor(t, db, "Otto")
		window := map[string][2]*time.Time{
			"open-ended":    {at(-time.Hour), nil},
			"open":          {at(-time.Hour), at(time.Hour)},
			"sgt input":     {ptr(now.Add(-time.Minute).In(time.FixedZone("SGT", 8*3600))), nil},
			"ended":         {at(-2 * time.Hour), at(-time.Hour)},
			"future":        {at(time.Hour), nil},
			"hidden":        {nil, nil},
			"end only":      {nil, at(time.Hour)},
			"starts at now": {at(0), nil},
			"ends at now":   {at(-time.Hour), at(0)},
		}
		ids := map[string]string{}
		for name, w := range window {
			tu := mustTutorial(t, db, author.ID, func(tu *itss.Tutorial) { tu.Name, tu.StartDate, tu.EndDate = name, w[0], w[1] })
			ids[name] = tu.ID
		}
		orphan := mustTutorial(t, db, 4242, func(tu *itss.Tutorial) { tu.StartDate = at(-time.Hour) })
		must(t, db.UpsertProgress(ctx, learner.ID, ids["open"], 3))
		must(t, db.UpsertProgress(ctx, other.ID, ids["open-ended"], 5))

		cards, err := db.PublishedTutorials(ctx, now, learner.ID)
		must(t, err)
		var got []string
		for _, c := range cards {
			got = append(got, c.Name)
			wantPage := 0
			if c.ID == ids["open"] {
				wantPage = 3
			}
			if c.LastPage != wantPage {
				t.Fatalf("%s: last page %d, want %d", c.Name, c.LastPage, wantPage)
			}
			if c.ID == orphan.ID {
				if c.AuthorName != "" {
					t.Fatalf("orphan author name = %q", c.AuthorName)
				}
			} else if c.AuthorName != "Alice" {
				t.Fatalf("%s: author %q", c.Name, c.AuthorName)
			}
		}
		want := []string{"open-ended", "open", "sgt input", orphan.Name}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("published = %v, want %v", got, want)
		}
		if !slices.IsSortedFunc(cards, func(a, b store.TutorialCard) int { return strings.Compare(a.ID, b.ID) }) {
			t.Fatal("cards not ordered by id")
		}

		anon, err := db.PublishedTutorials(ctx, now, 0)
		must(t, err)
		for _, c := range anon {
			if c.LastPage != 0 {
				t.Fatalf("anonymous listing has progress: %+v", c)
			}
		}
		if len(anon) != len(cards) {
			t.Fatalf("anonymous listing has %d cards, want %d", len(anon), len(cards))
		}
	})
}

func TestLockTutorialOnlyInsideATransaction(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		tut := mustTutorial(t, db, mustAuthor(t, db, "Alice").ID, nil)
		if err := db.LockTutorial(ctx, tut.ID); err == nil {
			t.Fatal("LockTutorial outside a transaction must fail")
		}
		err := db.InTx(ctx, func(tx *store.DB) error {
			if err := tx.LockTutorial(ctx, "ffffffffffffffffffffffffffffffff"); !itss.IsCode(err, itss.CodeNotFound) {
				t.Errorf("unknown tutorial: %v", err)
			}
			return tx.LockTutorial(ctx, tut.ID)
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
