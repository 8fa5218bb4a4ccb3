package runner

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRegisterMetricsCountsRunsByOutcome(t *testing.T) {
	t.Parallel()
	r := newRunner(t, Options{})
	requireLanguage(t, r, Python)
	reg := prometheus.NewRegistry()
	if err := r.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	run(t, r, Python, "print(1)", "")
	run(t, r, Python, "raise SystemExit(3)", "")
	if _, err := r.Run(context.Background(), Request{Language: "cobol", Source: "x"}); err == nil {
		t.Fatal("unsupported language accepted")
	}
	want := `
# HELP itss_runner_runs_total Program runs and compilations by language, mode (run/compile) and outcome.
# TYPE itss_runner_runs_total counter
itss_runner_runs_total{language="other",mode="run",outcome="refused"} 1
itss_runner_runs_total{language="python",mode="run",outcome="exit_nonzero"} 1
itss_runner_runs_total{language="python",mode="run",outcome="ok"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "itss_runner_runs_total"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "itss_runner_queue_depth", "itss_runner_running", "itss_runner_run_duration_seconds"); err != nil || n != 3 {
		t.Fatalf("pool gauges and duration histogram: %d series, %v", n, err)
	}
}
