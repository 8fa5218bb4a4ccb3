package storage_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/itss-go/itss/internal/storage"
)

func TestInstrumentCountsOperationsByOutcome(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base, err := storage.New(context.Background(), storage.Options{Type: "local", RecordingsPath: dir + "/r", LayoutsPath: dir + "/l"})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	b := storage.Instrument(base, reg)
	ctx := context.Background()
	sid := "0123456789abcdef0123456789abcdef"
	if err := b.PutFile(ctx, sid, "description.md", strings.NewReader("# hi")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReadFile(ctx, sid, "transcript.json"); err == nil {
		t.Fatal("missing file read without error")
	}
	if _, err := b.ReadFile(ctx, "../etc", "passwd"); err == nil {
		t.Fatal("invalid key accepted")
	}
	st, err := b.Stage(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "code_content.txt", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP itss_storage_operations_total File storage operations by backend, operation and outcome.
# TYPE itss_storage_operations_total counter
itss_storage_operations_total{backend="local",op="put_file",outcome="ok"} 1
itss_storage_operations_total{backend="local",op="read_file",outcome="invalid"} 1
itss_storage_operations_total{backend="local",op="read_file",outcome="not_found"} 1
itss_storage_operations_total{backend="local",op="stage",outcome="ok"} 1
itss_storage_operations_total{backend="local",op="stage_commit",outcome="ok"} 1
itss_storage_operations_total{backend="local",op="stage_put",outcome="ok"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "itss_storage_operations_total"); err != nil {
		t.Fatal(err)
	}
	// A second wrapper (another backend in the same process) shares the family.
	storage.Instrument(base, reg)
}
