package security

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters. Memory is in KiB.
type Argon2Params struct {
	Memory  uint32
	Time    uint32
	Threads uint8
}

// DefaultArgon2Params returns the OWASP recommendation for argon2id
// (19 MiB, 2 passes, 1 lane).
func DefaultArgon2Params() Argon2Params {
	return Argon2Params{Memory: 19456, Time: 2, Threads: 1}
}

const (
	argon2SaltLen = 16
	argon2KeyLen  = 32

	// Bounds on parameters read from a stored hash, so that a corrupt or
	// hostile row cannot make one login allocate gigabytes or spin for minutes.
	maxArgon2Memory = 1 << 21 // KiB, 2 GiB
	maxArgon2Time   = 100
	maxPBKDF2Rounds = 10_000_000
	pbkdf2KeyLen    = 64 // passlib pbkdf2_sha512 stores the full SHA-512 output

	// legacyPBKDF2Rounds is passlib 1.7's default for pbkdf2_sha512, the
	// cost of the original system's hashes; failed verifications pad to it.
	legacyPBKDF2Rounds = 25000
)

// ErrUnknownHashFormat is returned by Verify for a stored hash it cannot read.
var ErrUnknownHashFormat = errors.New("unknown password hash format")

// Hasher hashes and verifies passwords. Each computation holds a slot of a
// semaphore, so a login flood queues instead of allocating Memory KiB per
// request until the process is killed.
type Hasher struct {
	params Argon2Params
	sem    chan struct{}
	// argon is argon2.IDKey and pbkdf2 is PBKDF2-HMAC-SHA512; tests wrap
	// them to observe concurrency and the work done.
	argon  func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte
	pbkdf2 func(password string, salt []byte, rounds, keyLen int) ([]byte, error)
}

func pbkdf2SHA512(password string, salt []byte, rounds, keyLen int) ([]byte, error) {
	return pbkdf2.Key(sha512.New, password, salt, rounds, keyLen)
}

// NewHasher returns a Hasher using p (zero fields take the defaults) that
// runs at most maxConcurrent hash computations at once (<= 0: one per CPU).
func NewHasher(p Argon2Params, maxConcurrent int) *Hasher {
	d := DefaultArgon2Params()
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	if p.Time == 0 {
		p.Time = d.Time
	}
	if p.Threads == 0 {
		p.Threads = d.Threads
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.GOMAXPROCS(0)
	}
	return &Hasher{params: p, sem: make(chan struct{}, maxConcurrent), argon: argon2.IDKey, pbkdf2: pbkdf2SHA512}
}

// Params returns the parameters new hashes are written with.
func (h *Hasher) Params() Argon2Params { return h.params }

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for a password hash slot: %w", ctx.Err())
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash returns password hashed with argon2id in PHC string format.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, argon2SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	p := h.params
	key := h.argon([]byte(password), salt, p.Time, p.Memory, p.Threads, argon2KeyLen)
	return formatArgon2(argon2Hash{params: p, salt: salt, key: key}), nil
}

// Verify reports whether password matches encoded, an argon2id PHC string or
// a passlib "$pbkdf2-sha512$rounds$salt$checksum" hash of the original system.
// needsRehash is true after a successful match when the stored hash should be
// replaced by Hash(password): always for pbkdf2, and for argon2id written with
// other parameters.
//
// Whatever the format, one argon2id and one pbkdf2-sha512 computation are
// done, the one the hash does not call for as padding, so that a wrong
// password costs the same on a migrated account, an upgraded one and (with
// VerifyDummy) an unknown e-mail (API.md A5). An unreadable hash costs the
// same too before its error is returned.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error) {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		a, err := parseArgon2(encoded)
		if err != nil {
			h.VerifyDummy(ctx, password)
			return false, false, err
		}
		if err := h.acquire(ctx); err != nil {
			return false, false, err
		}
		defer h.release()
		p := a.params
		key := h.argon([]byte(password), a.salt, p.Time, p.Memory, p.Threads, uint32(len(a.key)))
		ok = subtle.ConstantTimeCompare(key, a.key) == 1
		h.dummyPBKDF2(password)
		return ok, ok && (p != h.params || len(a.key) != argon2KeyLen), nil
	case strings.HasPrefix(encoded, "$pbkdf2-sha512$"):
		ph, err := parsePBKDF2(encoded)
		if err != nil {
			h.VerifyDummy(ctx, password)
			return false, false, err
		}
		if err := h.acquire(ctx); err != nil {
			return false, false, err
		}
		defer h.release()
		key, err := h.pbkdf2(password, ph.salt, ph.rounds, pbkdf2KeyLen)
		if err != nil {
			return false, false, fmt.Errorf("pbkdf2: %w", err)
		}
		ok = subtle.ConstantTimeCompare(key, ph.key) == 1
		h.dummyArgon2(password)
		return ok, ok, nil
	default:
		h.VerifyDummy(ctx, password)
		return false, false, ErrUnknownHashFormat
	}
}

// VerifyDummy does the work of a failed Verify (an argon2id computation with
// the current parameters and a pbkdf2-sha512 one at the original's cost) and
// throws the result away. Call it for an unknown account so that "no such
// e-mail" and "wrong password" take the same time.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) {
	if err := h.acquire(ctx); err != nil {
		return
	}
	defer h.release()
	h.dummyArgon2(password)
	h.dummyPBKDF2(password)
}

