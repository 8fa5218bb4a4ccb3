package runner

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/itss-go/itss/internal/itss"
)

type runMetrics struct {
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	limits   *prometheus.CounterVec
}

// RegisterMetrics exports the pool's state (queue depth, running programs)
// and, from then on, every run by language, mode and outcome, its duration
// and the limits it hit.
func (r *Runner) RegisterMetrics(reg prometheus.Registerer) error {
	m := &runMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "itss_runner_runs_total",
			Help: "Program runs and compilations by language, mode (run/compile) and outcome.",
		}, []string{"language", "mode", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "itss_runner_run_duration_seconds",
			Help:    "Wall time of runs and compilations, queueing included.",
			Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20},
		}, []string{"language", "mode"}),
		limits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "itss_runner_limits_hit_total",
			Help: "Runs stopped or cut by a limit (wall, cpu, memory, processes, file_size, output).",
		}, []string{"language", "limit"}),
	}
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "itss_runner_queue_depth",
		Help: "Programs waiting for a worker.",
	}, func() float64 { _, q := r.Busy(); return float64(q) })
	running := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "itss_runner_running",
		Help: "Programs running now.",
	}, func() float64 { n, _ := r.Busy(); return float64(n) })
	for _, c := range []prometheus.Collector{m.runs, m.duration, m.limits, queued, running} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	r.metrics.Store(m)
	return nil
}

// record counts one call of Run or Compile; outcomes: ok, exit_nonzero,
// timeout, limit, busy, refused (bad input), unavailable, error.
func (r *Runner) record(mode, lang string, start time.Time, res Result, err error) {
	m := r.metrics.Load()
	if m == nil {
		return
	}
	switch lang {
	case Python, JavaScript, Java:
	default:
		lang = "other" // never let a client mint label values
	}
	outcome := "ok"
	switch {
	case errors.Is(err, ErrBusy):
		outcome = "busy"
	case itss.IsCode(err, itss.CodeInvalid), itss.IsCode(err, itss.CodeTooLarge):
		outcome = "refused"
	case itss.IsCode(err, itss.CodeUnavailable):
		outcome = "unavailable"
	case err != nil:
		outcome = "error"
	case res.TimedOut:
		outcome = "timeout"
	case len(res.LimitsHit) > 0:
		outcome = "limit"
	case res.ExitCode != 0:
		outcome = "exit_nonzero"
	}
	m.runs.WithLabelValues(lang, mode, outcome).Inc()
	if err == nil {
		m.duration.WithLabelValues(lang, mode).Observe(time.Since(start).Seconds())
	}
	for _, l := range res.LimitsHit {
		m.limits.WithLabelValues(lang, l).Inc()
	}
}
