package security

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/itss-go/itss/internal/itss"
)

const testIssuer = "http://localhost:5001"

var appSecret = []byte("0123456789abcdef0123456789abcdef-app-secret")

// t0 is the fixed "now" of signers and verifiers in these tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newTestSigner(t testing.TB) *Signer {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSigner(key, testIssuer)
	s.now = func() time.Time { return t0 }
	return s
}

func verifierAt(v *Verifier, now time.Time) *Verifier {
	v.now = func() time.Time { return now }
	return v
}

func decodeSegment(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIssueWritesHeaderAndClaimsOfA4(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t)
	tok, err := s.Issue(7, 3, "author", AudienceAPI, AccessTTL)
	if err != nil {
		t.Fatal(err)
	}
	h := decodeSegment(t, tok, 0)
	if h["alg"] != "EdDSA" || h["typ"] != "JWT" || h["kid"] != s.KeyID() || len(h) != 3 {
		t.Errorf("header = %v", h)
	}
	c := decodeSegment(t, tok, 1)
	want := map[string]any{
		"sub": "7", "uid": 7.0, "id": 3.0, "rls": "author",
		"iat": float64(t0.Unix()), "exp": float64(t0.Add(24 * time.Hour).Unix()),
		"rf_exp": float64(t0.Add(30 * 24 * time.Hour).Unix()),
		"iss":    testIssuer, "aud": []any{AudienceAPI},
	}
	for k, v := range want {
		got, _ := json.Marshal(c[k])
		exp, _ := json.Marshal(v)
		if string(got) != string(exp) {
			t.Errorf("claim %s = %s, want %s", k, got, exp)
		}
	}
	jti, _ := c["jti"].(string)
	if _, err := uuid.Parse(jti); err != nil || len(jti) != 36 {
		t.Errorf("jti %q is not a dashed UUID", jti)
	}
	if len(c) != len(want)+1 {
		t.Errorf("claims = %v, want exactly %d", c, len(want)+1)
	}

	got, err := verifierAt(s.Verifier(AudienceAPI, nil), t0).Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if got.UID != 7 || got.AuthID != 3 || got.Role != "author" || got.Legacy || got.ID != jti ||
		got.RefreshExp != t0.Add(RefreshTTL).Unix() {
		t.Errorf("verified claims = %+v", got)
	}
}

func TestIssueOmitsIDWhenUserHasNoAuthRow(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t)
	tok, _ := s.Issue(9, 0, "learner", AudienceAPI, AccessTTL)
	if c := decodeSegment(t, tok, 1); c["id"] != nil {
		t.Errorf("id = %v, want absent", c["id"])
	}
}

func TestIssueServiceTokenHasItsAudienceAndNoRefreshWindow(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t)
	tok, _ := s.Issue(9, 0, "author", AudienceService, ServiceTTL)
	c := decodeSegment(t, tok, 1)
	if c["rf_exp"] != nil || c["exp"] != float64(t0.Add(time.Minute).Unix()) {
		t.Errorf("claims = %v", c)
	}
	if _, err := verifierAt(s.Verifier(AudienceAPI, nil), t0).Verify(context.Background(), tok); err == nil {
		t.Error("service token accepted as an API token")
	}
	if _, err := verifierAt(s.Verifier(AudienceService, nil), t0).Verify(context.Background(), tok); err != nil {
		t.Errorf("service token refused by the service verifier: %v", err)
	}
	if _, err := s.Refresh(tok); err == nil {
		t.Error("service token refreshed")
	}
}

func signClaims(t *testing.T, m jwt.SigningMethod, claims jwt.Claims, kid string, key any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	out, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "7", "uid": 7, "id": 3, "rls": "author", "jti": uuid.NewString(),
		"iat": t0.Unix(), "exp": t0.Add(time.Hour).Unix(), "rf_exp": t0.Add(RefreshTTL).Unix(),
		"iss": testIssuer, "aud": AudienceAPI,
	}
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	c[k] = v
	return c
}

