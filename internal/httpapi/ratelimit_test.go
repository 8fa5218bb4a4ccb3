package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// limitedRouter mounts POST /register limited to 2 per minute per client IP.
func limitedRouter(t *testing.T, l Limiter) *testRouter {
	t.Helper()
	tr := newTestRouter(t, "10.0.0.0/8")
	tr.With(RateLimit(l, "register", 2, time.Minute, nil)).Post("/register", func(w http.ResponseWriter, r *http.Request) {
		JSON(w, http.StatusOK, map[string]string{"message": "ok"})
	})
	tr.With(RateLimit(l, "login", 1, time.Minute, nil)).Post("/login", func(w http.ResponseWriter, r *http.Request) {
		JSON(w, http.StatusOK, map[string]string{"message": "ok"})
	})
	return tr
}

func exerciseLimit(t *testing.T, tr *testRouter) {
	t.Helper()
	ip := "RemoteAddr"
	for i := 1; i <= 2; i++ {
		if res := tr.do(t, "POST", "/register", nil, ip, "192.0.2.1:1"); res.status != 200 {
			t.Fatalf("request %d = %d, want 200", i, res.status)
		}
	}
	res := tr.do(t, "POST", "/register", nil, ip, "192.0.2.1:1", "Origin", frontend)
	assertErrorShape(t, res, 429, "Too many requests: 2 per 1 minute", "retry_after")
	ra, err := strconv.Atoi(res.header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 60 {
		t.Fatalf("Retry-After = %q", res.header.Get("Retry-After"))
	}
	if res.header.Get("Access-Control-Allow-Origin") != frontend {
		t.Fatalf("429 lacks CORS headers, so the frontend could not read it")
	}
	// Another client has its own budget…
	if res := tr.do(t, "POST", "/register", nil, ip, "192.0.2.2:1"); res.status != 200 {
		t.Fatalf("other client = %d", res.status)
	}
	// …as does another route for the limited client.
	if res := tr.do(t, "POST", "/login", nil, ip, "192.0.2.1:1"); res.status != 200 {
		t.Fatalf("other route = %d", res.status)
	}
	// A forged X-Forwarded-For from an untrusted peer changes nothing.
	if res := tr.do(t, "POST", "/register", nil, ip, "192.0.2.1:1", "X-Forwarded-For", "198.51.100.77"); res.status != 429 {
		t.Fatalf("forged XFF escaped the limit: %d", res.status)
	}
	// Behind a trusted proxy, clients are told apart by X-Forwarded-For.
	for i := 0; i < 2; i++ {
		if res := tr.do(t, "POST", "/register", nil, ip, "10.0.0.2:1", "X-Forwarded-For", "198.51.100.8"); res.status != 200 {
			t.Fatalf("proxied client request %d = %d", i, res.status)
		}
	}
	if res := tr.do(t, "POST", "/register", nil, ip, "10.0.0.2:1", "X-Forwarded-For", "198.51.100.9"); res.status != 200 {
		t.Fatalf("second proxied client = %d", res.status)
	}
	// Preflights are answered before the limiter: they never use the budget.
	if res := tr.do(t, "OPTIONS", "/register", nil, ip, "192.0.2.1:1", "Origin", frontend); res.status != 200 {
		t.Fatalf("preflight = %d", res.status)
	}
}

func TestRateLimitKeysIPv6ClientsByTheir64(t *testing.T) {
	t.Parallel()
	tr := limitedRouter(t, NewMemoryLimiter())
	// One subscriber holds a whole /64: a fresh address per request must not
	// buy a fresh budget.
	for i, addr := range []string{"[2001:db8:1:2::1]:1", "[2001:db8:1:2::2]:1"} {
		if res := tr.do(t, "POST", "/register", nil, "RemoteAddr", addr); res.status != 200 {
			t.Fatalf("request %d = %d, want 200", i+1, res.status)
		}
	}
	if res := tr.do(t, "POST", "/register", nil, "RemoteAddr", "[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:1"); res.status != 429 {
		t.Fatalf("third address of the same /64 = %d, want 429", res.status)
	}
	if res := tr.do(t, "POST", "/register", nil, "RemoteAddr", "[2001:db8:1:3::1]:1"); res.status != 200 {
		t.Fatalf("another /64 = %d, want 200", res.status)
	}
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	for ip, want := range map[string]string{
		"192.0.2.1":            "192.0.2.1",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"::ffff:192.0.2.1":     "192.0.2.1",
		"unknown":              "unknown",
		"fe80::1":              "fe80::/64",
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r = r.WithContext(context.WithValue(r.Context(), clientIPKey, ip))
		if got := ClientKey(r); got != want {
			t.Errorf("ClientKey(%s) = %q, want %q", ip, got, want)
		}
	}
}

func TestRateLimitMemoryStore(t *testing.T) {
	t.Parallel()
	l, err := NewLimiter("memory://")
	if err != nil {
		t.Fatal(err)
	}
	exerciseLimit(t, limitedRouter(t, l))
}

func TestMemoryLimiterWindowResetsAndMemoryIsSwept(t *testing.T) {
	t.Parallel()
	l := NewMemoryLimiter()
	now := time.Unix(1_700_000_000, 0)
	l.now = func() time.Time { return now }
	ctx := context.Background()
	allow := func(key string) (bool, time.Duration) {
		ok, retry, err := l.Allow(ctx, key, 1, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return ok, retry
	}
	if ok, _ := allow("a"); !ok {
		t.Fatal("first hit refused")
	}
	now = now.Add(4 * time.Second)
	if ok, retry := allow("a"); ok || retry != 6*time.Second {
		t.Fatalf("second hit ok=%v retry=%v, want refused with 6s left", ok, retry)
	}
	now = now.Add(6 * time.Second)
	if ok, _ := allow("a"); !ok {
		t.Fatal("new window refused")
	}
	for i := 0; i < 100; i++ {
		allow("k" + strconv.Itoa(i))
	}
	now = now.Add(2 * time.Minute)
	allow("fresh")
	if n := l.Len(); n != 1 {
		t.Fatalf("%d counters kept after every window expired, want 1", n)
	}
}

// redisForTest returns a client of the test Redis: ITSS_TEST_REDIS_URL when
// set (then it must work), else 127.0.0.1:6379 when it answers.
func redisForTest(t *testing.T) *redis.Client {
	t.Helper()
	url, set := os.LookupEnv("ITSS_TEST_REDIS_URL")
	if !set {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("ITSS_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		if set {
			t.Fatalf("ITSS_TEST_REDIS_URL is set but Redis does not answer: %v", err)
		}
		t.Skipf("no Redis on 127.0.0.1:6379 (set ITSS_TEST_REDIS_URL to require one): %v", err)
	}
	return c
}

// uniquePrefix keeps concurrent test runs from sharing counters, and removes
// the test's keys afterwards.
func uniquePrefix(t *testing.T, c *redis.Client) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "itss-test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return prefix
}

func TestRateLimitRedisStore(t *testing.T) {
	t.Parallel()
	c := redisForTest(t)
	l := NewRedisLimiter(c, uniquePrefix(t, c))
	exerciseLimit(t, limitedRouter(t, l))
}

func TestRedisLimiterIsAtomicAndExpires(t *testing.T) {
	t.Parallel()
	c := redisForTest(t)
	prefix := uniquePrefix(t, c)
	l := NewRedisLimiter(c, prefix)
	ctx := context.Background()
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Go(func() {
			ok, _, err := l.Allow(ctx, "burst", 10, time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 10 {
		t.Fatalf("%d of 50 concurrent hits allowed, want exactly 10", n)
	}
	ttl, err := c.PTTL(ctx, prefix+"burst").Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("counter TTL = %v, %v; want a positive expiry within the window", ttl, err)
	}
	ok, retry, err := l.Allow(ctx, "burst", 10, time.Minute)
	if err != nil || ok || retry <= 0 || retry > time.Minute {
		t.Fatalf("over the limit: ok=%v retry=%v err=%v", ok, retry, err)
	}
}

func TestNewLimiterRedisURI(t *testing.T) {
	t.Parallel()
	redisForTest(t)
	l, err := NewLimiter("redis://127.0.0.1:6379/0")
	if err != nil {
		t.Fatal(err)
	}
	rl, ok := l.(*RedisLimiter)
	if !ok {
		t.Fatalf("NewLimiter(redis://) = %T", l)
	}
	defer rl.Close()
	if err := rl.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := NewLimiter("memcached://x"); err == nil {
		t.Fatal("unsupported scheme accepted")
	}
}

func TestRateLimitFailsOpenWhenStoreIsDown(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1; the dial fails at once.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	tr := limitedRouter(t, NewRedisLimiter(c, "x:"))
	for i := 0; i < 3; i++ {
		if res := tr.do(t, "POST", "/register", nil); res.status != 200 {
			t.Fatalf("request %d = %d, want 200 while the store is down", i, res.status)
		}
	}
	if n := len(tr.logs.lines(t, "rate limiter unavailable, request allowed")); n != 3 {
		t.Fatalf("%d fail-open log lines, want 3", n)
	}
}

// hungRedis accepts connections and never answers: a Redis that is stuck,
// or a firewall that drops packets after the handshake.
func hungRedis(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	return "redis://" + ln.Addr().String() + "/0"
}

func TestRedisLimiterGivesUpOnAHungStoreAndBacksOff(t *testing.T) {
	t.Parallel()
	l, err := NewLimiter(hungRedis(t))
	if err != nil {
		t.Fatal(err)
	}
	rl := l.(*RedisLimiter)
	defer rl.Close()
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	rl.now = func() time.Time { return time.Unix(0, now.Load()) }

	// The request carries no deadline: the limiter's own must cut the wait,
	// not the client's multi-second socket timeouts.
	ok, _, err := rl.Allow(context.Background(), "k", 1, time.Minute)
	if !ok || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Allow = %v, %v; want allowed with the limiter's deadline exceeded", ok, err)
	}
	// While the cooldown runs, nothing waits on the store again.
	if ok, _, err := rl.Allow(context.Background(), "k", 1, time.Minute); !ok || !errors.Is(err, errStoreDown) {
		t.Fatalf("Allow in cooldown = %v, %v; want allowed with errStoreDown", ok, err)
	}
	if _, _, err := rl.Peek(context.Background(), "k", time.Minute); !errors.Is(err, errStoreDown) {
		t.Fatalf("Peek in cooldown = %v; want errStoreDown", err)
	}
	if err := rl.Reset(context.Background(), "k"); !errors.Is(err, errStoreDown) {
		t.Fatalf("Reset in cooldown = %v; want errStoreDown", err)
	}
	// After it the store is tried again.
	now.Add(int64(redisCooldown + time.Second))
	if _, _, err := rl.Allow(context.Background(), "k", 1, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Allow after cooldown = %v; want a fresh attempt cut by the deadline", err)
	}
}

func TestRedisLimiterCallerCancellationDoesNotTripCooldown(t *testing.T) {
	t.Parallel()
	c := redisForTest(t)
	l := NewRedisLimiter(c, uniquePrefix(t, c))
	opts := *c.Options()
	opts.ContextTimeoutEnabled = true
	l.client = redis.NewClient(&opts)
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := l.Allow(ctx, "k", 1, time.Minute); err == nil {
		t.Fatal("Allow with a cancelled context succeeded")
	}
	// A client that went away says nothing about the store.
	if _, _, err := l.Allow(context.Background(), "k", 1, time.Minute); err != nil {
		t.Fatalf("Allow after a cancelled call = %v", err)
	}
}

func TestHumanWindow(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{time.Minute: "1 minute", 30 * time.Second: "30 seconds", 2 * time.Hour: "2 hours", 1500 * time.Millisecond: "1.5s"} {
		if got := humanWindow(d); got != want {
			t.Errorf("humanWindow(%v) = %q, want %q", d, got, want)
		}
	}
}

// exercisePeekReset checks the counter reads and resets the login back-off
// relies on, on any store.
func exercisePeekReset(t *testing.T, l Limiter) {
	t.Helper()
	ctx := context.Background()
	if n, ttl, err := l.Peek(ctx, "acct", time.Minute); err != nil || n != 0 || ttl != 0 {
		t.Fatalf("Peek of an unknown key = %d, %v, %v", n, ttl, err)
	}
	for i := 0; i < 3; i++ {
		if _, _, err := l.Allow(ctx, "acct", 5, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	n, ttl, err := l.Peek(ctx, "acct", time.Minute)
	if err != nil || n != 3 || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("Peek = %d, %v, %v; want 3 with a TTL within the window", n, ttl, err)
	}
	if n, _, _ := l.Peek(ctx, "acct", time.Minute); n != 3 {
		t.Fatalf("Peek counted itself: %d", n)
	}
	if err := l.Reset(ctx, "acct"); err != nil {
		t.Fatal(err)
	}
	if n, _, err := l.Peek(ctx, "acct", time.Minute); err != nil || n != 0 {
		t.Fatalf("after Reset Peek = %d, %v", n, err)
	}
	if err := l.Reset(ctx, "never-seen"); err != nil {
		t.Fatalf("Reset of an unknown key = %v", err)
	}
}

func TestPeekAndResetMemoryStore(t *testing.T) {
	t.Parallel()
	exercisePeekReset(t, NewMemoryLimiter())
}

func TestPeekAndResetRedisStore(t *testing.T) {
	t.Parallel()
	c := redisForTest(t)
	exercisePeekReset(t, NewRedisLimiter(c, uniquePrefix(t, c)))
}
