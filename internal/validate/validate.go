// Package validate holds the input checks shared by both services. Every
// function is pure: it looks at a value and answers, so handlers can build
// their own messages ("Invalid user ID: <reason>") around the reasons given
// here, which are worded as the original system worded them.
package validate

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/itss-go/itss/internal/itss"
)

// Reason is an error whose text is shown to the client after a prefix such
// as "Invalid user ID: ". Its wording (capitals included) is the original's.
type Reason string

func (r Reason) Error() string { return string(r) }

// Reasons returned by the checks, as the original wrote them.
const (
	ErrIntegerFormat Reason = "Invalid integer format"
	ErrUUIDEmpty     Reason = "UUID cannot be empty"
	ErrUUIDFormat    Reason = "Invalid UUID format"
	ErrUUIDLength    Reason = "Invalid UUID length"
	ErrEmpty         Reason = "Field cannot be empty"
)

// UserID accepts a user id as the frontend sends it: a JSON number or a
// numeric string ("7", as String(authState.id) yields). The id must be >= 1.
func UserID(v any) (int64, error) {
	return Int(v, 1, math.MaxInt64)
}

// Int converts v to an integer within [minVal, maxVal]. It accepts Go integer
// types, integral float64 (what encoding/json yields for numbers decoded into
// any), json.Number and strings holding a base-10 integer with optional
// surrounding spaces and sign, as Python's int() did. Booleans, fractions and
// everything else are "Invalid integer format".
func Int(v any, minVal, maxVal int64) (int64, error) {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int32:
		n = int64(x)
	case int64:
		n = x
	case uint32:
		n = int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return 0, ErrIntegerFormat
		}
		n = int64(x)
	case float64:
		// 2^63 is the first float64 outside int64; NaN fails both tests.
		if x != math.Trunc(x) || !(x >= -(1<<63) && x < 1<<63) {
			return 0, ErrIntegerFormat
		}
		n = int64(x)
	case json.Number:
		p, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			return 0, ErrIntegerFormat
		}
		n = p
	case string:
		p, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, ErrIntegerFormat
		}
		n = p
	default:
		return 0, ErrIntegerFormat
	}
	if n < minVal {
		return 0, Reason(fmt.Sprintf("Value must be at least %d", minVal))
	}
	if n > maxVal {
		return 0, Reason(fmt.Sprintf("Value cannot exceed %d", maxVal))
	}
	return n, nil
}

// uuidPattern is the original's: dashes optional between groups, so lengths
// other than 32 and 36 pass the pattern and fail the length test.
var uuidPattern = regexp.MustCompile(`^(?:[a-fA-F0-9]{8}-?[a-fA-F0-9]{4}-?[a-fA-F0-9]{4}-?[a-fA-F0-9]{4}-?[a-fA-F0-9]{12}|[a-fA-F0-9]{32})$`)

// UUID checks a tutorial or section id: 32 hex digits (uuid4().hex, what the
// system generates) or the 36-character dashed form.
func UUID(s string) error {
	if s == "" {
		return ErrUUIDEmpty
	}
	if !uuidPattern.MatchString(s) {
		return ErrUUIDFormat
	}
	if len(s) != 32 && len(s) != 36 {
		return ErrUUIDLength
	}
	return nil
}

// NormalizeUUID checks s like UUID and returns the canonical stored form:
// 32 lower-case hex digits without dashes.
func NormalizeUUID(s string) (string, error) {
	if err := UUID(s); err != nil {
		return "", err
	}
	return strings.ToLower(strings.ReplaceAll(s, "-", "")), nil
}

// Hex32 reports whether s is exactly 32 hex digits (either case).
func Hex32(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

var emailPattern = regexp.MustCompile(`^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$`)

// MaxEmailLength is the longest address accepted (RFC 5321 path limit).
const MaxEmailLength = 254

// Email trims and lower-cases s and checks it against the registration
// pattern of the original (local part of letters, digits and ._%+-; a domain
// of letters, digits, dots and dashes; a TLD of at least two letters).
func Email(s string) (normalized string, ok bool) {
	e := strings.ToLower(strings.TrimSpace(s))
	if len(e) > MaxEmailLength || !emailPattern.MatchString(e) {
		return "", false
	}
	return e, true
}

// MaxPasswordLength bounds the work a single login can ask of the hasher;
// the original had no bound, but no real password comes close.
const MaxPasswordLength = 1024

// Password reports whether s meets the registration policy: at least 8
// characters with a lower-case letter, an upper-case letter, a digit and one
// of #?!@$%^&*-.
func Password(s string) bool {
	n := utf8.RuneCountInString(s)
	if n < 8 || n > MaxPasswordLength {
		return false
	}
	var lower, upper, digit, special bool
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z':
			lower = true
		case 'A' <= r && r <= 'Z':
			upper = true
		case '0' <= r && r <= '9':
			digit = true
		case strings.ContainsRune("#?!@$%^&*-", r):
			special = true
		}
	}
	return lower && upper && digit && special
}

// Text checks a free-text field: not blank after trimming and at most maxLen
// characters (counted as the original counted them, in code points, on the
// untrimmed value). The original's SQL/XSS word blocklist is deliberately
// gone: queries are parameterised and React escapes output.
func Text(s string, maxLen int) error {
	if strings.TrimSpace(s) == "" {
		return ErrEmpty
	}
	if utf8.RuneCountInString(s) > maxLen {
		return Reason(fmt.Sprintf("Field exceeds maximum length of %d", maxLen))
	}
	return nil
}

// Language reports whether s is a language the runner and the frontend know.
func Language(s string) bool {
	switch s {
	case "python", "java", "javascript":
		return true
	}
	return false
}

// Role converts a session role chosen at login.
func Role(s string) (itss.Role, bool) {
	r := itss.Role(s)
	return r, r.Valid()
}

// Roles maps a registration role choice to the stored roles text: "author",
// "learner", or "author,learner" for "both" (also accepted as either comma
// list).
func Roles(s string) (string, bool) {
	switch strings.ReplaceAll(strings.TrimSpace(s), " ", "") {
	case "author":
		return "author", true
	case "learner":
		return "learner", true
	case "both", "author,learner", "learner,author":
		return "author,learner", true
	}
	return "", false
}