func TestVerifyRefusesForgedAndInvalidTokens(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t)
	good, _ := s.Issue(7, 3, "author", AudienceAPI, AccessTTL)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	pub := s.key.Public().(ed25519.PublicKey)
	parts := strings.Split(good, ".")
	sig := []byte(parts[2])
	// A middle character: all of its bits are signature (the last one's are not).
	if sig[10] == 'A' {
		sig[10] = 'B'
	} else {
		sig[10] = 'A'
	}
	forgedPayload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"1","uid":1,"rls":"author","exp":9999999999,"iss":"` +
		testIssuer + `","aud":"` + AudienceAPI + `","rf_exp":9999999999,"jti":"x"}`))

	cases := map[string]string{
		"tampered signature":                    parts[0] + "." + parts[1] + "." + string(sig),
		"payload swapped under old signature":   parts[0] + "." + forgedPayload + "." + parts[2],
		"alg none":                              signClaims(t, jwt.SigningMethodNone, validClaims(), s.KeyID(), jwt.UnsafeAllowNoneSignatureType),
		"HS256 with the app secret, legacy off": signClaims(t, jwt.SigningMethodHS256, validClaims(), s.KeyID(), appSecret),
		"HS256 with the public key as secret":   signClaims(t, jwt.SigningMethodHS256, validClaims(), s.KeyID(), []byte(pub)),
		"unknown kid":                           signClaims(t, jwt.SigningMethodEdDSA, validClaims(), "not-a-kid", s.key),
		"no kid":                                signClaims(t, jwt.SigningMethodEdDSA, validClaims(), "", s.key),
		"other key under our kid":               signClaims(t, jwt.SigningMethodEdDSA, validClaims(), s.KeyID(), otherKey),
		"expired":                               signClaims(t, jwt.SigningMethodEdDSA, with(validClaims(), "exp", t0.Add(-time.Second).Unix()), s.KeyID(), s.key),
		"no exp":                                signClaims(t, jwt.SigningMethodEdDSA, with(validClaims(), "exp", nil), s.KeyID(), s.key),
		"wrong aud":                             signClaims(t, jwt.SigningMethodEdDSA, with(validClaims(), "aud", "someone-else"), s.KeyID(), s.key),
		"no aud":                                signClaims(t, jwt.SigningMethodEdDSA, with(validClaims(), "aud", nil), s.KeyID(), s.key),
		"wrong iss":                             signClaims(t, jwt.SigningMethodEdDSA, with(validClaims(), "iss", "https://evil.example"), s.KeyID(), s.key),
		"garbage":                               "not.a.jwt",
		"empty":                                 "",
	}
	v := verifierAt(s.Verifier(AudienceAPI, nil), t0)
	for name, tok := range cases {
		t.Run(name+" refused", func(t *testing.T) {
			t.Parallel()
			_, err := v.Verify(context.Background(), tok)
			if !itss.IsCode(err, itss.CodeUnauthorized) {
				t.Fatalf("err = %v, want CodeUnauthorized", err)
			}
		})
	}
	t.Run("untouched token accepted", func(t *testing.T) {
		t.Parallel()
		if _, err := v.Verify(context.Background(), good); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("issued token expired after 24h refused", func(t *testing.T) {
		t.Parallel()
		late := verifierAt(s.Verifier(AudienceAPI, nil), t0.Add(AccessTTL+time.Second))
		if _, err := late.Verify(context.Background(), good); !itss.IsCode(err, itss.CodeUnauthorized) {
			t.Fatalf("err = %v, want CodeUnauthorized", err)
		}
	})
}

// legacyToken is a token as the original system (flask-praetorian) issued it.
func legacyToken(t *testing.T, secret []byte, authID int64, iat time.Time) string {
	t.Helper()
	return signClaims(t, jwt.SigningMethodHS256, jwt.MapClaims{
		"iat": iat.Unix(), "exp": iat.Add(AccessTTL).Unix(), "jti": uuid.NewString(),
		"id": authID, "rls": "", "rf_exp": iat.Add(RefreshTTL).Unix(),
	}, "", secret)
}

func TestVerifyLegacyHS256AcceptedOnlyWhenEnabled(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t)
	tok := legacyToken(t, appSecret, 5, t0)
	ctx := context.Background()

	if _, err := verifierAt(s.Verifier(AudienceAPI, nil), t0).Verify(ctx, tok); !itss.IsCode(err, itss.CodeUnauthorized) {
		t.Fatalf("legacy off: err = %v, want CodeUnauthorized", err)
	}

	on := verifierAt(s.Verifier(AudienceAPI, appSecret), t0)
	c, err := on.Verify(ctx, tok)
	if err != nil {
		t.Fatalf("legacy on: %v", err)
	}
	if !c.Legacy || c.AuthID != 5 || c.UID != 0 || c.Role != "" {
		t.Errorf("legacy claims = %+v", c)
	}
	// Whatever else a legacy token carries, uid is never taken from it.
	withUID := signClaims(t, jwt.SigningMethodHS256, jwt.MapClaims{"id": 5, "uid": 1, "sub": "1",
		"exp": t0.Add(time.Hour).Unix()}, "", appSecret)
	if c, err := on.Verify(ctx, withUID); err != nil || c.UID != 0 || c.Subject != "" {
		t.Errorf("legacy token with uid: %+v, %v", c, err)
	}
	own, _ := s.Issue(7, 3, "author", AudienceAPI, AccessTTL)
	if c, err := on.Verify(ctx, own); err != nil || c.Legacy {
		t.Errorf("EdDSA token with legacy on: %+v, %v", c, err)
	}
	refused := map[string]string{
		"expired":          legacyToken(t, appSecret, 5, t0.Add(-AccessTTL-time.Second)),
		"other secret":     legacyToken(t, []byte("another-secret-another-secret-32b"), 5, t0),
		"no id":            signClaims(t, jwt.SigningMethodHS256, jwt.MapClaims{"exp": t0.Add(time.Hour).Unix()}, "", appSecret),
		"HS512 not HS256":  signClaims(t, jwt.SigningMethodHS512, jwt.MapClaims{"id": 5, "exp": t0.Add(time.Hour).Unix()}, "", appSecret),
		"alg none, legacy": signClaims(t, jwt.SigningMethodNone, jwt.MapClaims{"id": 5, "exp": t0.Add(time.Hour).Unix()}, "", jwt.UnsafeAllowNoneSignatureType),
	}
	for name, tok := range refused {
		if _, err := on.Verify(ctx, tok); !itss.IsCode(err, itss.CodeUnauthorized) {
			t.Errorf("%s: err = %v, want CodeUnauthorized", name, err)
		}
	}
}

