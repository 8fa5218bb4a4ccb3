package security

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/itss-go/itss/internal/itss"
)

const googleClientID = "test-client.apps.googleusercontent.com"

// oidcIssuer is a local OpenID provider: discovery document, a JWKS with an
// RSA key of its own, and a switch that makes discovery fail.
type oidcIssuer struct {
	*httptest.Server
	key       *rsa.PrivateKey
	down      atomic.Bool
	discovery atomic.Int32
}

func newOIDCIssuer(t *testing.T) *oidcIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	o := &oidcIssuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		o.discovery.Add(1)
		if o.down.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                o.URL,
			"authorization_endpoint":                o.URL + "/auth",
			"token_endpoint":                        o.URL + "/token",
			"jwks_uri":                              o.URL + "/certs",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /certs", func(w http.ResponseWriter, r *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "test-rsa", "use": "sig", "alg": "RS256",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	o.Server = httptest.NewServer(mux)
	t.Cleanup(o.Close)
	return o
}

func (o *oidcIssuer) claims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": o.URL, "aud": googleClientID, "sub": "1098765432101234567890",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"email": "ada@example.com", "email_verified": true, "name": "Ada", "picture": "https://example.com/ada.png",
	}
}

func (o *oidcIssuer) sign(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	return signClaims(t, jwt.SigningMethodRS256, c, "test-rsa", o.key)
}

func TestGoogleVerifierAcceptsTokenOfTheIssuer(t *testing.T) {
	t.Parallel()
	o := newOIDCIssuer(t)
	g := NewGoogleVerifier(o.URL, googleClientID, nil)
	id, err := g.Verify(context.Background(), o.sign(t, o.claims()))
	if err != nil {
		t.Fatal(err)
	}
	want := GoogleIdentity{Subject: "1098765432101234567890", Email: "ada@example.com", Name: "Ada",
		Picture: "https://example.com/ada.png", EmailVerified: true}
	if id != want {
		t.Fatalf("identity = %+v, want %+v", id, want)
	}
	// Discovery is done once, not per token.
	g.Verify(context.Background(), o.sign(t, o.claims()))
	if n := o.discovery.Load(); n != 1 {
		t.Fatalf("discovery ran %d times, want 1", n)
	}
}

func TestGoogleVerifierRefusesBadTokens(t *testing.T) {
	t.Parallel()
	o := newOIDCIssuer(t)
	other := newOIDCIssuer(t)
	g := NewGoogleVerifier(o.URL, googleClientID, nil)
	set := func(k string, v any) jwt.MapClaims { c := o.claims(); c[k] = v; return c }
	cases := map[string]string{
		"wrong audience":     o.sign(t, set("aud", "someone-else.apps.googleusercontent.com")),
		"expired":            o.sign(t, set("exp", time.Now().Add(-time.Minute).Unix())),
		"wrong issuer":       o.sign(t, set("iss", other.URL)),
		"other issuer's key": other.sign(t, o.claims()),
		"HS256":              signClaims(t, jwt.SigningMethodHS256, o.claims(), "test-rsa", appSecret),
		"not a JWT":          "nope",
	}
	for name, tok := range cases {
		t.Run(name+" refused", func(t *testing.T) {
			t.Parallel()
			if _, err := g.Verify(context.Background(), tok); !itss.IsCode(err, itss.CodeUnauthorized) {
				t.Fatalf("err = %v, want CodeUnauthorized", err)
			}
		})
	}
}

func TestGoogleVerifierDiscoversLazilyAndRetriesAfterFailure(t *testing.T) {
	t.Parallel()
	o := newOIDCIssuer(t)
	o.down.Store(true)
	g := NewGoogleVerifier(o.URL, googleClientID, nil)
	if n := o.discovery.Load(); n != 0 {
		t.Fatalf("constructor ran discovery %d times", n)
	}
	tok := o.sign(t, o.claims())
	if _, err := g.Verify(context.Background(), tok); !itss.IsCode(err, itss.CodeUnavailable) {
		t.Fatalf("issuer down: err = %v, want CodeUnavailable", err)
	}
	// Inside the retry interval the failure is answered without a new request.
	if _, err := g.Verify(context.Background(), tok); !itss.IsCode(err, itss.CodeUnavailable) {
		t.Fatalf("err = %v, want CodeUnavailable", err)
	}
	if n := o.discovery.Load(); n != 1 {
		t.Fatalf("discovery ran %d times inside the retry interval, want 1", n)
	}
	o.down.Store(false)
	g.mu.Lock()
	g.now = func() time.Time { return time.Now().Add(googleRetryAfter) }
	g.mu.Unlock()
	if _, err := g.Verify(context.Background(), tok); err != nil {
		t.Fatalf("after the issuer came back: %v", err)
	}
}

func TestGoogleVerifierUnconfiguredIsUnavailable(t *testing.T) {
	t.Parallel()
	g := NewGoogleVerifier("https://accounts.google.com", "", nil)
	if _, err := g.Verify(context.Background(), "x"); !itss.IsCode(err, itss.CodeUnavailable) {
		t.Fatalf("err = %v, want CodeUnavailable", err)
	}
}
