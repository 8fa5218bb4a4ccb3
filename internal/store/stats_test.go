package store_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/itss-go/itss/internal/store/storetest"
)

func TestCollectorExportsPoolStatistics(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	if err := db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if db.Stats().OpenConnections < 1 {
		t.Fatalf("stats %+v", db.Stats())
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(db.Collector("itss"))
	n, err := testutil.GatherAndCount(reg, "go_sql_open_connections", "go_sql_max_open_connections")
	if err != nil || n != 2 {
		t.Fatalf("gathered %d series, err %v", n, err)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "go_sql_") && mf.GetMetric()[0].GetLabel()[0].GetValue() != "itss" {
			t.Fatalf("%s not labelled with the database name", mf.GetName())
		}
	}
}