func TestRefreshAcceptsEarlyAndExpiredTokensInsideTheWindow(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t)
	old, _ := s.Issue(7, 3, "author", AudienceAPI, AccessTTL)
	oc := decodeSegment(t, old, 1)

	for name, at := range map[string]time.Time{
		"early (token still valid)": t0.Add(time.Hour),
		"access token expired":      t0.Add(3 * 24 * time.Hour),
		"last hour of the window":   t0.Add(RefreshTTL - time.Hour),
	} {
		t.Run(name, func(t *testing.T) {
			s2 := *s
			s2.now = func() time.Time { return at }
			tok, err := s2.Refresh(old)
			if err != nil {
				t.Fatal(err)
			}
			c := decodeSegment(t, tok, 1)
			wantExp := at.Add(AccessTTL)
			if rf := t0.Add(RefreshTTL); rf.Before(wantExp) {
				wantExp = rf
			}
			if c["jti"] != oc["jti"] || c["rf_exp"] != oc["rf_exp"] || c["uid"] != 7.0 || c["id"] != 3.0 ||
				c["rls"] != "author" || c["iat"] != float64(at.Unix()) || c["exp"] != float64(wantExp.Unix()) {
				t.Errorf("refreshed claims = %v (old %v)", c, oc)
			}
			if _, err := verifierAt(s.Verifier(AudienceAPI, nil), at).Verify(context.Background(), tok); err != nil {
				t.Errorf("refreshed token refused: %v", err)
			}
		})
	}
}

func TestRefreshRefused(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t)
	old, _ := s.Issue(7, 3, "author", AudienceAPI, AccessTTL)
	other := newTestSigner(t)
	foreign, _ := other.Issue(7, 3, "author", AudienceAPI, AccessTTL)

	late := *s
	late.now = func() time.Time { return t0.Add(RefreshTTL + time.Second) }
	if _, err := late.Refresh(old); !itss.IsCode(err, itss.CodeUnauthorized) {
		t.Errorf("after rf_exp: err = %v, want CodeUnauthorized", err)
	}
	cases := map[string]string{
		"other signer":     foreign,
		"wrong iss":        signClaims(t, jwt.SigningMethodEdDSA, with(validClaims(), "iss", "x"), s.KeyID(), s.key),
		"wrong aud":        signClaims(t, jwt.SigningMethodEdDSA, with(validClaims(), "aud", AudienceService), s.KeyID(), s.key),
		"no rf_exp":        signClaims(t, jwt.SigningMethodEdDSA, with(validClaims(), "rf_exp", nil), s.KeyID(), s.key),
		"HS256 app secret": signClaims(t, jwt.SigningMethodHS256, validClaims(), s.KeyID(), appSecret),
		"legacy token":     legacyToken(t, appSecret, 5, t0),
		"garbage":          "x",
	}
	for name, tok := range cases {
		if _, err := s.Refresh(tok); !itss.IsCode(err, itss.CodeUnauthorized) {
			t.Errorf("%s: err = %v, want CodeUnauthorized", name, err)
		}
	}
}

