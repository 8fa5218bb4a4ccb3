package store_test

import (
	"errors"
	"testing"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/store/storetest"
)

func TestInTxRollsBackOnErrorAndPanic(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		tu := itss.Tutorial{ID: newID(), Name: "half-written", Language: "python", UserID: 1}
		boom := errors.New("boom")
		err := db.InTx(ctx, func(tx *store.DB) error {
			must(t, tx.CreateTutorial(ctx, tu))
			// A nested call joins the transaction: its section goes too.
			must(t, tx.InTx(ctx, func(inner *store.DB) error {
				return inner.CreateSection(ctx, itss.Section{ID: newID(), Name: "s", TutorialType: "Code", TutorialID: tu.ID})
			}))
			if _, err := tx.TutorialByID(ctx, tu.ID); err != nil {
				t.Fatalf("not visible inside its transaction: %v", err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want boom", err)
		}
		_, err = db.TutorialByID(ctx, tu.ID)
		wantCode(t, err, itss.CodeNotFound)
		if secs, _ := db.SectionsByTutorial(ctx, tu.ID); len(secs) != 0 {
			t.Fatalf("sections survived rollback: %+v", secs)
		}

		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("panic swallowed")
				}
			}()
			_ = db.InTx(ctx, func(tx *store.DB) error {
				must(t, tx.CreateTutorial(ctx, tu))
				panic("boom")
			})
		}()
		_, err = db.TutorialByID(ctx, tu.ID)
		wantCode(t, err, itss.CodeNotFound)

		must(t, db.InTx(ctx, func(tx *store.DB) error { return tx.CreateTutorial(ctx, tu) }))
		if _, err := db.TutorialByID(ctx, tu.ID); err != nil {
			t.Fatalf("committed tutorial: %v", err)
		}
	})
}

func TestFailedStepRollsBackEarlierStepsOfAnOperation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		// CreateSection inserts the row and then stores the sequence; a
		// sequence that would overflow its column fails the second step,
		// and the row of the first must not remain.
		tu := mustTutorial(t, db, 1, nil)
		ids := make([]string, 277)
		for i := range ids {
			ids[i] = newID()
		}
		must(t, db.UpdateTutorial(ctx, tu.ID, store.TutorialPatch{Sequence: ptr(seqText(ids...))}))
		s := itss.Section{ID: newID(), Name: "one too many", TutorialType: "Code", TutorialID: tu.ID}
		wantCode(t, db.CreateSection(ctx, s), itss.CodeInvalid)
		_, err := db.SectionByID(ctx, s.ID)
		wantCode(t, err, itss.CodeNotFound)
	})
}
