package security

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/itss-go/itss/internal/itss"
)

// GoogleIdentity is what a verified Google ID token says about its user.
type GoogleIdentity struct {
	Subject, Email, Name, Picture string
	// EmailVerified is Google's email_verified claim; the e-mail of an
	// unverified address is profile data, not proof of ownership.
	EmailVerified bool
}

// GoogleVerifier verifies Google ID tokens (audience = the OAuth client id).
// Discovery of the issuer happens on first use, not at construction, so a
// service without internet access still starts; a failed discovery is
// retried by a later call.
type GoogleVerifier struct {
	issuer, clientID string
	client           *http.Client

	mu         sync.Mutex
	verifier   *oidc.IDTokenVerifier
	lastTry    time.Time
	lastErr    error
	retryAfter time.Duration // calls within this interval of a failed discovery fail at once
	now        func() time.Time
}

const (
	googleTimeout    = 10 * time.Second
	googleRetryAfter = 5 * time.Second
)

// NewGoogleVerifier returns a verifier for ID tokens issued by issuerURL
// (https://accounts.google.com, or a local issuer in tests) for clientID.
func NewGoogleVerifier(issuerURL, clientID string, client *http.Client) *GoogleVerifier {
	if client == nil {
		client = &http.Client{Timeout: googleTimeout}
	}
	return &GoogleVerifier{issuer: issuerURL, clientID: clientID, client: client,
		retryAfter: googleRetryAfter, now: time.Now}
}

// Verify checks rawIDToken's signature, issuer, audience and expiry.
// Failures are itss errors: CodeUnauthorized for a bad token, CodeUnavailable
// when Google sign-in is not configured or the issuer cannot be reached.
func (g *GoogleVerifier) Verify(ctx context.Context, rawIDToken string) (GoogleIdentity, error) {
	var id GoogleIdentity
	v, err := g.idTokenVerifier(ctx)
	if err != nil {
		return id, err
	}
	tok, err := v.Verify(oidc.ClientContext(ctx, g.client), rawIDToken)
	if err != nil {
		return id, itss.Wrap(itss.CodeUnauthorized, err, "Invalid Google token.")
	}
	var c struct {
		Email         string `json:"email"`
		EmailVerified any    `json:"email_verified"` // a boolean, or "true" from some issuers
		Name          string `json:"name"`
		Picture       string `json:"picture"`
	}
	if err := tok.Claims(&c); err != nil {
		return id, itss.Wrap(itss.CodeUnauthorized, err, "Invalid Google token.")
	}
	if tok.Subject == "" {
		return id, itss.Errorf(itss.CodeUnauthorized, "Invalid Google token.")
	}
	return GoogleIdentity{
		Subject:       tok.Subject,
		Email:         c.Email,
		Name:          c.Name,
		Picture:       c.Picture,
		EmailVerified: c.EmailVerified == true || c.EmailVerified == "true",
	}, nil
}

func (g *GoogleVerifier) idTokenVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	if g.issuer == "" || g.clientID == "" {
		return nil, itss.Errorf(itss.CodeUnavailable, "Google sign-in is not configured.")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.verifier != nil {
		return g.verifier, nil
	}
	now := g.now()
	if g.lastErr == nil || now.Sub(g.lastTry) >= g.retryAfter {
		g.lastTry = now
		g.lastErr = g.discover(ctx)
	}
	if g.lastErr != nil {
		return nil, itss.Wrap(itss.CodeUnavailable, g.lastErr, "Google sign-in is unavailable.")
	}
	return g.verifier, nil
}

// discover fetches the issuer's metadata; the provider keeps g.client for
// its later JWKS fetches.
func (g *GoogleVerifier) discover(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), googleTimeout)
	defer cancel()
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, g.client), g.issuer)
	if err != nil {
		return fmt.Errorf("OIDC discovery of %s: %w", g.issuer, err)
	}
	g.verifier = p.Verifier(&oidc.Config{ClientID: g.clientID, SupportedSigningAlgs: []string{oidc.RS256}})
	return nil
}
