package tutorialapi

import (
	"testing"

	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/store/storetest"
)

// TestPublishDatesOutsideTheColumnsRangeAreRefused: DATETIME holds the years
// 1000 to 9999. A date outside them was a 500 on MySQL, and on SQLite it was
// stored and then broke every read of the tutorial (its list, its header,
// its updates).
func TestPublishDatesOutsideTheColumnsRangeAreRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db, envOptions{})
		f := e.newBareTutorial()
		for _, d := range []string{"9999-12-31T23:59:59-08:00", "0999-12-31T00:00:00Z", "0001-01-01"} {
			for _, key := range []string{"startDatetime", "endDatetime"} {
				m := wantStatus(t, e.req("POST", "/tutorial/update/"+f.tid, map[string]any{key: d}, ownerC), 400)
				if m["message"] != "Invalid "+key+": Date out of range" {
					t.Fatalf("%s %s: %v", key, d, m)
				}
			}
		}
		wantStatus(t, e.req("GET", "/tutorial/get/"+f.tid, nil, ownerC), 200)
		wantStatus(t, e.req("POST", "/tutorial/update/"+f.tid, map[string]any{"startDatetime": "9999-12-31T23:59:59Z",
			"endDatetime": "1000-01-01T00:00:00Z"}, ownerC), 200)
		wantStatus(t, e.req("GET", "/tutorial/get/"+f.tid, nil, ownerC), 200)
	})
}
