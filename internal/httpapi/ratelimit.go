package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limiter counts hits per key in fixed windows. Allow records one hit and
// reports whether it is within limit; when it is not, retryAfter is the time
// left until the window resets. Peek reads a counter without counting (count
// 0 when there is none) and Reset forgets it; the login back-off uses both.
type Limiter interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)
	Peek(ctx context.Context, key string, window time.Duration) (count int, ttl time.Duration, err error)
	Reset(ctx context.Context, key string) error
}

// RedisKeyPrefix is put before every key NewLimiter's Redis store writes.
const RedisKeyPrefix = "itss:ratelimit:"

// NewLimiter returns the store LIMITER_STORAGE_URI names: "memory://" (or
// "") for one process, "redis://…" or "rediss://…" so replicas share
// counters. Connecting is lazy: an unreachable Redis fails open per request
// (with a log line) rather than keeping the service down.
func NewLimiter(uri string) (Limiter, error) {
	switch {
	case uri == "" || uri == "memory://" || uri == "memory":
		return NewMemoryLimiter(), nil
	case strings.HasPrefix(uri, "redis://"), strings.HasPrefix(uri, "rediss://"):
		opts, err := redis.ParseURL(uri)
		if err != nil {
			return nil, fmt.Errorf("limiter storage: invalid redis URI: %w", err)
		}
		// Without this the client ignores context deadlines on the socket
		// and a hung Redis holds every limited request for seconds per try.
		opts.ContextTimeoutEnabled = true
		return NewRedisLimiter(redis.NewClient(opts), RedisKeyPrefix), nil
	}
	return nil, fmt.Errorf("limiter storage: unsupported URI scheme (want memory:// or redis://)")
}

// MemoryLimiter is a fixed-window counter per key in process memory.
// Expired windows are swept at most once a minute, so memory holds only the
// keys seen within the longest window in use.
type MemoryLimiter struct {
	mu        sync.Mutex
	windows   map[string]*memWindow
	lastSweep time.Time
	now       func() time.Time
}

type memWindow struct {
	count int
	reset time.Time
}

const sweepEvery = time.Minute

// NewMemoryLimiter returns an empty in-memory limiter.
func NewMemoryLimiter() *MemoryLimiter {
	return &MemoryLimiter{windows: map[string]*memWindow{}, now: time.Now}
}

// Allow implements Limiter.
func (l *MemoryLimiter) Allow(_ context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.lastSweep) >= sweepEvery {
		for k, w := range l.windows {
			if !now.Before(w.reset) {
				delete(l.windows, k)
			}
		}
		l.lastSweep = now
	}
	w := l.windows[key]
	if w == nil || !now.Before(w.reset) {
		w = &memWindow{reset: now.Add(window)}
		l.windows[key] = w
	}
	if w.count < math.MaxInt32 {
		w.count++
	}
	if w.count > limit {
		return false, w.reset.Sub(now), nil
	}
	return true, 0, nil
}

// Peek implements Limiter.
func (l *MemoryLimiter) Peek(_ context.Context, key string, _ time.Duration) (int, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.windows[key]
	if w == nil || !now.Before(w.reset) {
		return 0, 0, nil
	}
	return w.count, w.reset.Sub(now), nil
}

// Reset implements Limiter.
func (l *MemoryLimiter) Reset(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.windows, key)
	return nil
}

// Len is the number of live counters (for tests and debugging).
func (l *MemoryLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.windows)
}

// RedisLimiter is a fixed-window counter per key in Redis, shared by every
// replica. One Lua script increments and sets the expiry atomically, so a
// crash between the two can never leave a counter without expiry.
//
// Failing open must also fail fast: every call has its own short deadline,
// and after a failure the store is left alone for redisCooldown, during which
// calls return errStoreDown at once. A dead or hung Redis then costs one
// request per replica a fraction of a second, not every request seconds.
type RedisLimiter struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time

	mu        sync.Mutex
	downUntil time.Time
}

const (
	// redisTimeout bounds one limiter call. It reaches the socket only with
	// the client's ContextTimeoutEnabled, which NewLimiter sets; callers of
	// NewRedisLimiter should set it too.
	redisTimeout = 500 * time.Millisecond
	// redisCooldown is how long a failed store is not asked again.
	redisCooldown = 5 * time.Second
)

// errStoreDown is returned without contacting Redis during the cooldown
// that follows a failure.
var errStoreDown = errors.New("redis rate limit: store failed recently, not asked again until the cooldown ends")

// NewRedisLimiter uses client with keys prefixed by prefix.
func NewRedisLimiter(client redis.UniversalClient, prefix string) *RedisLimiter {
	return &RedisLimiter{client: client, prefix: prefix, now: time.Now}
}