func TestRefreshLegacyIssuesAnEdDSATokenForTheMappedUser(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t)
	issued := t0.Add(-2 * AccessTTL) // expired access token, refresh window open
	old := legacyToken(t, appSecret, 5, issued)
	oc := decodeSegment(t, old, 1)
	resolve := func(_ context.Context, authID int64) (int64, string, error) {
		if authID != 5 {
			return 0, "", errors.New("unknown")
		}
		return 11, "learner", nil
	}
	tok, err := s.RefreshLegacy(context.Background(), old, appSecret, resolve)
	if err != nil {
		t.Fatal(err)
	}
	c, err := verifierAt(s.Verifier(AudienceAPI, nil), t0).Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Legacy || c.UID != 11 || c.Subject != "11" || c.AuthID != 5 || c.Role != "learner" ||
		c.ID != oc["jti"] || float64(c.RefreshExp) != oc["rf_exp"] {
		t.Errorf("claims = %+v", c)
	}
	if _, err := s.RefreshLegacy(context.Background(), old, nil, resolve); err == nil {
		t.Error("refreshed a legacy token with legacy off")
	}
	tooOld := legacyToken(t, appSecret, 5, t0.Add(-RefreshTTL-time.Second))
	if _, err := s.RefreshLegacy(context.Background(), tooOld, appSecret, resolve); err == nil {
		t.Error("refreshed a legacy token after rf_exp")
	}
}

func TestLoadOrCreateSignerCreatesKeyFileAndReloadsSameKid(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "keys", "jwt-ed25519.pem")
	s1, err := LoadOrCreateSigner(file, testIssuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	pubFile := filepath.Join(dir, "keys", "jwt-ed25519.pub.pem")
	pubPEM, err := os.ReadFile(pubFile)
	if err != nil || string(pubPEM) != string(s1.PublicKeyPEM()) {
		t.Fatalf("public key file: %v", err)
	}
	s2, err := LoadOrCreateSigner(file, testIssuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s1.KeyID() != s2.KeyID() {
		t.Fatalf("kid changed on reload: %s -> %s", s1.KeyID(), s2.KeyID())
	}
	// The tutorial service's verifier, from the public file alone.
	v, err := NewVerifier(VerifierOptions{PublicKeyFile: pubFile, Issuer: testIssuer, Audience: AudienceAPI})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := s2.Issue(1, 1, "learner", AudienceAPI, AccessTTL)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("token of the reloaded key refused: %v", err)
	}
}

func TestLoadOrCreateSignerNamesPublicFileForOtherNames(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "signing.key")
	if _, err := LoadOrCreateSigner(file, testIssuer, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPublicKey(file + ".pub"); err != nil {
		t.Fatal(err)
	}
}

func TestLoadOrCreateSignerReplicasStartingTogetherShareOneKey(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "jwt.pem")
	kids := make([]string, 6)
	var wg sync.WaitGroup
	for i := range kids {
		wg.Go(func() {
			s, err := LoadOrCreateSigner(file, testIssuer, nil)
			if err != nil {
				t.Error(err)
				return
			}
			kids[i] = s.KeyID()
		})
	}
	wg.Wait()
	for _, k := range kids[1:] {
		if k != kids[0] {
			t.Fatalf("replicas disagree on the key: %v", kids)
		}
	}
}

func TestLoadOrCreateSignerRefusesAFileThatIsNotAnEd25519Key(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "jwt.pem")
	os.WriteFile(file, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600)
	if _, err := LoadOrCreateSigner(file, testIssuer, nil); err == nil {
		t.Fatal("accepted a broken key file")
	}
}

// RFC 8037 Appendix A.3: the thumbprint of the example Ed25519 key.
func TestKeyIDIsTheRFC7638Thumbprint(t *testing.T) {
	t.Parallel()
	x, _ := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if got, want := KeyID(ed25519.PublicKey(x)), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Fatalf("KeyID = %s, want %s", got, want)
	}
}

func TestJWKSIsAnOKPKeySetWithKid(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t)
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(s.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	pub := base64.RawURLEncoding.EncodeToString(s.key.Public().(ed25519.PublicKey))
	want := map[string]string{"kty": "OKP", "crv": "Ed25519", "x": pub, "kid": s.KeyID(), "use": "sig", "alg": "EdDSA"}
	if len(set.Keys) != 1 || len(set.Keys[0]) != len(want) {
		t.Fatalf("JWKS = %s", s.JWKS())
	}
	for k, v := range want {
		if set.Keys[0][k] != v {
			t.Errorf("%s = %q, want %q", k, set.Keys[0][k], v)
		}
	}
}

