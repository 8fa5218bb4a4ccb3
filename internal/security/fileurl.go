package security

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// fileURLKey derives the HMAC key for file URLs from APP_SECRET_KEY, so that
// a MAC made for one purpose (legacy HS256 tokens use the same secret) is
// never valid for another.
func fileURLKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("itss file url v1"))
	return m.Sum(nil)
}

func fileURLMAC(secret []byte, sectionID, name, exp string) []byte {
	m := hmac.New(sha256.New, fileURLKey(secret))
	// NUL separators keep (section, name, exp) unambiguous.
	m.Write([]byte(sectionID + "\x00" + name + "\x00" + exp))
	return m.Sum(nil)
}

// SignFileURL returns the query "exp=<unix>&sig=<hex>" that lets anyone
// holding the URL read file name of section sectionID until exp (API.md A8).
func SignFileURL(secret []byte, sectionID, name string, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return "exp=" + e + "&sig=" + hex.EncodeToString(fileURLMAC(secret, sectionID, name, e))
}

// VerifyFileURL reports whether exp and sig, as received in the query, were
// made by SignFileURL for this section and file and exp is not past.
func VerifyFileURL(secret []byte, sectionID, name, exp, sig string, now time.Time) bool {
	e, err := strconv.ParseInt(exp, 10, 64)
	// Only the canonical form was signed; refusing others early costs nothing.
	if err != nil || strconv.FormatInt(e, 10) != exp || now.Unix() > e {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	return hmac.Equal(got, fileURLMAC(secret, sectionID, name, exp))
}
