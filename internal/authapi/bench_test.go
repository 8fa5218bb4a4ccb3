package authapi_test

import (
	"testing"

	"github.com/itss-go/itss/internal/security"
	"github.com/itss-go/itss/internal/store/storetest"
)

// BenchmarkLoginRoundTrip measures POST /auth/login over HTTP on SQLite with
// the production argon2id parameters (hash verification dominates).
func BenchmarkLoginRoundTrip(b *testing.B) {
	params := security.DefaultArgon2Params()
	e := newEnv(b, storetest.Open(b), envOptions{argon: &params})
	e.register("Bea", "bea@example.com", "Passw0rd!", "learner")
	b.ReportAllocs()
	for b.Loop() {
		// Each login comes from a fresh client address (trusted proxy), so
		// the per-IP limiter does not interfere with the measurement.
		e.login("bea@example.com", "Passw0rd!", "learner")
	}
}
