// Package itss holds the domain of the Interactive Tutorial System: its types,
// its error vocabulary and the identity carried through a request. It imports
// only the standard library so that every other package can depend on it.
package itss

import (
	"errors"
	"fmt"
)

// Code classifies an error for every layer from SQL row to JSON body. The HTTP
// layer maps codes to statuses in one table (httpapi).
type Code string

const (
	CodeInvalid      Code = "invalid"      // 400: malformed or unacceptable input
	CodeUnauthorized Code = "unauthorized" // 401: no or bad identity
	CodeForbidden    Code = "forbidden"    // 403: identity known, not allowed
	CodeNotFound     Code = "not_found"    // 404
	CodeConflict     Code = "conflict"     // 409 (routes of Part B may map it to 400)
	CodeTooLarge     Code = "too_large"    // 413
	CodeRateLimited  Code = "rate_limited" // 429
	CodeUnavailable  Code = "unavailable"  // 503: a dependency is down
	CodeInternal     Code = "internal"     // 500: never shown in detail
)

// Error is an application error: a machine code, a message that is safe to
// show to the client, and optionally the underlying cause for the log.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an application error with a client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an application error that keeps cause for logs only.
func Wrap(code Code, cause error, message string) *Error {
	return &Error{Code: code, Message: message, Err: cause}
}

// ErrorCode returns the code of the first application error in err's chain,
// or CodeInternal when there is none.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the client-safe message of err; anything that is not an
// application error becomes "Internal error.".
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
