package security

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/itss-go/itss/internal/itss"
)

// VerifierOptions configure a Verifier. One of PublicKeyFile (preferred) and
// JWKSURL is required; LegacySecret, when set, makes HS256 tokens of the
// original system acceptable (LEGACY_HS256_TOKENS during a cut-over).
type VerifierOptions struct {
	PublicKeyFile, JWKSURL string
	Issuer, Audience       string
	LegacySecret           []byte
	HTTPClient             *http.Client // for JWKSURL; nil: a client with a short timeout
}

// Verifier checks access tokens: EdDSA only, signed by a known kid, with the
// expected iss and aud and an exp in the future.
type Verifier struct {
	issuer, audience string
	legacy           []byte
	keys             *keySet
	now              func() time.Time
}

const (
	jwksTimeout     = 5 * time.Second
	jwksMinRefetch  = 10 * time.Second // an unknown kid triggers at most one fetch per interval
	jwksMaxAge      = time.Hour        // so that a key withdrawn from the set stops being trusted
	jwksMaxBodySize = 1 << 20
)

// NewVerifier returns a Verifier for tokens of a signer in another process.
// A JWKS URL is not fetched here but on first use, so the tutorial service
// starts even when the auth service is not up yet.
func NewVerifier(o VerifierOptions) (*Verifier, error) {
	if o.Issuer == "" || o.Audience == "" {
		return nil, errors.New("token verifier: issuer and audience are required")
	}
	var ks *keySet
	switch {
	case o.PublicKeyFile != "":
		pub, err := ReadPublicKey(o.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("token verifier: %w", err)
		}
		ks = &keySet{keys: map[string]ed25519.PublicKey{KeyID(pub): pub}}
	case o.JWKSURL != "":
		client := o.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: jwksTimeout}
		}
		ks = &keySet{url: o.JWKSURL, client: client, now: time.Now}
	default:
		return nil, errors.New("token verifier: a public key file or a JWKS URL is required")
	}
	return newVerifier(o.Issuer, o.Audience, o.LegacySecret, ks), nil
}

func newVerifier(issuer, audience string, legacy []byte, ks *keySet) *Verifier {
	if len(legacy) == 0 {
		legacy = nil
	}
	return &Verifier{issuer: issuer, audience: audience, legacy: legacy, keys: ks, now: time.Now}
}

// Verify checks token and returns its claims. Failures are itss errors:
// CodeUnauthorized for a bad token, CodeUnavailable when no key could be
// fetched at all.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	// The algorithm picks the rules before any key is chosen: only the
	// configured legacy secret may ever verify an HS256 token, so the public
	// key can never be used as an HMAC secret (algorithm confusion).
	if v.legacy != nil {
		if t, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{}); err == nil && t.Method.Alg() == "HS256" {
			return v.verifyLegacy(token)
		}
	}
	c := &Claims{}
	_, err := jwt.ParseWithClaims(token, c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token has no kid")
		}
		return v.keys.lookup(ctx, kid)
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(v.now))
	if err != nil {
		if errors.Is(err, errNoKeys) {
			return nil, itss.Wrap(itss.CodeUnavailable, err, "Token keys are unavailable.")
		}
		return nil, errToken(err)
	}
	return c, nil
}

// verifyLegacy accepts an HS256 token of the original system: claims iat,
// exp, jti, id (user_auth id), rls, rf_exp and no iss or aud.
func (v *Verifier) verifyLegacy(token string) (*Claims, error) {
	c := &Claims{}
	_, err := jwt.ParseWithClaims(token, c, func(*jwt.Token) (any, error) { return v.legacy, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(v.now))
	if err != nil {
		return nil, errToken(err)
	}
	if c.AuthID < 1 {
		return nil, errToken(errors.New("legacy token without id"))
	}
	// The original never issued uid or sub; whatever such a token carries is
	// not a user id.
	c.UID, c.Subject, c.Legacy = 0, "", true
	return c, nil
}

var errNoKeys = errors.New("no token keys")

// keySet holds the public keys by kid: fixed (file, in-process signer) or
// fetched from a JWKS URL and refetched when a kid is unknown or the set is
// old, at most once per jwksMinRefetch.
type keySet struct {
	mu      sync.RWMutex
	keys    map[string]ed25519.PublicKey
	fetched time.Time

	url    string
	client *http.Client
	now    func() time.Time

	fetchMu sync.Mutex // one fetch at a time; guards tried and lastErr
	tried   time.Time
	lastErr error
}

func (k *keySet) lookup(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	k.mu.RLock()
	key, ok := k.keys[kid]
	fresh := k.url == "" || (!k.fetched.IsZero() && k.now().Sub(k.fetched) < jwksMaxAge)
	k.mu.RUnlock()
	if ok && fresh {
		return key, nil
	}
	if k.url == "" {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	if err := k.refresh(ctx); err != nil {
		if ok {
			return key, nil // a stale key beats an outage; it is dropped at the next successful fetch
		}
		k.mu.RLock()
		empty := len(k.keys) == 0
		k.mu.RUnlock()
		if empty {
			return nil, fmt.Errorf("%w: %w", errNoKeys, err)
		}
		return nil, fmt.Errorf("unknown kid %q: %w", kid, err)
	}
	k.mu.RLock()
	key, ok = k.keys[kid]
	k.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	return key, nil
}

// refresh fetches the set unless a fetch was tried less than jwksMinRefetch
// ago, in which case it reports that fetch's outcome.
func (k *keySet) refresh(ctx context.Context) error {
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	now := k.now()
	if !k.tried.IsZero() && now.Sub(k.tried) < jwksMinRefetch {
		return k.lastErr
	}
	k.tried = now
	// A caller that gives up must not leave a failed fetch cached for everyone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksTimeout)
	defer cancel()
	keys, err := k.fetch(ctx)
	k.lastErr = err
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.keys, k.fetched = keys, now
	k.mu.Unlock()
	return nil
}

func (k *keySet) fetch(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch JWKS: %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBodySize))
	if err != nil {
		return nil, fmt.Errorf("read JWKS: %w", err)
	}
	return decodeJWKS(body)
}
