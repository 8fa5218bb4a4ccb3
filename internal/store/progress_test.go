package store_test

import (
	"testing"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/store/storetest"
)

func TestUpsertProgressOverwritesLastOpenedPage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		learner := mustAuthor(t, db, "Lena")
		tu := mustTutorial(t, db, 1, nil)
		if p, err := db.LastPage(ctx, learner.ID, tu.ID); p != 0 || err != nil {
			t.Fatalf("no progress = %d, %v", p, err)
		}
		for _, page := range []int{1, 4, 2} { // may go down: "last opened"
			must(t, db.UpsertProgress(ctx, learner.ID, tu.ID, page))
			if p, err := db.LastPage(ctx, learner.ID, tu.ID); p != page || err != nil {
				t.Fatalf("after page %d: %d, %v", page, p, err)
			}
		}
		must(t, db.UpsertProgress(ctx, learner.ID, tu.ID, 2)) // same value again
		wantCode(t, db.UpsertProgress(ctx, 999, tu.ID, 1), itss.CodeNotFound)
		wantCode(t, db.UpsertProgress(ctx, learner.ID, newID(), 1), itss.CodeNotFound)
	})
}
