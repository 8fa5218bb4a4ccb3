package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/itss-go/itss/internal/itss"
)

// Options configure NewRouter.
type Options struct {
	Service        string       // "auth" | "tutorial": a constant label on the metrics
	Logger         *slog.Logger // nil: slog.Default()
	AllowedOrigins []string     // CORS origins, "scheme://host[:port]"
	TrustedProxies []netip.Prefix
	Registry       *prometheus.Registry // nil: a new one, so tests can build many routers
}

// NewRouter returns a chi router with the shared middleware in this order:
// request id, client IP, security headers, access log + metrics, CORS
// (answering every OPTIONS itself), panic recovery, HEAD-as-GET. Unknown
// routes and methods get JSON 404/405, and GET /metrics serves the registry.
// Health and readiness are mounted by the caller, who knows the checks:
//
//	r.Get("/health", httpapi.Health(nil))
//	r.Get("/ready", httpapi.Ready(httpapi.Check{Name: "database", Fn: db.Ping}))
func NewRouter(o Options) *chi.Mux {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	m := newMetrics(o.Registry, o.Service)
	r := chi.NewRouter()
	r.Use(
		requestID,
		clientIPMiddleware(o.TrustedProxies, o.Logger),
		securityHeaders,
		accessLog(m),
		cors(normalizeOrigins(o.AllowedOrigins)),
		recoverer,
		middleware.GetHead,
	)
	r.NotFound(NotFound)
	r.MethodNotAllowed(MethodNotAllowed)
	r.Method(http.MethodGet, "/metrics", MetricsHandler(o.Registry))
	return r
}

// saneRequestID bounds what a client may put in our logs.
var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestID honours a sane X-Request-ID (so a proxy's id joins the logs)
// and otherwise makes one, echoes it and puts it in the context.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rid := r.Header.Get("X-Request-ID")
		if !saneRequestID.MatchString(rid) {
			rid = newRequestID()
		}
		w.Header().Set("X-Request-ID", rid)
		next.ServeHTTP(w, r.WithContext(itss.WithRequestID(r.Context(), rid)))
	})
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b[:])
}

func clientIPMiddleware(trusted []netip.Prefix, log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ip := "unknown"
			if a := clientAddr(r, trusted); a.IsValid() {
				ip = a.String()
			}
			ctx := context.WithValue(r.Context(), clientIPKey, ip)
			ctx = context.WithValue(ctx, loggerKey, log)
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// securityHeaders are the original's, on every response.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-XSS-Protection", "1; mode=block")
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		next.ServeHTTP(w, r)
	})
}

// quietPaths are polled by orchestrators; their access lines go to debug.
var quietPaths = map[string]bool{"/health": true, "/ready": true, "/metrics": true}

func accessLog(m *metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rw := &respWriter{ResponseWriter: w}
			next.ServeHTTP(rw, r)
			elapsed := time.Since(start)

			// The pattern, not the path: bounded label values, no ids in metrics.
			route := "unmatched"
			if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.RoutePattern() != "" {
				route = rctx.RoutePattern()
			}
			status := rw.Status()
			m.observe(route, r.Method, status, elapsed)

			level := slog.LevelInfo
			if quietPaths[r.URL.Path] {
				level = slog.LevelDebug
			}
			LoggerFrom(r.Context()).LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int64("bytes", rw.bytes),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
				slog.String("client_ip", ClientIP(r)),
			)
		})
	}
}

// normalizeOrigins puts origins in the form browsers send (lower case, no
// trailing slash) so the comparison in cors is exact.
func normalizeOrigins(in []string) []string {
	out := make([]string, 0, len(in))
	for _, o := range in {
		out = append(out, strings.TrimRight(strings.ToLower(strings.TrimSpace(o)), "/"))
	}
	return out
}

// corsMethods are flask-cors's defaults, which the original answered with.
const corsMethods = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"

// cors reproduces flask-cors as the original configured it
// (origins=ALLOWED_ORIGINS, supports_credentials=True): an allowed Origin is
// echoed with credentials allowed; other origins get no CORS headers. Every
// OPTIONS request is answered here, before routing, so each route has a
// preflight and preflights are neither routed nor rate-limited.
func cors(allowed []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			ok := origin != "" && slices.Contains(allowed, strings.ToLower(origin))
			h := w.Header()
			h.Add("Vary", "Origin")

			if r.Method == http.MethodOptions {
				if ok {
					h.Set("Access-Control-Allow-Origin", origin)
					h.Set("Access-Control-Allow-Credentials", "true")
					h.Set("Access-Control-Allow-Methods", corsMethods)
					if reqHeaders := strings.TrimSpace(r.Header.Get("Access-Control-Request-Headers")); reqHeaders != "" {
						h.Set("Access-Control-Allow-Headers", reqHeaders)
					}
					h.Add("Vary", "Access-Control-Request-Headers")
				}
				h.Set("Allow", corsMethods)
				w.WriteHeader(http.StatusOK)
				return
			}

			rw := &respWriter{ResponseWriter: w}
			if ok {
				rw.before = func(h http.Header) {
					// Like flask-cors, leave a response alone whose handler
					// chose its own CORS policy (the file server sends "*").
					if h.Get("Access-Control-Allow-Origin") != "" {
						return
					}
					h.Set("Access-Control-Allow-Origin", origin)
					h.Set("Access-Control-Allow-Credentials", "true")
				}
			}
			next.ServeHTTP(rw, r)
			if !rw.wrote {
				// Make the implicit empty 200 explicit so the hook runs.
				rw.WriteHeader(http.StatusOK)
			}
		})
	}
}

// recoverer turns a panic into the one 500 shape; the stack goes to the log
// only. It sits inside cors so the 500 still carries the CORS headers the
// browser needs to let the frontend read it.
func recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			LoggerFrom(r.Context()).ErrorContext(r.Context(), "panic",
				"method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if rw, ok := w.(*respWriter); ok && rw.wrote {
				return // too late for a clean answer; the client sees a cut body
			}
			h := w.Header()
			for _, k := range []string{"Content-Length", "Content-Encoding", "Content-Range", "Content-Disposition"} {
				h.Del(k)
			}
			ErrorStatus(w, r, http.StatusInternalServerError, "Internal error.", nil)
		}()
		next.ServeHTTP(w, r)
	})
}
