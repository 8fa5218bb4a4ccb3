package store_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/store/storetest"
)

func TestCreateSectionStoresRowAndAppendsToSequence(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		tu := mustTutorial(t, db, 1, nil)
		s := itss.Section{ID: newID(), Name: "Intro", TutorialType: itss.SectionQuestion, CodeInput: ptr("3\n4\n"),
			Language: ptr("java"), FrequentWord: ptr(`["loop", "sum"]`), Duration: ptr(int64(61234)), TutorialID: tu.ID}
		must(t, db.CreateSection(ctx, s))
		got, err := db.SectionByID(ctx, s.ID)
		must(t, err)
		if got.ID != s.ID || got.Name != s.Name || got.TutorialType != s.TutorialType || *got.CodeInput != *s.CodeInput ||
			*got.Language != "java" || *got.FrequentWord != *s.FrequentWord || *got.Duration != 61234 || got.TutorialID != tu.ID {
			t.Fatalf("SectionByID = %+v", got)
		}
		s2 := mustSection(t, db, tu.ID)
		if seq := sequenceOf(t, db, tu.ID); seq != seqText(s.ID, s2.ID) {
			t.Fatalf("sequence = %s", seq)
		}
		bare := itss.Section{ID: newID(), Name: "Bare", TutorialType: itss.SectionCode, TutorialID: tu.ID}
		must(t, db.CreateSection(ctx, bare))
		if got, _ := db.SectionByID(ctx, bare.ID); got.CodeInput != nil || got.Language != nil || got.FrequentWord != nil || got.Duration != nil {
			t.Fatalf("NULL columns read back as %+v", got)
		}
	})
}

func TestCreateSectionFailuresLeaveSequenceAlone(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		tu := mustTutorial(t, db, 1, nil)
		s := mustSection(t, db, tu.ID)
		other := mustTutorial(t, db, 1, nil)
		// The id is taken (by a section of another tutorial): conflict, and
		// the tutorial's sequence is not touched.
		err := db.CreateSection(ctx, itss.Section{ID: s.ID, Name: "dup", TutorialType: "Code", TutorialID: other.ID})
		wantCode(t, err, itss.CodeConflict)
		if seq := sequenceOf(t, db, other.ID); seq != "[]" {
			t.Fatalf("sequence after conflict = %s", seq)
		}
		wantCode(t, db.CreateSection(ctx, itss.Section{ID: newID(), Name: "x", TutorialType: "Code", TutorialID: newID()}), itss.CodeNotFound)
		wantCode(t, db.CreateSection(ctx, itss.Section{Name: "x", TutorialID: tu.ID}), itss.CodeInvalid)
		if seq := sequenceOf(t, db, tu.ID); seq != seqText(s.ID) {
			t.Fatalf("sequence = %s", seq)
		}
	})
}

func TestCreateSectionRepairsLegacySequenceInsteadOfDiscardingIt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		tu := mustTutorial(t, db, 1, nil)
		a, b := mustSection(t, db, tu.ID), mustSection(t, db, tu.ID)
		// What the original's "Save Sequence" wrote: a Python list repr.
		legacy := "['" + b.ID + "', '" + a.ID + "']"
		setRawSequence(t, db, tu.ID, legacy)
		c := mustSection(t, db, tu.ID)
		if seq := sequenceOf(t, db, tu.ID); seq != seqText(b.ID, a.ID, c.ID) {
			t.Fatalf("sequence = %s, want repaired order b, a, c", seq)
		}
		// Unreadable text: rebuilt from the rows (order lost, members kept).
		setRawSequence(t, db, tu.ID, "garbage")
		d := mustSection(t, db, tu.ID)
		ids, _, err := itss.ParseSequence(ptr(sequenceOf(t, db, tu.ID)))
		must(t, err)
		want := []string{a.ID, b.ID, c.ID, d.ID}
		got := slices.Clone(ids)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || ids[len(ids)-1] != d.ID {
			t.Fatalf("rebuilt sequence = %v", ids)
		}
	})
}

