package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"

	"github.com/itss-go/itss/internal/itss"
)

// JSONLimit is the body limit of every JSON route (API.md A9).
const JSONLimit = 1 << 20

// ErrEmptyBody is wrapped by Decode's error for a missing or blank body, so
// a handler can answer with its route's own message ("User ID is required").
var ErrEmptyBody = errors.New("empty request body")

// ReadBody reads the whole body, refusing more than limit bytes with an
// itss.CodeTooLarge error (413). The Content-Length, when sent, is checked
// first so an oversized upload is refused before it is read.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(mbe.Limit)
		}
		return nil, itss.Wrap(itss.CodeInvalid, err, "Could not read the request body")
	}
	if int64(len(body)) > limit {
		return nil, tooLarge(limit)
	}
	return body, nil
}

func tooLarge(limit int64) error {
	return itss.Errorf(itss.CodeTooLarge, "Request body exceeds the limit of %s", humanBytes(limit))
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Decode reads a JSON body of at most limit bytes into dst. The Content-Type
// is ignored on purpose: the frontend sends JSON labelled text/plain (plain
// fetch with a string body) and a JSON label on bodies that are not JSON.
// Malformed JSON, trailing data and values of the wrong type are
// itss.CodeInvalid with a message fit for the client ("Invalid JSON body",
// `Field "name" must be a string`); unknown fields are ignored.
func Decode(r *http.Request, dst any, limit int64) error {
	body, err := ReadBody(r, limit)
	if err != nil {
		return err
	}
	return DecodeBytes(body, dst)
}

// DecodeBytes is Decode for a body already read (routes that accept several
// encodings read first, then decide).
func DecodeBytes(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return itss.Wrap(itss.CodeInvalid, ErrEmptyBody, "Request body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		return decodeError(err, dst)
	}
	// One value only: "{}{}" or "{} x" is not a JSON document.
	if _, err := dec.Token(); err != io.EOF {
		return itss.Wrap(itss.CodeInvalid, errors.New("trailing data after JSON value"), "Invalid JSON body")
	}
	return nil
}

func decodeError(err error, dst any) error {
	var typeErr *json.UnmarshalTypeError
	var invalid *json.InvalidUnmarshalError
	switch {
	case errors.As(err, &invalid):
		return fmt.Errorf("decode JSON: %w", err) // a programming error: 500
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return itss.Wrap(itss.CodeInvalid, err, fmt.Sprintf("Field %q must be %s", typeErr.Field, kindName(typeErr.Type)))
		}
		return itss.Wrap(itss.CodeInvalid, err, fmt.Sprintf("JSON body must be %s", kindName(reflect.TypeOf(dst))))
	default:
		// Syntax errors, unexpected EOF, invalid UTF-8 escapes…
		return itss.Wrap(itss.CodeInvalid, err, "Invalid JSON body")
	}
}

var jsonNumberType = reflect.TypeOf(json.Number(""))

// kindName describes a Go type as a JSON type, with its article.
func kindName(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a JSON value"
	}
	if t == jsonNumberType {
		return "a number"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a JSON value"
}

// LimitBody caps the body of every request through it at limit bytes: a
// declared Content-Length above it is refused at once with 413, and a body
// that grows past it fails the handler's read (ReadBody and Decode turn that
// into 413 too). Use it on routes that stream their body themselves.
func LimitBody(limit int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > limit {
				Error(w, r, tooLarge(limit))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			next.ServeHTTP(w, r)
		})
	}
}
