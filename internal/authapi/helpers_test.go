package authapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/itss-go/itss/internal/authapi"
	"github.com/itss-go/itss/internal/httpapi"
	"github.com/itss-go/itss/internal/openapi"
	"github.com/itss-go/itss/internal/openapi/openapitest"
	"github.com/itss-go/itss/internal/security"
	"github.com/itss-go/itss/internal/store"
)

const googleClientID = "itss-test-client.apps.googleusercontent.com"

// env is a running auth service on a real database.
type env struct {
	t        testing.TB
	srv      *httptest.Server
	db       *store.DB
	signer   *security.Signer
	hasher   *security.Hasher
	issuer   *oidcIssuer
	tutorial *sampleRecorder
}

type envOptions struct {
	required bool
	legacy   []byte
	limiter  httpapi.Limiter
	argon    *security.Argon2Params
}

func newEnv(t testing.TB, db *store.DB, o envOptions) *env {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	signer, err := security.LoadOrCreateSigner(filepath.Join(t.TempDir(), "jwt-ed25519.pem"), "http://auth.test", log)
	if err != nil {
		t.Fatalf("signer: %v", err)
	}
	if o.limiter == nil {
		if o.limiter, err = httpapi.NewLimiter("memory://"); err != nil {
			t.Fatalf("limiter: %v", err)
		}
	}
	issuer := startIssuer(t)
	rec := startSampleRecorder(t, signer)
	// Cheap argon2 parameters keep the suite fast under -race; the default
	// parameters are covered by the security package and the benchmarks.
	params := security.Argon2Params{Memory: 64, Time: 1, Threads: 1}
	if o.argon != nil {
		params = *o.argon
	}
	hasher := security.NewHasher(params, 4)
	svc := &authapi.Service{
		DB:           db,
		Hasher:       hasher,
		Signer:       signer,
		Access:       signer.Verifier(security.AudienceAPI, o.legacy),
		LegacySecret: o.legacy,
		Google:       security.NewGoogleVerifier(issuer.srv.URL, googleClientID, issuer.srv.Client()),
		Backoff:      &authapi.Backoff{Limiter: o.limiter, Log: log},
		Log:          log,
		TutorialURL:  rec.srv.URL,
		HTTPClient:   &http.Client{Timeout: 5 * time.Second},
	}
	h := authapi.NewRouter(authapi.Options{
		Service:         svc,
		Limiter:         o.limiter,
		Logger:          log,
		AllowedOrigins:  []string{"http://localhost:3000"},
		TrustedProxies:  []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")},
		Registry:        prometheus.NewRegistry(),
		APIAuthRequired: o.required,
		Ready:           []httpapi.Check{{Name: "database", Fn: db.Ping}},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, db: db, signer: signer, hasher: hasher, issuer: issuer, tutorial: rec}
}

// apiDoc checks every response the tests receive against the service's
// OpenAPI document, so the document cannot drift from the code. Loaded once
// for the package.
var apiDoc = sync.OnceValues(func() (*openapitest.Validator, error) {
	return openapitest.Load(openapi.Auth())
})

// response is a decoded JSON answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *env) do(method, path string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	// The frontend labels JSON as text/plain or sends none; decoding must not care.
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	// Benchmarks measure the service, not the document check.
	if _, bench := e.t.(*testing.B); !bench {
		v, err := apiDoc()
		if err != nil {
			e.t.Fatalf("OpenAPI document: %v", err)
		}
		v.Check(e.t, req, resp, raw)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: body is not a JSON object: %q", method, path, raw)
		}
	}
	return r
}

// wantError asserts the one error shape with the given status and message.
func wantError(t *testing.T, r response, status int, message string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.status, status, r.raw)
	}
	if r.body["status"] != "error" || r.body["code"] != float64(status) || r.body["error"] != r.body["message"] {
		t.Fatalf("not the one error shape: %s", r.raw)
	}
	if message != "" && r.body["message"] != message {
		t.Fatalf("message = %q, want %q", r.body["message"], message)
	}
}

// register creates a form user through the API.
func (e *env) register(name, email, password, role string) {
	e.t.Helper()
	r := e.do("POST", "/auth/register", map[string]string{"name": name, "email": email, "password": password, "repassword": password, "role": role},
		"X-Forwarded-For", randomIP())
	if r.status != 200 {
		e.t.Fatalf("register %s: %d %s", email, r.status, r.raw)
	}
}

// login returns the access token of a form login.
func (e *env) login(email, password, role string) string {
	e.t.Helper()
	r := e.do("POST", "/auth/login", map[string]string{"email": email, "password": password, "role": role}, "X-Forwarded-For", randomIP())
	if r.status != 200 {
		e.t.Fatalf("login %s: %d %s", email, r.status, r.raw)
	}
	return r.body["access_token"].(string)
}

// randomIP spreads requests over client addresses (believed from the trusted
// loopback proxy) so per-IP rate limits do not interfere between cases.
func randomIP() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return netip.AddrFrom4([4]byte{10, b[0], b[1], b[2]}).String()
}

// oidcIssuer is a local OpenID provider with its own RSA key.
type oidcIssuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
}

func startIssuer(t testing.TB) *oidcIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	iss := &oidcIssuer{key: key}
	mux := http.NewServeMux()
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                iss.srv.URL,
			"jwks_uri":                              iss.srv.URL + "/keys",
			"authorization_endpoint":                iss.srv.URL + "/auth",
			"token_endpoint":                        iss.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "test-key", "alg": "RS256", "use": "sig",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	return iss
}

// idToken signs a Google-style ID token for subject.
func (i *oidcIssuer) idToken(t *testing.T, subject, email, audience string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": i.srv.URL, "aud": audience, "sub": subject, "email": email, "email_verified": true,
		"name": "Gina Google", "picture": "https://example.com/gina.png",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = "test-key"
	s, err := tok.SignedString(i.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sampleRecorder stands in for the tutorial service's createsample route and
// checks the service token it receives.
type sampleRecorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	calls  []int64
	status int
}

func startSampleRecorder(t testing.TB, signer *security.Signer) *sampleRecorder {
	t.Helper()
	rec := &sampleRecorder{status: http.StatusOK}
	verifier := signer.Verifier(security.AudienceService, nil)
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		claims, err := verifier.Verify(context.Background(), tok)
		var body struct {
			UserID int64 `json:"userid"`
		}
		if err != nil || r.URL.Path != "/tutorial/createsample" || json.NewDecoder(r.Body).Decode(&body) != nil || claims.UID != body.UserID {
			http.Error(w, `{"message":"refused"}`, http.StatusUnauthorized)
			return
		}
		rec.mu.Lock()
		rec.calls = append(rec.calls, body.UserID)
		status := rec.status
		rec.mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"id":"0123456789abcdef0123456789abcdef"}`))
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (r *sampleRecorder) callsFor(uid int64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if c == uid {
			n++
		}
	}
	return n
}

// redisURL returns the Redis used by rate-limit tests: ITSS_TEST_REDIS_URL
// (required to work when set), else a local Redis if one answers.
func redisURL(t *testing.T) string {
	t.Helper()
	if u := os.Getenv("ITSS_TEST_REDIS_URL"); u != "" {
		return u
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second)
	if err != nil {
		t.Skip("no Redis on 127.0.0.1:6379 and ITSS_TEST_REDIS_URL unset: Redis limiter leg skipped")
	}
	c.Close()
	return "redis://127.0.0.1:6379/0"
}
