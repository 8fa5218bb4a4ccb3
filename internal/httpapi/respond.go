// Package httpapi is the HTTP plumbing both services share: the one error
// shape, JSON decoding with size limits, the middleware stack (request id,
// client IP, access log, panic recovery, security headers, CORS, metrics),
// rate limiting, health and readiness handlers and a graceful server.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/itss-go/itss/internal/itss"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[itss.Code]int{
	itss.CodeInvalid:      http.StatusBadRequest,
	itss.CodeUnauthorized: http.StatusUnauthorized,
	itss.CodeForbidden:    http.StatusForbidden,
	itss.CodeNotFound:     http.StatusNotFound,
	itss.CodeConflict:     http.StatusConflict,
	itss.CodeTooLarge:     http.StatusRequestEntityTooLarge,
	itss.CodeRateLimited:  http.StatusTooManyRequests,
	itss.CodeUnavailable:  http.StatusServiceUnavailable,
	itss.CodeInternal:     http.StatusInternalServerError,
}

// StatusOf returns the HTTP status for err's code (500 when it has none).
func StatusOf(err error) int {
	if s, ok := statusOf[itss.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// JSON writes v as a JSON body with the given status. HTML characters are
// not escaped: bodies carry program output and markdown that the frontend
// shows verbatim, and nosniff plus the JSON content type keep them inert.
func JSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// A value that cannot be encoded is a programming error; the
		// client still gets the one shape rather than half a body.
		slog.Default().Error("encode response", "err", err)
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(errorBody(http.StatusInternalServerError, "Internal error.", nil))
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func errorBody(status int, msg string, extra map[string]any) map[string]any {
	body := make(map[string]any, len(extra)+4)
	for k, v := range extra {
		body[k] = v
	}
	// The frontend reads "message"; the README documents the other three.
	body["error"] = msg
	body["message"] = msg
	body["status"] = "error"
	body["code"] = status
	return body
}

// ErrorStatus writes the one error shape
// {"error": msg, "message": msg, "status": "error", "code": status}
// plus any extra keys (run routes add "output"); the four keys win over extra.
func ErrorStatus(w http.ResponseWriter, r *http.Request, status int, msg string, extra map[string]any) {
	JSON(w, status, errorBody(status, msg, extra))
}

// Error writes err in the one shape with the status of its code. Messages of
// application errors are shown; anything else, and every internal error,
// becomes "Internal error." for the client and a log line with the request
// id for the operator.
func Error(w http.ResponseWriter, r *http.Request, err error) {
	status := StatusOf(err)
	msg := itss.ErrorMessage(err)
	ctx := r.Context()
	log := LoggerFrom(ctx)
	switch {
	case status >= 500 && errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// The client went away; nobody reads this answer.
		log.DebugContext(ctx, "request canceled", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "Internal error."
	case status == http.StatusInternalServerError:
		log.ErrorContext(ctx, "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "Internal error."
	case status >= 500:
		log.WarnContext(ctx, "service unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	default:
		log.DebugContext(ctx, "client error", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	ErrorStatus(w, r, status, msg, nil)
}

// NotFound answers unknown routes in the one shape (never HTML).
func NotFound(w http.ResponseWriter, r *http.Request) {
	ErrorStatus(w, r, http.StatusNotFound, "Not found", nil)
}

// MethodNotAllowed answers a known path with an unknown method.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	ErrorStatus(w, r, http.StatusMethodNotAllowed, "Method not allowed", nil)
}
