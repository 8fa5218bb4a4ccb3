package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Check is one readiness dependency (database, storage, …).
type Check struct {
	Name string
	Fn   func(context.Context) error
}

// CheckTimeout bounds each readiness check so a hung dependency answers 503
// rather than hanging the probe.
const CheckTimeout = 5 * time.Second

// Health is liveness: the process serves HTTP. extra (may be nil) adds
// service facts such as the sandbox isolation level.
func Health(extra func() map[string]any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body := map[string]any{}
		if extra != nil {
			for k, v := range extra() {
				body[k] = v
			}
		}
		body["status"] = "ok"
		JSON(w, http.StatusOK, body)
	}
}

// Ready runs every check concurrently and answers 200 {"status": "ready",
// "checks": {name: "ok"}} or 503 in the error shape naming the failed checks.
// Failure details go to the log only: they may name internal hosts.
func Ready(checks ...Check) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		results := make(map[string]string, len(checks))
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, c := range checks {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(r.Context(), CheckTimeout)
				defer cancel()
				err := c.Fn(ctx)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					results[c.Name] = "failed"
					LoggerFrom(r.Context()).LogAttrs(r.Context(), slog.LevelWarn, "readiness check failed",
						slog.String("check", c.Name), slog.Any("err", err))
					return
				}
				results[c.Name] = "ok"
			})
		}
		wg.Wait()
		// Named in the order given, whatever finished first.
		var failed []string
		for _, c := range checks {
			if results[c.Name] == "failed" {
				failed = append(failed, c.Name)
			}
		}
		if len(failed) > 0 {
			ErrorStatus(w, r, http.StatusServiceUnavailable, "Not ready: "+strings.Join(failed, ", ")+" failed",
				map[string]any{"checks": results})
			return
		}
		JSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": results})
	}
}
