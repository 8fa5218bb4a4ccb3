package validate

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/itss-go/itss/internal/itss"
)

func TestUserID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   any
		want int64
		err  string
	}{
		{"numeric string is accepted", "7", 7, ""},
		{"spaces around a numeric string are accepted", " 7 ", 7, ""},
		{"plus sign is accepted", "+7", 7, ""},
		{"json float integral is accepted", float64(42), 42, ""},
		{"json.Number is accepted", json.Number("9"), 9, ""},
		{"int is accepted", 3, 3, ""},
		{"int64 max is accepted", int64(math.MaxInt64), math.MaxInt64, ""},
		{"zero is below the minimum", "0", 0, "Value must be at least 1"},
		{"zero number is below the minimum", float64(0), 0, "Value must be at least 1"},
		{"negative is below the minimum", "-3", 0, "Value must be at least 1"},
		{"fraction string is refused", "7.0", 0, "Invalid integer format"},
		{"fractional number is refused", 7.5, 0, "Invalid integer format"},
		{"json.Number fraction is refused", json.Number("7.0"), 0, "Invalid integer format"},
		{"word is refused", "abc", 0, "Invalid integer format"},
		{"empty string is refused", "", 0, "Invalid integer format"},
		{"bool is refused", true, 0, "Invalid integer format"},
		{"nil is refused", nil, 0, "Invalid integer format"},
		{"object is refused", map[string]any{}, 0, "Invalid integer format"},
		{"overflowing string is refused", "99999999999999999999", 0, "Invalid integer format"},
		{"huge float is refused", 1e300, 0, "Invalid integer format"},
		{"NaN is refused", math.NaN(), 0, "Invalid integer format"},
		{"infinity is refused", math.Inf(1), 0, "Invalid integer format"},
		{"2^63 float is refused", float64(1 << 63), 0, "Invalid integer format"},
		{"huge uint64 is refused", uint64(math.MaxUint64), 0, "Invalid integer format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := UserID(c.in)
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("UserID(%#v) = %d, %v; want error %q", c.in, got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("UserID(%#v) = %d, %v; want %d", c.in, got, err, c.want)
			}
		})
	}
}

func TestIntMaximumReason(t *testing.T) {
	t.Parallel()
	if _, err := Int("11", 1, 10); err == nil || err.Error() != "Value cannot exceed 10" {
		t.Fatalf("err = %v", err)
	}
	if n, err := Int("10", 1, 10); err != nil || n != 10 {
		t.Fatalf("Int = %d, %v", n, err)
	}
}

func TestUUID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		err  string
		norm string
	}{
		{"32 hex is accepted", "858c03b2fb62409681e60fb11f373d50", "", "858c03b2fb62409681e60fb11f373d50"},
		{"upper-case hex is accepted", "858C03B2FB62409681E60FB11F373D50", "", "858c03b2fb62409681e60fb11f373d50"},
		{"dashed form is accepted", "858c03b2-fb62-4096-81e6-0fb11f373d50", "", "858c03b2fb62409681e60fb11f373d50"},
		{"empty is refused", "", "UUID cannot be empty", ""},
		{"short id is refused", "abc", "Invalid UUID format", ""},
		{"non-hex is refused", "not-a-uuid", "Invalid UUID format", ""},
		{"33 hex is refused", "858c03b2fb62409681e60fb11f373d501", "Invalid UUID format", ""},
		{"partly dashed is the wrong length", "858c03b2-fb62409681e60fb11f373d50", "Invalid UUID length", ""},
		{"path traversal is refused", "../../etc/passwd", "Invalid UUID format", ""},
		{"trailing newline is refused", "858c03b2fb62409681e60fb11f373d50\n", "Invalid UUID format", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := UUID(c.in)
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("UUID(%q) = %v; want %q", c.in, err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("UUID(%q) = %v", c.in, err)
			}
			if n, err := NormalizeUUID(c.in); err != nil || n != c.norm {
				t.Fatalf("NormalizeUUID(%q) = %q, %v", c.in, n, err)
			}
		})
	}
}

