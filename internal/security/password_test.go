package security

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// passlibVector is a pbkdf2_sha512 hash in the exact form passlib writes it
// (and the original system stored it) for the password passlibPassword.
// passlib is not installed here, so it was computed independently with
// Python's standard library, which is what passlib does internally:
//
//	salt = hashlib.sha256(b"itss-test-salt-4").digest()[:16]
//	dk = hashlib.pbkdf2_hmac("sha512", b"Tutorial#2024", salt, 25000, 64)
//	ab64 = lambda b: base64.b64encode(b).decode().rstrip("=").replace("+", ".")
//	"$pbkdf2-sha512$25000$%s$%s" % (ab64(salt), ab64(dk))
//
// The salt was chosen so that both fields contain '.', exercising the ab64
// alphabet.
const (
	passlibPassword = "Tutorial#2024"
	passlibVector   = "$pbkdf2-sha512$25000$pEzp.Nol8zXeupaI5Pkaag$xADT5d27/mBag/P1w2focAnB/wXL60opjpzsKzyopJke.iY9sPekmAUWEwT0hC4SVRcJBxulLzmom/km7Vm9Gw"
)

// cheap keeps tests that are not about the cost fast under -race.
var cheap = Argon2Params{Memory: 64, Time: 1, Threads: 1}

func TestHashWritesArgon2idPHCWithDefaultParamsAndVerifies(t *testing.T) {
	t.Parallel()
	h := NewHasher(Argon2Params{}, 0)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "Correct#Horse1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not argon2id PHC with the OWASP parameters", enc)
	}
	a, err := parseArgon2(enc)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.salt) != argon2SaltLen || len(a.key) != argon2KeyLen {
		t.Fatalf("salt %d bytes, key %d bytes", len(a.salt), len(a.key))
	}
	ok, rehash, err := h.Verify(ctx, "Correct#Horse1", enc)
	if err != nil || !ok || rehash {
		t.Fatalf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, _, err = h.Verify(ctx, "Correct#Horse2", enc)
	if err != nil || ok {
		t.Fatalf("wrong password: Verify = %v, %v; want false, nil", ok, err)
	}
}

func TestHashUsesFreshSalt(t *testing.T) {
	t.Parallel()
	h := NewHasher(cheap, 1)
	a, _ := h.Hash(context.Background(), "same")
	b, _ := h.Hash(context.Background(), "same")
	if a == b {
		t.Fatal("two hashes of one password are equal")
	}
}