// jwksServer serves a settable response and counts requests.
type jwksServer struct {
	*httptest.Server
	mu   sync.Mutex
	body []byte
	code int
	hits atomic.Int32
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	j := &jwksServer{body: body, code: http.StatusOK}
	j.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.hits.Add(1)
		j.mu.Lock()
		defer j.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(j.code)
		w.Write(j.body)
	}))
	t.Cleanup(j.Close)
	return j
}

func (j *jwksServer) serve(code int, body []byte) {
	j.mu.Lock()
	j.code, j.body = code, body
	j.mu.Unlock()
}

// remoteVerifier returns a JWKS verifier whose clock the test moves.
func remoteVerifier(t *testing.T, url string, clock *atomic.Int64) *Verifier {
	t.Helper()
	v, err := NewVerifier(VerifierOptions{JWKSURL: url, Issuer: testIssuer, Audience: AudienceAPI})
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Unix(clock.Load(), 0) }
	v.now, v.keys.now = now, now
	return v
}

func TestJWKSVerifierRoundTripAndRateLimitedRefetch(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t)
	srv := newJWKSServer(t, s.JWKS())
	var clock atomic.Int64
	clock.Store(t0.Unix())
	v := remoteVerifier(t, srv.URL, &clock)
	ctx := context.Background()
	if srv.hits.Load() != 0 {
		t.Fatal("NewVerifier fetched the JWKS eagerly")
	}

	tok, _ := s.Issue(7, 3, "author", AudienceAPI, AccessTTL)
	for range 3 {
		if c, err := v.Verify(ctx, tok); err != nil || c.UID != 7 {
			t.Fatalf("Verify = %+v, %v", c, err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times for one key, want 1 (cached)", n)
	}

	// A new key (rotation) is unknown: one refetch picks it up...
	rotated := newTestSigner(t)
	srv.serve(http.StatusOK, rotated.JWKS())
	clock.Add(int64(jwksMinRefetch / time.Second))
	newTok, _ := rotated.Issue(8, 0, "learner", AudienceAPI, AccessTTL)
	if _, err := v.Verify(ctx, newTok); err != nil {
		t.Fatalf("token of the rotated key refused: %v", err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("hits = %d, want 2", n)
	}
	// ...and a flood of unknown kids costs at most one fetch per interval.
	for range 5 {
		stranger := signClaims(t, jwt.SigningMethodEdDSA, validClaims(), "kid-"+uuid.NewString(), s.key)
		if _, err := v.Verify(ctx, stranger); !itss.IsCode(err, itss.CodeUnauthorized) {
			t.Fatalf("unknown kid: err = %v, want CodeUnauthorized", err)
		}
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("hits = %d after unknown kids inside the interval, want 2", n)
	}
	// The old key left the set, and the set was refetched: its tokens fail.
	if _, err := v.Verify(ctx, tok); !itss.IsCode(err, itss.CodeUnauthorized) {
		t.Fatalf("token of a withdrawn key: err = %v, want CodeUnauthorized", err)
	}
}

func TestJWKSVerifierStartsWithoutTheAuthServiceAndRecovers(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t)
	srv := newJWKSServer(t, nil)
	srv.serve(http.StatusServiceUnavailable, []byte("down"))
	var clock atomic.Int64
	clock.Store(t0.Unix())
	v := remoteVerifier(t, srv.URL, &clock)
	tok, _ := s.Issue(7, 3, "author", AudienceAPI, AccessTTL)
	ctx := context.Background()

	if _, err := v.Verify(ctx, tok); !itss.IsCode(err, itss.CodeUnavailable) {
		t.Fatalf("no keys yet: err = %v, want CodeUnavailable", err)
	}
	srv.serve(http.StatusOK, s.JWKS())
	clock.Add(int64(jwksMinRefetch / time.Second))
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("after the auth service came up: %v", err)
	}
	// Later outages keep the cached key in use, even once the set is old.
	srv.serve(http.StatusInternalServerError, nil)
	clock.Add(int64(jwksMaxAge/time.Second) + 1)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("cached key during an outage: %v", err)
	}
}

func TestNewVerifierNeedsAKeySourceIssuerAndAudience(t *testing.T) {
	t.Parallel()
	for _, o := range []VerifierOptions{
		{Issuer: testIssuer, Audience: AudienceAPI},
		{JWKSURL: "http://x", Audience: AudienceAPI},
		{JWKSURL: "http://x", Issuer: testIssuer},
		{PublicKeyFile: filepath.Join(t.TempDir(), "missing.pem"), Issuer: testIssuer, Audience: AudienceAPI},
	} {
		if _, err := NewVerifier(o); err == nil {
			t.Errorf("NewVerifier(%+v) succeeded", o)
		}
	}
}
