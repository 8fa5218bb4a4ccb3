package authapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/itss-go/itss/internal/httpapi"
	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/openapi"
	"github.com/itss-go/itss/internal/validate"
)

// SessionCookie carries the access token for same-origin deployments where
// the unmodified frontend sends no Authorization header (API.md A3).
const SessionCookie = "itss_session"

// Options wires the auth service's router.
type Options struct {
	Service         *Service
	Limiter         httpapi.Limiter
	Logger          *slog.Logger
	AllowedOrigins  []string
	TrustedProxies  []netip.Prefix
	Registry        *prometheus.Registry
	APIAuthRequired bool
	// Ready checks run by /ready (the database).
	Ready []httpapi.Check
}

// Rate limits of API.md A6, per client (IPv4 address or IPv6 /64).
var limits = map[string]int{
	"register":  5,
	"login":     10,
	"guest":     20,
	"google":    10,
	"refresh":   30,
	"protected": 600,
}

// NewRouter returns the auth service's HTTP handler.
func NewRouter(o Options) http.Handler {
	h := &handlers{svc: o.Service, log: o.Logger, required: o.APIAuthRequired}
	r := httpapi.NewRouter(httpapi.Options{
		Service:        "auth",
		Logger:         o.Logger,
		AllowedOrigins: o.AllowedOrigins,
		TrustedProxies: o.TrustedProxies,
		Registry:       o.Registry,
	})
	limit := func(name string) func(http.Handler) http.Handler {
		return httpapi.RateLimit(o.Limiter, name, limits[name], time.Minute, httpapi.ClientKey)
	}

	r.Get("/", func(w http.ResponseWriter, _ *http.Request) {
		httpapi.JSON(w, http.StatusOK, map[string]string{"message": "auth"})
	})
	r.Get("/health", httpapi.Health(nil))
	r.Get("/ready", httpapi.Ready(o.Ready...))
	r.Get("/.well-known/jwks.json", h.jwks)
	r.Get("/openapi.json", openapi.Handler(openapi.Auth()))

	r.With(limit("register")).Post("/auth/register", h.register)
	r.With(limit("login"), noStore).Post("/auth/login", h.login)
	r.With(limit("guest"), noStore).Post("/guest/login", h.guestLogin)
	r.With(limit("google")).Post("/oauth/register", h.googleRegister)
	r.With(limit("google"), noStore).Post("/oauth/login", h.googleLogin)
	r.With(limit("refresh"), noStore).Post("/auth/refresh", h.refresh)
	r.With(limit("protected"), noStore).Get("/auth/protected", h.protected)
	r.With(limit("protected"), noStore).Post("/getUserDetails", h.userDetails)
	r.Post("/auth/logout", h.logout)
	return r
}

// noStore keeps answers that carry a token or a profile out of browser and
// proxy caches (RFC 6749 §5.1 requires it of token responses).
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

type handlers struct {
	svc      *Service
	log      *slog.Logger
	required bool
}

func (h *handlers) jwks(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(h.svc.Signer.JWKS())
}

type registerBody struct {
	Name       string  `json:"name"`
	Email      string  `json:"email"`
	Password   string  `json:"password"`
	RePassword *string `json:"repassword"`
	Role       string  `json:"role"`
	Roles      string  `json:"roles"`
}

func (h *handlers) register(w http.ResponseWriter, r *http.Request) {
	var b registerBody
	if err := httpapi.Decode(r, &b, httpapi.JSONLimit); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	role := b.Role
	if role == "" {
		role = b.Roles
	}
	err := h.svc.Register(r.Context(), RegisterInput{Name: b.Name, Email: b.Email, Password: b.Password, RePassword: b.RePassword, Role: role})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]string{"message": msgRegistered})
}

type loginBody struct {
	Email    string  `json:"email"`
	Password string  `json:"password"`
	Role     *string `json:"role"`
}

func (h *handlers) login(w http.ResponseWriter, r *http.Request) {
	var b loginBody
	if err := httpapi.Decode(r, &b, httpapi.JSONLimit); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	in := LoginInput{Email: b.Email, Password: b.Password}
	if b.Role != nil {
		in.Role, in.RoleSet = *b.Role, true
	}
	sess, err := h.svc.Login(r.Context(), in)
	h.session(w, r, sess, err)
}

func (h *handlers) guestLogin(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Role string `json:"role"`
	}
	if err := httpapi.Decode(r, &b, httpapi.JSONLimit); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	sess, err := h.svc.GuestLogin(r.Context(), b.Role)
	h.session(w, r, sess, err)
}

type googleBody struct {
	Token string `json:"token"`
	Role  string `json:"role"`
}

