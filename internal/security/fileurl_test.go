package security

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSignedFileURL(t *testing.T) {
	t.Parallel()
	const section, name = "0123456789abcdef0123456789abcdef", "recording.wav"
	now := time.Unix(1_800_000_000, 0)
	q, err := url.ParseQuery(SignFileURL(appSecret, section, name, now.Add(6*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	exp, sig := q.Get("exp"), q.Get("sig")
	if exp != "1800021600" || len(sig) != 64 {
		t.Fatalf("exp=%q sig=%q", exp, sig)
	}
	flipped := []byte(sig)
	if flipped[0] == '0' {
		flipped[0] = '1'
	} else {
		flipped[0] = '0'
	}

	cases := []struct {
		name                    string
		secret                  []byte
		section, file, exp, sig string
		at                      time.Time
		want                    bool
	}{
		{"valid accepted", appSecret, section, name, exp, sig, now, true},
		{"valid at the last second accepted", appSecret, section, name, exp, sig, now.Add(6 * time.Hour), true},
		{"expired refused", appSecret, section, name, exp, sig, now.Add(6*time.Hour + time.Second), false},
		{"forged signature refused", appSecret, section, name, exp, string(flipped), now, false},
		{"other file refused", appSecret, section, "transcript.json", exp, sig, now, false},
		{"other section refused", appSecret, strings.Repeat("f", 32), name, exp, sig, now, false},
		{"other secret refused", []byte("another-secret-another-secret-32b"), section, name, exp, sig, now, false},
		{"extended exp refused", appSecret, section, name, "1900000000", sig, now, false},
		{"non-canonical exp refused", appSecret, section, name, "0" + exp, sig, now, false},
		{"non-numeric exp refused", appSecret, section, name, "soon", sig, now, false},
		{"non-hex sig refused", appSecret, section, name, exp, "zz" + sig[2:], now, false},
		{"empty sig refused", appSecret, section, name, exp, "", now, false},
	}
	for _, c := range cases {
		if got := VerifyFileURL(c.secret, c.section, c.file, c.exp, c.sig, c.at); got != c.want {
			t.Errorf("%s: VerifyFileURL = %v", c.name, got)
		}
	}
}
