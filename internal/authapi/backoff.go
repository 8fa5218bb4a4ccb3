package authapi

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/itss-go/itss/internal/httpapi"
	"github.com/itss-go/itss/internal/itss"
)

// backoffTiers escalate the wait after repeated failed logins on one account:
// a minute after 5 failures, a quarter of an hour after 20, the rest of the
// hour after 100. Counting per account (not per IP) means an attacker who
// spreads guesses over many addresses gains nothing (API.md A5).
var backoffTiers = []struct {
	max    int
	window time.Duration
}{
	{5, time.Minute},
	{20, 15 * time.Minute},
	{100, time.Hour},
}

// Backoff counts failed logins per account in the rate-limit store, so
// replicas sharing Redis share the counts.
type Backoff struct {
	Limiter httpapi.Limiter
	Log     *slog.Logger
}

func backoffKey(email string, window time.Duration) string {
	return fmt.Sprintf("login-fail:%s:%d", email, int(window.Seconds()))
}

// Check returns how long the account must wait before another attempt.
func (b *Backoff) Check(ctx context.Context, email string) (time.Duration, error) {
	var wait time.Duration
	for _, t := range backoffTiers {
		n, ttl, err := b.Limiter.Peek(ctx, backoffKey(email, t.window), t.window)
		if err != nil {
			// Fail open like the request limiter: an unavailable counter
			// store must not lock every user out.
			b.Log.WarnContext(ctx, "login back-off store unavailable", "err", err)
			return 0, nil
		}
		if n >= t.max && ttl > wait {
			wait = ttl
		}
	}
	return wait, nil
}

// Fail records a failed attempt.
func (b *Backoff) Fail(ctx context.Context, email string) {
	for _, t := range backoffTiers {
		if _, _, err := b.Limiter.Allow(ctx, backoffKey(email, t.window), t.max, t.window); err != nil {
			b.Log.WarnContext(ctx, "login back-off store unavailable", "err", err)
			return
		}
	}
}

// Reset forgets the short-term failures after a successful login; the hourly
// ceiling stays so that a known password does not reset a guessing budget.
func (b *Backoff) Reset(ctx context.Context, email string) {
	for _, t := range backoffTiers[:2] {
		if err := b.Limiter.Reset(ctx, backoffKey(email, t.window)); err != nil {
			b.Log.WarnContext(ctx, "login back-off store unavailable", "err", err)
			return
		}
	}
}

// RetryError tells the client to come back later (429 with Retry-After).
type RetryError struct{ After time.Duration }

func (e *RetryError) Error() string {
	return fmt.Sprintf("too many failed logins, retry in %s", e.After.Round(time.Second))
}

// Unwrap lets the HTTP layer see the rate-limited code.
func (e *RetryError) Unwrap() error {
	return itss.Errorf(itss.CodeRateLimited, "Too many failed login attempts. Please try again later.")
}