// call runs fn with the limiter's deadline, unless the store failed within
// the cooldown, and starts a cooldown when fn fails for a reason other than
// the caller giving up.
func (l *RedisLimiter) call(ctx context.Context, fn func(ctx context.Context) error) error {
	l.mu.Lock()
	down := l.now().Before(l.downUntil)
	l.mu.Unlock()
	if down {
		return errStoreDown
	}
	cctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	err := fn(cctx)
	if err != nil && ctx.Err() == nil {
		l.mu.Lock()
		l.downUntil = l.now().Add(redisCooldown)
		l.mu.Unlock()
	}
	return err
}

// The PTTL test also repairs a key that somehow lost its expiry.
var incrScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// Allow implements Limiter.
func (l *RedisLimiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	ms := window.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	var res []int64
	err := l.call(ctx, func(ctx context.Context) (err error) {
		res, err = incrScript.Run(ctx, l.client, []string{l.prefix + key}, ms).Int64Slice()
		return err
	})
	if err != nil {
		return true, 0, fmt.Errorf("redis rate limit: %w", err)
	}
	if len(res) != 2 {
		return true, 0, fmt.Errorf("redis rate limit: unexpected reply %v", res)
	}
	if res[0] > int64(limit) {
		return false, time.Duration(res[1]) * time.Millisecond, nil
	}
	return true, 0, nil
}

// Peek implements Limiter.
func (l *RedisLimiter) Peek(ctx context.Context, key string, _ time.Duration) (int, time.Duration, error) {
	var get *redis.StringCmd
	var ttl *redis.DurationCmd
	missing := false
	err := l.call(ctx, func(ctx context.Context) error {
		_, err := l.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			get = p.Get(ctx, l.prefix+key)
			ttl = p.PTTL(ctx, l.prefix+key)
			return nil
		})
		if errors.Is(err, redis.Nil) {
			missing, err = true, nil
		}
		return err
	})
	if missing {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("redis rate limit peek: %w", err)
	}
	n, err := get.Int()
	if err != nil {
		return 0, 0, fmt.Errorf("redis rate limit peek: %w", err)
	}
	d := ttl.Val()
	if d < 0 {
		d = 0
	}
	return n, d, nil
}

// Reset implements Limiter.
func (l *RedisLimiter) Reset(ctx context.Context, key string) error {
	if err := l.call(ctx, func(ctx context.Context) error { return l.client.Del(ctx, l.prefix+key).Err() }); err != nil {
		return fmt.Errorf("redis rate limit reset: %w", err)
	}
	return nil
}

// Ping checks the connection (usable as a readiness Check).
func (l *RedisLimiter) Ping(ctx context.Context) error {
	return l.client.Ping(ctx).Err()
}

// Close releases the client's connections.
func (l *RedisLimiter) Close() error { return l.client.Close() }

// RateLimit allows limit requests per window for each key (default:
// ClientKey, the client's IPv4 address or IPv6 /64) under name, so routes
// have separate budgets. Over the limit it answers 429 in the one shape with
// Retry-After in whole seconds (at least 1). A failing store lets the request through and logs why: a Redis outage
// must not take logins down.
func RateLimit(l Limiter, name string, limit int, window time.Duration, key func(*http.Request) string) func(http.Handler) http.Handler {
	if key == nil {
		key = ClientKey
	}
	msg := fmt.Sprintf("Too many requests: %d per %s", limit, humanWindow(window))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k := key(r)
			if k == "" {
				k = ClientKey(r)
			}
			ok, retry, err := l.Allow(r.Context(), name+":"+k, limit, window)
			if err != nil {
				LoggerFrom(r.Context()).LogAttrs(r.Context(), slog.LevelWarn, "rate limiter unavailable, request allowed",
					slog.String("limit", name), slog.Any("err", err))
				next.ServeHTTP(w, r)
				return
			}
			if !ok {
				secs := int64(math.Ceil(retry.Seconds()))
				if secs < 1 {
					secs = 1
				}
				w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
				LoggerFrom(r.Context()).LogAttrs(r.Context(), slog.LevelInfo, "rate limited",
					slog.String("limit", name), slog.String("client_ip", ClientIP(r)))
				ErrorStatus(w, r, http.StatusTooManyRequests, msg, map[string]any{"retry_after": secs})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// humanWindow words a window as flask-limiter did ("1 minute", "30 seconds").
func humanWindow(d time.Duration) string {
	unit := func(n int64, name string) string {
		if n == 1 {
			return "1 " + name
		}
		return fmt.Sprintf("%d %ss", n, name)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	case d >= time.Second && d%time.Second == 0:
		return unit(int64(d/time.Second), "second")
	}
	return d.String()
}