func (h *handlers) googleRegister(w http.ResponseWriter, r *http.Request) {
	var b googleBody
	if err := httpapi.Decode(r, &b, httpapi.JSONLimit); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	if err := h.svc.GoogleRegister(r.Context(), b.Token, b.Role); err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]string{"message": msgRegistered})
}

func (h *handlers) googleLogin(w http.ResponseWriter, r *http.Request) {
	var b googleBody
	if err := httpapi.Decode(r, &b, httpapi.JSONLimit); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	sess, err := h.svc.GoogleLogin(r.Context(), b.Token, b.Role)
	h.session(w, r, sess, err)
}

// refresh takes the raw token as the body (what the frontend sends), a JSON
// string, or {"access_token": ...}.
func (h *handlers) refresh(w http.ResponseWriter, r *http.Request) {
	body, err := httpapi.ReadBody(r, httpapi.JSONLimit)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	sess, err := h.svc.Refresh(r.Context(), rawToken(body))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	setSessionCookie(w, r, sess.Token)
	httpapi.JSON(w, http.StatusOK, map[string]string{"access_token": sess.Token})
}

func rawToken(body []byte) string {
	s := strings.TrimSpace(string(body))
	var str string
	if json.Unmarshal([]byte(s), &str) == nil {
		return strings.TrimSpace(str)
	}
	var obj struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal([]byte(s), &obj) == nil && obj.AccessToken != "" {
		return obj.AccessToken
	}
	return s
}

func (h *handlers) protected(w http.ResponseWriter, r *http.Request) {
	id, present, err := h.identity(r)
	if err == nil && !present {
		err = itss.Errorf(itss.CodeUnauthorized, msgTokenExpired)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]any{"id": id.UserID, "role": id.Role})
}

func (h *handlers) userDetails(w http.ResponseWriter, r *http.Request) {
	caller, present, err := h.identity(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !present && h.required {
		httpapi.Error(w, r, itss.Errorf(itss.CodeUnauthorized, "Authentication required"))
		return
	}
	body, err := httpapi.ReadBody(r, httpapi.JSONLimit)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	var b struct {
		ID any `json:"id"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &b); err != nil {
			httpapi.Error(w, r, itss.Errorf(itss.CodeInvalid, "Invalid JSON body"))
			return
		}
	}
	var uid int64
	switch {
	case b.ID == nil || b.ID == "":
		if !present {
			httpapi.Error(w, r, itss.Errorf(itss.CodeInvalid, "User ID is required"))
			return
		}
		uid = caller.UserID
	default:
		if uid, err = validate.UserID(b.ID); err != nil {
			httpapi.Error(w, r, itss.Errorf(itss.CodeInvalid, "Invalid user ID: %s", err))
			return
		}
	}
	d, err := h.svc.UserDetails(r.Context(), caller, uid)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, d)
}

func (h *handlers) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secureRequest(r),
	})
	if id, present, _ := h.identity(r); present {
		httpapi.Event(itss.WithIdentity(r.Context(), id), h.log, "Logout")
	}
	httpapi.JSON(w, http.StatusOK, map[string]string{"message": "Logged out"})
}

// identity reads the caller from the bearer token, else the session cookie.
// present is false when neither carries a token; a token that is present but
// invalid is an error, never silently anonymous.
func (h *handlers) identity(r *http.Request) (itss.Identity, bool, error) {
	tok := bearer(r)
	if tok == "" {
		if c, err := r.Cookie(SessionCookie); err == nil {
			tok = c.Value
		}
	}
	if tok == "" {
		return itss.Identity{}, false, nil
	}
	id, err := h.svc.Identify(r.Context(), tok)
	return id, true, err
}

// bearer returns the Authorization bearer token; the frontend sends the
// literal "Bearer null" when it holds none.
func bearer(r *http.Request) string {
	v := r.Header.Get("Authorization")
	if len(v) < 7 || !strings.EqualFold(v[:7], "bearer ") {
		return ""
	}
	t := strings.TrimSpace(v[7:])
	if t == "null" || t == "undefined" {
		return ""
	}
	return t
}

func (h *handlers) session(w http.ResponseWriter, r *http.Request, sess Session, err error) {
	if err != nil {
		h.fail(w, r, err)
		return
	}
	setSessionCookie(w, r, sess.Token)
	httpapi.JSON(w, http.StatusOK, map[string]string{"access_token": sess.Token, "role": string(sess.Role)})
}

func (h *handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	var re *RetryError
	if errors.As(err, &re) {
		w.Header().Set("Retry-After", strconv.Itoa(int(re.After.Seconds()+0.999)))
	}
	httpapi.Error(w, r, err)
}

func setSessionCookie(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: token, Path: "/", MaxAge: int(accessTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secureRequest(r),
	})
}

// secureRequest reports whether the browser reached us over TLS, directly or
// through the TLS-terminating proxy of deploy/.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
