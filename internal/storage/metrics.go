package storage

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/itss-go/itss/internal/itss"
)

// Instrument wraps b so that every operation is counted and timed in reg by
// backend, operation and outcome. Outcomes: "ok", "not_found" (an expected
// answer, not a fault), "invalid" (a key refused before any I/O) and "error".
func Instrument(b Backend, reg prometheus.Registerer) Backend {
	m := &storageMetrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "itss_storage_operations_total",
			Help: "File storage operations by backend, operation and outcome.",
		}, []string{"backend", "op", "outcome"}),
		dur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "itss_storage_operation_duration_seconds",
			Help:    "File storage operation latency by backend and operation.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"backend", "op"}),
	}
	// Both services' storages share one metric family: reuse what is there.
	var err error
	if m.ops, err = registered(reg, m.ops); err != nil {
		panic(err) // a programming error: two different metrics with one name
	}
	if m.dur, err = registered(reg, m.dur); err != nil {
		panic(err)
	}
	return &instrumented{Backend: b, m: m, name: b.Name()}
}

func registered[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

type storageMetrics struct {
	ops *prometheus.CounterVec
	dur *prometheus.HistogramVec
}

type instrumented struct {
	Backend
	m    *storageMetrics
	name string
}

// Unwrap returns the wrapped backend, for callers that need its extras.
func (i *instrumented) Unwrap() Backend { return i.Backend }

func (i *instrumented) observe(op string, start time.Time, err error) {
	outcome := "ok"
	switch {
	case err == nil:
	case itss.IsCode(err, itss.CodeNotFound):
		outcome = "not_found"
	case itss.IsCode(err, itss.CodeInvalid):
		outcome = "invalid"
	default:
		outcome = "error"
	}
	i.m.ops.WithLabelValues(i.name, op, outcome).Inc()
	i.m.dur.WithLabelValues(i.name, op).Observe(time.Since(start).Seconds())
}

func (i *instrumented) PutFile(ctx context.Context, sectionID, name string, r io.Reader) (err error) {
	defer func(start time.Time) { i.observe("put_file", start, err) }(time.Now())
	return i.Backend.PutFile(ctx, sectionID, name, r)
}

func (i *instrumented) Open(ctx context.Context, sectionID, name string) (rc io.ReadCloser, info Info, err error) {
	defer func(start time.Time) { i.observe("open", start, err) }(time.Now())
	return i.Backend.Open(ctx, sectionID, name)
}

func (i *instrumented) ReadFile(ctx context.Context, sectionID, name string) (b []byte, err error) {
	defer func(start time.Time) { i.observe("read_file", start, err) }(time.Now())
	return i.Backend.ReadFile(ctx, sectionID, name)
}

func (i *instrumented) Stat(ctx context.Context, sectionID, name string) (info Info, err error) {
	defer func(start time.Time) { i.observe("stat", start, err) }(time.Now())
	return i.Backend.Stat(ctx, sectionID, name)
}

func (i *instrumented) List(ctx context.Context, sectionID string) (infos []Info, err error) {
	defer func(start time.Time) { i.observe("list", start, err) }(time.Now())
	return i.Backend.List(ctx, sectionID)
}

func (i *instrumented) DeleteSection(ctx context.Context, sectionID string) (err error) {
	defer func(start time.Time) { i.observe("delete_section", start, err) }(time.Now())
	return i.Backend.DeleteSection(ctx, sectionID)
}

func (i *instrumented) CopySection(ctx context.Context, fromID, toID string) (err error) {
	defer func(start time.Time) { i.observe("copy_section", start, err) }(time.Now())
	return i.Backend.CopySection(ctx, fromID, toID)
}

func (i *instrumented) Stage(ctx context.Context, sectionID string) (st Stage, err error) {
	defer func(start time.Time) { i.observe("stage", start, err) }(time.Now())
	st, err = i.Backend.Stage(ctx, sectionID)
	if err != nil {
		return nil, err
	}
	return &instrumentedStage{Stage: st, i: i}, nil
}

func (i *instrumented) PutLayout(ctx context.Context, userID int64, tutorialID, role string, data []byte) (err error) {
	defer func(start time.Time) { i.observe("put_layout", start, err) }(time.Now())
	return i.Backend.PutLayout(ctx, userID, tutorialID, role, data)
}

func (i *instrumented) GetLayout(ctx context.Context, userID int64, tutorialID, role string) (b []byte, err error) {
	defer func(start time.Time) { i.observe("get_layout", start, err) }(time.Now())
	return i.Backend.GetLayout(ctx, userID, tutorialID, role)
}

func (i *instrumented) PresignURL(ctx context.Context, sectionID, name string, ttl time.Duration) (u string, err error) {
	defer func(start time.Time) { i.observe("presign", start, err) }(time.Now())
	return i.Backend.PresignURL(ctx, sectionID, name, ttl)
}

func (i *instrumented) LocalFile(ctx context.Context, sectionID, name string) (f *os.File, err error) {
	defer func(start time.Time) { i.observe("local_file", start, err) }(time.Now())
	return i.Backend.LocalFile(ctx, sectionID, name)
}

func (i *instrumented) Health(ctx context.Context) (err error) {
	defer func(start time.Time) {
		// A degraded auto backend works; only count real failures.
		if errors.Is(err, ErrDegraded) {
			i.observe("health", start, nil)
			return
		}
		i.observe("health", start, err)
	}(time.Now())
	return i.Backend.Health(ctx)
}

type instrumentedStage struct {
	Stage
	i *instrumented
}

func (s *instrumentedStage) Put(ctx context.Context, name string, r io.Reader) (err error) {
	defer func(start time.Time) { s.i.observe("stage_put", start, err) }(time.Now())
	return s.Stage.Put(ctx, name, r)
}

func (s *instrumentedStage) Commit(ctx context.Context) (err error) {
	defer func(start time.Time) { s.i.observe("stage_commit", start, err) }(time.Now())
	return s.Stage.Commit(ctx)
}

func (s *instrumentedStage) Abort(ctx context.Context) (err error) {
	defer func(start time.Time) { s.i.observe("stage_abort", start, err) }(time.Now())
	return s.Stage.Abort(ctx)
}
