package security

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/itss-go/itss/internal/itss"
)

// Audiences of the tokens the auth service signs.
const (
	AudienceAPI     = "itss-api"     // browser sessions, 24 h, refreshable
	AudienceService = "itss-service" // the auth service's call to the tutorial service (A11)
)

// Lifetimes of API.md A4.
const (
	AccessTTL  = 24 * time.Hour
	RefreshTTL = 30 * 24 * time.Hour
	ServiceTTL = 60 * time.Second
)

// Claims are the claims of an access token. The json names are those the
// original system issued (id, rls, rf_exp) plus uid, iss and aud.
type Claims struct {
	UID        int64  `json:"uid,omitempty"` // user id; also in sub
	AuthID     int64  `json:"id,omitempty"`  // user_auth id, 0 if the user has none
	Role       string `json:"rls"`           // role chosen at login
	RefreshExp int64  `json:"rf_exp,omitempty"`
	// Legacy marks an HS256 token of the original system: UID is unknown and
	// the caller maps AuthID through user_auth.
	Legacy bool `json:"-"`
	jwt.RegisteredClaims
}

func errToken(cause error) error {
	return itss.Wrap(itss.CodeUnauthorized, cause, "Invalid or expired token.")
}

// Signer signs access tokens with an Ed25519 key.
type Signer struct {
	key    ed25519.PrivateKey
	kid    string
	issuer string
	jwks   []byte
	pubPEM []byte
	now    func() time.Time
}