// dummyArgon2 and dummyPBKDF2 run with a slot held by the caller.
func (h *Hasher) dummyArgon2(password string) {
	p := h.params
	var salt [argon2SaltLen]byte
	key := h.argon([]byte(password), salt[:], p.Time, p.Memory, p.Threads, argon2KeyLen)
	subtle.ConstantTimeCompare(key, make([]byte, argon2KeyLen))
}

func (h *Hasher) dummyPBKDF2(password string) {
	var salt [16]byte // passlib's salt size
	if key, err := h.pbkdf2(password, salt[:], legacyPBKDF2Rounds, pbkdf2KeyLen); err == nil {
		subtle.ConstantTimeCompare(key, make([]byte, pbkdf2KeyLen))
	}
}

type argon2Hash struct {
	params    Argon2Params
	salt, key []byte
}

// b64 is the PHC string format's base64: standard alphabet, no padding.
var b64 = base64.RawStdEncoding

// b64Decode accepts only the canonical encoding (the decoder alone skips
// newlines and ignores trailing bits), so a parsed hash formats back to the
// same string, which the fuzz target checks.
func b64Decode(s string) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err == nil && b64.EncodeToString(b) != s {
		err = errors.New("non-canonical base64")
	}
	return b, err
}

func formatArgon2(a argon2Hash) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		a.params.Memory, a.params.Time, a.params.Threads, b64.EncodeToString(a.salt), b64.EncodeToString(a.key))
}

// parseArgon2 reads "$argon2id$v=19$m=M,t=T,p=P$salt$key".
func parseArgon2(s string) (argon2Hash, error) {
	var a argon2Hash
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return a, errors.New("argon2id hash: malformed")
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return a, fmt.Errorf("argon2id hash: unsupported version %q", f[2])
	}
	var m, t, p uint64
	for i, kv := range strings.Split(f[3], ",") {
		name, val, found := strings.Cut(kv, "=")
		want := [...]string{"m", "t", "p"}
		if !found || i >= len(want) || name != want[i] {
			return a, errors.New("argon2id hash: malformed parameters")
		}
		n, err := parseDecimal(val)
		if err != nil {
			return a, fmt.Errorf("argon2id hash: parameter %s: %w", name, err)
		}
		switch name {
		case "m":
			m = n
		case "t":
			t = n
		case "p":
			p = n
		}
	}
	if p < 1 || p > 255 || t < 1 || t > maxArgon2Time || m < 8*p || m > maxArgon2Memory {
		return a, errors.New("argon2id hash: parameters out of range")
	}
	salt, err := b64Decode(f[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return a, errors.New("argon2id hash: bad salt")
	}
	key, err := b64Decode(f[5])
	if err != nil || len(key) < 16 || len(key) > 128 {
		return a, errors.New("argon2id hash: bad key")
	}
	a.params = Argon2Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(p)}
	a.salt, a.key = salt, key
	return a, nil
}

type pbkdf2Hash struct {
	rounds    int
	salt, key []byte
}

// ab64 is passlib's "adapted base64": the standard alphabet with '.' in place
// of '+', no padding.
func ab64Encode(b []byte) string { return strings.ReplaceAll(b64.EncodeToString(b), "+", ".") }

func ab64Decode(s string) ([]byte, error) {
	if strings.ContainsAny(s, "+=") {
		return nil, errors.New("not ab64")
	}
	return b64Decode(strings.ReplaceAll(s, ".", "+"))
}

func formatPBKDF2(p pbkdf2Hash) string {
	return fmt.Sprintf("$pbkdf2-sha512$%d$%s$%s", p.rounds, ab64Encode(p.salt), ab64Encode(p.key))
}

// parsePBKDF2 reads passlib's "$pbkdf2-sha512$rounds$salt$checksum".
func parsePBKDF2(s string) (pbkdf2Hash, error) {
	var p pbkdf2Hash
	f := strings.Split(s, "$")
	if len(f) != 5 || f[0] != "" || f[1] != "pbkdf2-sha512" {
		return p, errors.New("pbkdf2-sha512 hash: malformed")
	}
	rounds, err := parseDecimal(f[2])
	if err != nil || rounds < 1 || rounds > maxPBKDF2Rounds {
		return p, errors.New("pbkdf2-sha512 hash: bad rounds")
	}
	salt, err := ab64Decode(f[3])
	if err != nil || len(salt) > 1024 { // passlib allows 0..1024 salt bytes
		return p, errors.New("pbkdf2-sha512 hash: bad salt")
	}
	key, err := ab64Decode(f[4])
	if err != nil || len(key) != pbkdf2KeyLen {
		return p, errors.New("pbkdf2-sha512 hash: bad checksum")
	}
	return pbkdf2Hash{rounds: int(rounds), salt: salt, key: key}, nil
}

// parseDecimal accepts only canonical decimals ("0", "25000"; not "+1", "007"),
// so that a parsed hash formats back to the same string.
func parseDecimal(s string) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || strings.TrimLeft(s, "0123456789") != "" {
		return 0, errors.New("not a canonical decimal")
	}
	return strconv.ParseUint(s, 10, 32)
}