func TestVerifyPasslibPBKDF2SucceedsAndNeedsRehash(t *testing.T) {
	t.Parallel()
	h := NewHasher(cheap, 1)
	ok, rehash, err := h.Verify(context.Background(), passlibPassword, passlibVector)
	if err != nil || !ok || !rehash {
		t.Fatalf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

func TestVerifyPasslibPBKDF2WrongPasswordFails(t *testing.T) {
	t.Parallel()
	h := NewHasher(cheap, 1)
	ok, rehash, err := h.Verify(context.Background(), "tutorial#2024", passlibVector)
	if err != nil || ok || rehash {
		t.Fatalf("Verify = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
}

func TestVerifyArgon2WithOtherParamsNeedsRehash(t *testing.T) {
	t.Parallel()
	old := NewHasher(Argon2Params{Memory: 32, Time: 1, Threads: 1}, 1)
	enc, err := old.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	ok, rehash, err := NewHasher(cheap, 1).Verify(context.Background(), "pw", enc)
	if err != nil || !ok || !rehash {
		t.Fatalf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

func TestVerifyUnknownOrMalformedHashIsError(t *testing.T) {
	t.Parallel()
	h := NewHasher(cheap, 1)
	for _, enc := range []string{
		"",
		"plaintext",
		"$2b$12$abcdefghijklmnopqrstuu",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$t=1,m=64,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$pbkdf2-sha512$0$c2FsdA$" + strings.Repeat("A", 86),
		"$pbkdf2-sha512$25000$c2FsdA$AAAA",
		"$pbkdf2-sha512$25000$c2F+dA$" + strings.Repeat("A", 86),
	} {
		ok, _, err := h.Verify(context.Background(), "pw", enc)
		if err == nil || ok {
			t.Errorf("Verify(%q) = %v, %v; want false and an error", enc, ok, err)
		}
	}
	if _, _, err := h.Verify(context.Background(), "pw", "$md5$x"); !errors.Is(err, ErrUnknownHashFormat) {
		t.Errorf("unknown scheme: err = %v, want ErrUnknownHashFormat", err)
	}
}

func TestVerifyDummyDoesArgon2WorkWithCurrentParams(t *testing.T) {
	t.Parallel()
	h := NewHasher(Argon2Params{}, 1)
	var calls atomic.Int32
	idKey := h.argon
	h.argon = func(pw, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
		calls.Add(1)
		if p := (Argon2Params{Memory: memory, Time: time, Threads: threads}); p != h.params {
			t.Errorf("dummy ran with %+v, want %+v", p, h.params)
		}
		return idKey(pw, salt, time, memory, threads, keyLen)
	}
	h.VerifyDummy(context.Background(), "whatever")
	if calls.Load() != 1 {
		t.Fatalf("argon2 ran %d times, want 1", calls.Load())
	}
}

// TestEveryFailedVerificationDoesTheSameWork pins A5's "unknown e-mail and
// wrong password take the same time" for both hash formats: the original's
// pbkdf2 hashes cost about half an argon2id verification, so without
// padding a wrong password on a migrated account would be told apart from an
// unknown e-mail by its speed.
func TestEveryFailedVerificationDoesTheSameWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	enc, err := NewHasher(cheap, 1).Hash(ctx, "right")
	if err != nil {
		t.Fatal(err)
	}
	record := func(h *Hasher) *[]string {
		var mu sync.Mutex
		var work []string
		idKey, pbkdf := h.argon, h.pbkdf2
		h.argon = func(pw, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
			mu.Lock()
			work = append(work, fmt.Sprintf("argon2id m=%d t=%d p=%d", memory, time, threads))
			mu.Unlock()
			return idKey(pw, salt, time, memory, threads, keyLen)
		}
		h.pbkdf2 = func(password string, salt []byte, rounds, keyLen int) ([]byte, error) {
			mu.Lock()
			work = append(work, fmt.Sprintf("pbkdf2-sha512 rounds=%d", rounds))
			mu.Unlock()
			return pbkdf(password, salt, rounds, keyLen)
		}
		return &work
	}
	cases := map[string]func(h *Hasher){
		"unknown account":             func(h *Hasher) { h.VerifyDummy(ctx, "wrong") },
		"argon2id hash":               func(h *Hasher) { h.Verify(ctx, "wrong", enc) },
		"pbkdf2 hash of the original": func(h *Hasher) { h.Verify(ctx, "wrong", passlibVector) },
		"unreadable hash":             func(h *Hasher) { h.Verify(ctx, "wrong", "$argon2id$garbage") },
	}
	var want []string
	for _, name := range []string{"unknown account", "argon2id hash", "pbkdf2 hash of the original", "unreadable hash"} {
		h := NewHasher(cheap, 1)
		work := record(h)
		cases[name](h)
		got := slices.Sorted(slices.Values(*work))
		if want == nil {
			want = got
			if len(want) != 2 {
				t.Fatalf("%s: work %v, want one argon2id and one pbkdf2 computation", name, want)
			}
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: work %v, want %v like an unknown account", name, got, want)
		}
	}
}

func TestHasherBoundsConcurrentComputations(t *testing.T) {
	t.Parallel()
	const limit, callers = 2, 8
	h := NewHasher(cheap, limit)
	var inFlight, peak atomic.Int32
	entered := make(chan struct{}, callers)
	release := make(chan struct{})
	idKey := h.argon
	h.argon = func(pw, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		entered <- struct{}{}
		<-release
		defer inFlight.Add(-1)
		return idKey(pw, salt, time, memory, threads, keyLen)
	}
	enc, err := NewHasher(cheap, 1).Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			switch i % 3 {
			case 0:
				h.Hash(context.Background(), "pw")
			case 1:
				h.Verify(context.Background(), "pw", enc)
			default:
				h.VerifyDummy(context.Background(), "pw")
			}
		})
	}
	// Both slots are taken before anything is released, so the peak must
	// reach the limit; it may never exceed it.
	for range limit {
		<-entered
	}
	close(release)
	wg.Wait()
	if got := peak.Load(); got != limit {
		t.Fatalf("peak concurrent computations = %d, want %d", got, limit)
	}
}

func TestHashGivesUpWhenContextEndsWhileWaitingForASlot(t *testing.T) {
	t.Parallel()
	h := NewHasher(cheap, 1)
	h.sem <- struct{}{} // the only slot is busy
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash err = %v, want context.Canceled", err)
	}
	if _, _, err := h.Verify(ctx, passlibPassword, passlibVector); !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify err = %v, want context.Canceled", err)
	}
}

func TestParsedHashesFormatBackUnchanged(t *testing.T) {
	t.Parallel()
	p, err := parsePBKDF2(passlibVector)
	if err != nil {
		t.Fatal(err)
	}
	if p.rounds != 25000 || len(p.salt) != 16 || formatPBKDF2(p) != passlibVector {
		t.Fatalf("parsed %+v, formats as %q", p, formatPBKDF2(p))
	}
	enc, _ := NewHasher(cheap, 1).Hash(context.Background(), "pw")
	a, err := parseArgon2(enc)
	if err != nil || formatArgon2(a) != enc {
		t.Fatalf("argon2 round trip: %q -> %q, %v", enc, formatArgon2(a), err)
	}
}

// FuzzParseHash feeds both parsers arbitrary strings: they must not panic,
// must keep parameters inside the bounds that cap a verification's cost, and
// what they accept must format back to the same string.
func FuzzParseHash(f *testing.F) {
	f.Add(passlibVector)
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI")
	f.Add("$pbkdf2-sha512$1$$" + strings.Repeat("A", 86))
	f.Add("$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		if a, err := parseArgon2(s); err == nil {
			if a.params.Memory > maxArgon2Memory || a.params.Time > maxArgon2Time || a.params.Threads == 0 {
				t.Fatalf("accepted out-of-range parameters %+v", a.params)
			}
			if got := formatArgon2(a); got != s {
				t.Fatalf("argon2 %q formats back as %q", s, got)
			}
		}
		if p, err := parsePBKDF2(s); err == nil {
			if p.rounds < 1 || p.rounds > maxPBKDF2Rounds || len(p.key) != pbkdf2KeyLen {
				t.Fatalf("accepted %+v", p)
			}
			if got := formatPBKDF2(p); got != s {
				t.Fatalf("pbkdf2 %q formats back as %q", s, got)
			}
		}
	})
}

func BenchmarkHashArgon2id(b *testing.B) {
	h := NewHasher(Argon2Params{}, 0)
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "Correct#Horse1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyArgon2id(b *testing.B) {
	h := NewHasher(Argon2Params{}, 0)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "Correct#Horse1")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, "Correct#Horse1", enc); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkVerifyPBKDF2(b *testing.B) {
	h := NewHasher(Argon2Params{}, 0)
	ctx := context.Background()
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, passlibPassword, passlibVector); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