// LoadOrCreateSigner reads the PKCS#8 PEM private key at privateKeyFile, or
// creates it (mode 0600) when absent so that a first start needs no setup.
// The public half is written beside it as <name>.pub.pem (or <file>.pub) for
// the tutorial service; failing to write it is only logged, because the
// tutorial service can use the JWKS instead.
func LoadOrCreateSigner(privateKeyFile, issuer string, log *slog.Logger) (*Signer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if privateKeyFile == "" || issuer == "" {
		return nil, errors.New("token signer: key file and issuer are required")
	}
	key, err := readPrivateKey(privateKeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createPrivateKey(privateKeyFile)
		if err == nil {
			log.Info("created token signing key", "file", privateKeyFile)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("token signer: %w", err)
	}
	if fi, err := os.Stat(privateKeyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("token signing key is readable by other users", "file", privateKeyFile, "mode", fi.Mode().Perm().String())
	}
	s := newSigner(key, issuer)
	pubFile := PublicKeyFileFor(privateKeyFile)
	if cur, err := os.ReadFile(pubFile); err != nil || !bytes.Equal(cur, s.pubPEM) {
		if err := writeFileAtomic(pubFile, s.pubPEM, 0o644); err != nil {
			log.Warn("could not write the public token key", "file", pubFile, "err", err)
		} else {
			log.Info("wrote public token key", "file", pubFile)
		}
	}
	return s, nil
}

// NewSigner returns a Signer for an existing key (tests, tools).
func NewSigner(key ed25519.PrivateKey, issuer string) *Signer { return newSigner(key, issuer) }

func newSigner(key ed25519.PrivateKey, issuer string) *Signer {
	pub := key.Public().(ed25519.PublicKey)
	der, _ := x509.MarshalPKIXPublicKey(pub) // cannot fail for an Ed25519 key
	kid := KeyID(pub)
	return &Signer{
		key:    key,
		kid:    kid,
		issuer: issuer,
		jwks:   encodeJWKS(map[string]ed25519.PublicKey{kid: pub}),
		pubPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		now:    time.Now,
	}
}

// PublicKeyFileFor names the public half of a private key file:
// keys/jwt.pem -> keys/jwt.pub.pem, anything else -> <file>.pub.
func PublicKeyFileFor(privateKeyFile string) string {
	if base, ok := strings.CutSuffix(privateKeyFile, ".pem"); ok {
		return base + ".pub.pem"
	}
	return privateKeyFile + ".pub"
}

// KeyID is the RFC 7638 thumbprint of an Ed25519 public key: derived from the
// key alone, so replicas sharing a key file publish and expect the same kid.
func KeyID(pub ed25519.PublicKey) string {
	// Members in lexicographic order, no whitespace, as RFC 7638 §3 requires.
	doc := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(doc))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// KeyID returns the kid of the signing key.
func (s *Signer) KeyID() string { return s.kid }

// JWKS returns the JSON Web Key Set (RFC 7517) of the public key, served at
// GET /.well-known/jwks.json.
func (s *Signer) JWKS() []byte { return slices.Clone(s.jwks) }

// PublicKeyPEM returns the public key as a PKIX PEM block.
func (s *Signer) PublicKeyPEM() []byte { return slices.Clone(s.pubPEM) }

// Issue signs a token for user uid acting as role. authID is the user_auth id
// (0 if none). API tokens also carry rf_exp, the end of the refresh window.
func (s *Signer) Issue(uid, authID int64, role, audience string, ttl time.Duration) (string, error) {
	now := s.now().Truncate(time.Second)
	c := &Claims{UID: uid, AuthID: authID, Role: role}
	c.Issuer = s.issuer
	c.Audience = jwt.ClaimStrings{audience}
	c.ID = uuid.NewString()
	c.IssuedAt = jwt.NewNumericDate(now)
	exp := now.Add(ttl)
	if audience == AudienceAPI {
		rf := now.Add(RefreshTTL)
		c.RefreshExp = rf.Unix()
		exp = minTime(exp, rf)
	}
	c.ExpiresAt = jwt.NewNumericDate(exp)
	if uid != 0 {
		c.Subject = strconv.FormatInt(uid, 10)
	}
	return s.sign(c)
}

func (s *Signer) sign(c *Claims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	t.Header["kid"] = s.kid
	out, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return out, nil
}

// Refresh returns a new API token for a token this signer issued, expired or
// not: the signature, iss and aud are checked, exp is not, and early refreshes
// are allowed (a client with a skewed clock would otherwise be logged out). It
// refuses once rf_exp has passed. jti and rf_exp are kept; iat is now and exp
// is min(now+24h, rf_exp).
func (s *Signer) Refresh(token string) (string, error) {
	c := &Claims{}
	_, err := jwt.ParseWithClaims(token, c, s.keyFunc,
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithoutClaimsValidation())
	if err != nil {
		return "", errToken(err)
	}
	if c.Issuer != s.issuer || !slices.Contains(c.Audience, AudienceAPI) {
		return "", errToken(errors.New("refresh: wrong issuer or audience"))
	}
	return s.reissue(c)
}

// RefreshLegacy refreshes an HS256 token of the original system (signed with
// legacySecret, accepted only while a cut-over allows it) into an Ed25519 API
// token. resolve maps the token's user_auth id to the user id and the role to
// carry, since the original put neither in its tokens.
func (s *Signer) RefreshLegacy(ctx context.Context, token string, legacySecret []byte,
	resolve func(ctx context.Context, authID int64) (uid int64, role string, err error)) (string, error) {
	if len(legacySecret) == 0 {
		return "", errToken(errors.New("legacy tokens are not accepted"))
	}
	c := &Claims{}
	_, err := jwt.ParseWithClaims(token, c, func(*jwt.Token) (any, error) { return legacySecret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithoutClaimsValidation())
	if err != nil {
		return "", errToken(err)
	}
	if c.AuthID < 1 {
		return "", errToken(errors.New("legacy token without id"))
	}
	// Checked before resolve so that a dead token costs no database lookup;
	// reissue checks again.
	if c.RefreshExp == 0 || s.now().Unix() > c.RefreshExp {
		return "", errToken(errors.New("refresh window over"))
	}
	uid, role, err := resolve(ctx, c.AuthID)
	if err != nil {
		return "", fmt.Errorf("refresh legacy token: %w", err)
	}
	n := &Claims{UID: uid, AuthID: c.AuthID, Role: role, RefreshExp: c.RefreshExp}
	n.ID = c.ID
	n.Issuer = s.issuer
	n.Audience = jwt.ClaimStrings{AudienceAPI}
	if uid != 0 {
		n.Subject = strconv.FormatInt(uid, 10)
	}
	return s.reissue(n)
}

// reissue signs c again with a fresh iat and exp inside its refresh window.
func (s *Signer) reissue(c *Claims) (string, error) {
	now := s.now().Truncate(time.Second)
	if c.RefreshExp == 0 || c.ID == "" {
		return "", errToken(errors.New("refresh: token has no rf_exp or jti"))
	}
	rf := time.Unix(c.RefreshExp, 0)
	if now.After(rf) {
		return "", errToken(errors.New("refresh window over"))
	}
	c.IssuedAt = jwt.NewNumericDate(now)
	c.ExpiresAt = jwt.NewNumericDate(minTime(now.Add(AccessTTL), rf))
	c.NotBefore = nil
	return s.sign(c)
}

func (s *Signer) keyFunc(t *jwt.Token) (any, error) {
	if kid, _ := t.Header["kid"].(string); kid != s.kid {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	return s.key.Public(), nil
}

// Verifier returns a Verifier that checks tokens of this signer in-process
// (the auth service's own routes).
func (s *Signer) Verifier(audience string, legacySecret []byte) *Verifier {
	pub := s.key.Public().(ed25519.PublicKey)
	return newVerifier(s.issuer, audience, legacySecret, &keySet{keys: map[string]ed25519.PublicKey{s.kid: pub}})
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// jwk is the RFC 8037 form of an Ed25519 public key.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

func encodeJWKS(keys map[string]ed25519.PublicKey) []byte {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, kid := range slices.Sorted(maps.Keys(keys)) {
		set.Keys = append(set.Keys, jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(keys[kid]),
			Kid: kid, Use: "sig", Alg: "EdDSA"})
	}
	b, _ := json.Marshal(set) // plain strings cannot fail
	return b
}

// decodeJWKS keeps the Ed25519 signing keys of a set and skips the rest, so
// that a set which also publishes other key types still works.
func decodeJWKS(data []byte) (map[string]ed25519.PublicKey, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("decode JWKS: %w", err)
	}
	keys := map[string]ed25519.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Kid == "" || (k.Use != "" && k.Use != "sig") ||
			(k.Alg != "" && k.Alg != "EdDSA") {
			continue
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			continue
		}
		keys[k.Kid] = ed25519.PublicKey(x)
	}
	return keys, nil
}

func readPrivateKey(file string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: no PKCS#8 PRIVATE KEY PEM block", file)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an Ed25519 key", file)
	}
	return key, nil
}

// ReadPublicKey reads a PKIX PEM Ed25519 public key (JWT_PUBLIC_KEY_FILE).
func ReadPublicKey(file string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%s: no PUBLIC KEY PEM block", file)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	key, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an Ed25519 key", file)
	}
	return key, nil
}

// createPrivateKey writes a new key so that no process ever reads a partial
// file: the PEM goes to a temporary file that is then hard-linked to its name,
// which fails if another replica created the key first; that key is used then.
func createPrivateKey(file string) (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	tmp, err := writeTemp(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, file); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readPrivateKey(file)
		}
		return nil, fmt.Errorf("create key file: %w", err)
	}
	return key, nil
}

func writeFileAtomic(file string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(file, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

func writeTemp(file string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp*")
	if err != nil {
		return "", fmt.Errorf("create temporary key file: %w", err)
	}
	name := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	return name, nil
}