func TestConcurrentCreateSectionKeepsEveryID(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		tu := mustTutorial(t, db, 1, nil)
		const n = 8
		ids := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			ids[i] = newID()
			wg.Go(func() {
				if err := db.CreateSection(ctx, itss.Section{ID: ids[i], Name: "s", TutorialType: "Code", TutorialID: tu.ID}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got, _, err := itss.ParseSequence(ptr(sequenceOf(t, db, tu.ID)))
		must(t, err)
		slices.Sort(got)
		slices.Sort(ids)
		if !slices.Equal(got, ids) {
			t.Fatalf("sequence has %v, want %v", got, ids)
		}

		// And deleting them all concurrently leaves an empty sequence.
		for _, id := range ids {
			wg.Go(func() {
				if err := db.DeleteSection(ctx, id); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if seq := sequenceOf(t, db, tu.ID); seq != "[]" {
			t.Fatalf("sequence after deletes = %s", seq)
		}
	})
}

func TestSectionsByTutorialFollowsSequenceThenID(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		tu := mustTutorial(t, db, 1, nil)
		a, b, c := mustSection(t, db, tu.ID), mustSection(t, db, tu.ID), mustSection(t, db, tu.ID)
		order := func() []string {
			secs, err := db.SectionsByTutorial(ctx, tu.ID)
			must(t, err)
			var ids []string
			for _, s := range secs {
				if s.TutorialID != tu.ID {
					t.Fatalf("section of another tutorial: %+v", s)
				}
				ids = append(ids, s.ID)
			}
			return ids
		}
		if got := order(); !slices.Equal(got, []string{a.ID, b.ID, c.ID}) {
			t.Fatalf("creation order = %v", got)
		}
		must(t, db.UpdateTutorial(ctx, tu.ID, store.TutorialPatch{Sequence: ptr(seqText(c.ID, a.ID))}))
		if got := order(); !slices.Equal(got, []string{c.ID, a.ID, b.ID}) {
			t.Fatalf("after reorder = %v, want c, a, then b (missing from sequence)", got)
		}
		setRawSequence(t, db, tu.ID, "['"+b.ID+"', '"+c.ID+"', '"+a.ID+"']")
		if got := order(); !slices.Equal(got, []string{b.ID, c.ID, a.ID}) {
			t.Fatalf("legacy sequence order = %v", got)
		}
		if secs, err := db.SectionsByTutorial(ctx, newID()); err != nil || len(secs) != 0 {
			t.Fatalf("unknown tutorial = %v, %v", secs, err)
		}
	})
}

func TestUpdateSectionChangesOnlyGivenFields(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		tu := mustTutorial(t, db, 1, nil)
		s := mustSection(t, db, tu.ID)
		must(t, db.UpdateSection(ctx, s.ID, store.SectionPatch{Name: ptr("Loops"), CodeInput: ptr("5"), FrequentWord: ptr(`["loop"]`)}))
		must(t, db.UpdateSection(ctx, s.ID, store.SectionPatch{TutorialType: ptr("Question"), Language: ptr("java"), Duration: ptr(int64(900))}))
		got, _ := db.SectionByID(ctx, s.ID)
		if got.Name != "Loops" || *got.CodeInput != "5" || *got.FrequentWord != `["loop"]` || got.TutorialType != "Question" ||
			*got.Language != "java" || *got.Duration != 900 || got.TutorialID != tu.ID {
			t.Fatalf("after updates: %+v", got)
		}
		must(t, db.UpdateSection(ctx, s.ID, store.SectionPatch{}))
		must(t, db.UpdateSection(ctx, s.ID, store.SectionPatch{Name: ptr("Loops")})) // same value
		wantCode(t, db.UpdateSection(ctx, newID(), store.SectionPatch{}), itss.CodeNotFound)
		wantCode(t, db.UpdateSection(ctx, newID(), store.SectionPatch{Name: ptr("x")}), itss.CodeNotFound)
		_, err := db.SectionByID(ctx, newID())
		wantCode(t, err, itss.CodeNotFound)
	})
}

func TestDeleteSectionRemovesRowAndSequenceEntry(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		tu := mustTutorial(t, db, 1, nil)
		a, b, c := mustSection(t, db, tu.ID), mustSection(t, db, tu.ID), mustSection(t, db, tu.ID)
		must(t, db.DeleteSection(ctx, b.ID))
		if seq := sequenceOf(t, db, tu.ID); seq != seqText(a.ID, c.ID) {
			t.Fatalf("sequence = %s", seq)
		}
		_, err := db.SectionByID(ctx, b.ID)
		wantCode(t, err, itss.CodeNotFound)
		wantCode(t, db.DeleteSection(ctx, b.ID), itss.CodeNotFound)

		// A legacy repr is repaired, not reset to [] as the original did.
		setRawSequence(t, db, tu.ID, "['"+c.ID+"', '"+a.ID+"']")
		must(t, db.DeleteSection(ctx, a.ID))
		if seq := sequenceOf(t, db, tu.ID); seq != seqText(c.ID) {
			t.Fatalf("sequence = %s", seq)
		}
	})
}

// setRawSequence writes sequence text as the original system could have,
// bypassing the store's canonicalisation.
func setRawSequence(t *testing.T, db *store.DB, tutorialID, text string) {
	t.Helper()
	if _, err := db.Raw().ExecContext(t.Context(), "UPDATE `tutorial` SET `sequence` = ? WHERE `id` = ?", text, tutorialID); err != nil {
		t.Fatal(err)
	}
}