func TestHex32(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"858c03b2fb62409681e60fb11f373d50":     true,
		"858C03B2FB62409681E60FB11F373D50":     true,
		"858c03b2-fb62-4096-81e6-0fb11f373d50": false,
		"858c03b2fb62409681e60fb11f373d5g":     false,
		"":                                     false,
	} {
		if got := Hex32(in); got != want {
			t.Errorf("Hex32(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestEmail(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, want string
		ok             bool
	}{
		{"plain address is accepted", "alice@example.com", "alice@example.com", true},
		{"address is trimmed and lower-cased", "  Alice.B+tag@Example.COM ", "alice.b+tag@example.com", true},
		{"subdomain is accepted", "a_b%c-d@mail.example.co.uk", "a_b%c-d@mail.example.co.uk", true},
		{"missing at is refused", "alice.example.com", "", false},
		{"one-letter tld is refused", "alice@example.c", "", false},
		{"numeric tld is refused", "alice@example.123", "", false},
		{"space inside is refused", "al ice@example.com", "", false},
		{"two ats are refused", "a@b@example.com", "", false},
		{"guest hex name is refused", "0123456789abcdef0123456789abcdef", "", false},
		{"unicode local part is refused", "ålice@example.com", "", false},
		{"too long is refused", strings.Repeat("a", 245) + "@example.com", "", false},
		{"empty is refused", "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Email(c.in)
			if ok != c.ok || got != c.want {
				t.Fatalf("Email(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
			}
		})
	}
}

func TestPassword(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"policy met is accepted", "Secret#123", true},
		{"every special character counts", "Abcdefg1-", true},
		{"short is refused", "Ab1#xyz", false},
		{"no upper is refused", "secret#123", false},
		{"no lower is refused", "SECRET#123", false},
		{"no digit is refused", "Secret#abc", false},
		{"no special is refused", "Secret1234", false},
		{"underscore is not special", "Secret_123", false},
		{"x as in the golden file is refused", "x", false},
		{"absurdly long is refused", "Aa1#" + strings.Repeat("x", MaxPasswordLength), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := Password(c.in); got != c.ok {
				t.Fatalf("Password(%q) = %v, want %v", c.in, got, c.ok)
			}
		})
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		max  int
		err  string
	}{
		{"ordinary text is accepted", "Intro to Python", 320, ""},
		{"former blocklist words are accepted", "SQL: SELECT and UPDATE statements", 320, ""},
		{"script tag text is accepted", "<script>alert(1)</script>", 320, ""},
		{"exactly max runes is accepted", strings.Repeat("é", 100), 100, ""},
		{"empty is refused", "", 100, "Field cannot be empty"},
		{"blank is refused", " \t\n", 100, "Field cannot be empty"},
		{"over max is refused", strings.Repeat("a", 101), 100, "Field exceeds maximum length of 100"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := Text(c.in, c.max)
			if c.err == "" && err != nil || c.err != "" && (err == nil || err.Error() != c.err) {
				t.Fatalf("Text(%q, %d) = %v, want %q", c.in, c.max, err, c.err)
			}
		})
	}
}

func TestLanguageAndRole(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{"python": true, "java": true, "javascript": true, "Python": false, "c": false, "": false} {
		if got := Language(in); got != want {
			t.Errorf("Language(%q) = %v", in, got)
		}
	}
	if r, ok := Role("author"); !ok || r != itss.RoleAuthor {
		t.Errorf("Role(author) = %q, %v", r, ok)
	}
	if r, ok := Role("learner"); !ok || r != itss.RoleLearner {
		t.Errorf("Role(learner) = %q, %v", r, ok)
	}
	for _, in := range []string{"both", "guest", "Author", ""} {
		if _, ok := Role(in); ok {
			t.Errorf("Role(%q) accepted", in)
		}
	}
}

func FuzzUserID(f *testing.F) {
	for _, s := range []string{"7", "0", "-1", " 12 ", "abc", "9223372036854775807", "9223372036854775808", "1e3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := UserID(s)
		if err == nil && n < 1 {
			t.Fatalf("UserID(%q) = %d without error", s, n)
		}
		if err != nil && n != 0 {
			t.Fatalf("UserID(%q) = %d with error %v", s, n, err)
		}
	})
}

func FuzzUUID(f *testing.F) {
	for _, s := range []string{"858c03b2fb62409681e60fb11f373d50", "858c03b2-fb62-4096-81e6-0fb11f373d50", "abc", "", "../x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if UUID(s) != nil {
			return
		}
		// Anything accepted must be safe as a path segment and normalise to Hex32.
		n, err := NormalizeUUID(s)
		if err != nil || !Hex32(n) || n != strings.ToLower(n) {
			t.Fatalf("accepted %q normalised to %q, %v", s, n, err)
		}
	})
}

func FuzzEmail(f *testing.F) {
	for _, s := range []string{"alice@example.com", " A@B.CD ", "a@b", "", "x@y.z\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, ok := Email(s)
		if !ok {
			return
		}
		if len(e) > MaxEmailLength || e != strings.ToLower(e) || e != strings.TrimSpace(e) || !utf8.ValidString(e) || strings.Count(e, "@") != 1 {
			t.Fatalf("Email(%q) accepted %q", s, e)
		}
		// Normalising twice changes nothing.
		if e2, ok2 := Email(e); !ok2 || e2 != e {
			t.Fatalf("Email not idempotent: %q -> %q", e, e2)
		}
	})
}

func TestRoles(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"author": "author", "learner": "learner", "both": "author,learner",
		"author,learner": "author,learner", "learner, author": "author,learner", " author ": "author",
		"": "", "admin": "", "guest,author": "", "Author": "",
	} {
		got, ok := Roles(in)
		if got != want || ok != (want != "") {
			t.Errorf("Roles(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
