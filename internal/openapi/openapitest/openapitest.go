// Package openapitest checks HTTP responses against an OpenAPI document in
// tests, so that a service and its document cannot drift apart: every
// response a test suite receives goes through Check (directly, through
// Transport on an http.Client, or through Middleware around a handler).
//
// What is checked, for each response:
//   - its route: the request's method and path (the server part of the URL
//     is ignored) must match an operation of the document. A request on an
//     undocumented path must have been answered 404, one with an
//     undocumented method on a documented path 405, both in the document's
//     error shape (components/schemas/Error), as API.md A2 requires;
//   - its status: it must be listed for the operation (a "default" response
//     does not count, so no status passes unnoticed);
//   - its headers: those the document lists for the status (required ones
//     must be present, all must match their schemas);
//   - its body: the Content-Type must be one the document lists for the
//     status, and a body with a schema must validate against it (JSON
//     Schema 2020-12 for OpenAPI 3.1 documents). Media types without a
//     schema (audio/wav, metrics text) are checked by type only.
//
// Requests are not validated: tests send malformed and hostile requests on
// purpose, and the service's answer to them is what matters. OPTIONS
// requests (CORS preflights, answered on every path by the shared
// middleware) are skipped. HEAD requests are routed as GET and checked for
// route, status and headers; their empty body is not checked.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Validator checks responses against one OpenAPI document. It is safe for
// concurrent use by parallel tests.
type Validator struct {
	// byMethod routes each method over the paths that document it, so a
	// request finds its operation as the services' chi routers find their
	// handler: GET /tutorial/create reaches GET /tutorial/{tid} although
	// the literal path /tutorial/create exists (for POST only).
	byMethod map[string]routers.Router
	// anyMethod routes over every path: a path it knows but byMethod does
	// not is a documented path with an undocumented method.
	anyMethod routers.Router
	errs      *openapi3.SchemaRef // the error shape, for unmatched routes
}

// Load parses and validates doc and prepares its router.
func Load(doc []byte) (*Validator, error) {
	ctx := context.Background()
	loader := openapi3.NewLoader()
	t, err := loader.LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("load OpenAPI document: %w", err)
	}
	if err := t.Validate(ctx); err != nil {
		return nil, fmt.Errorf("invalid OpenAPI document: %w", err)
	}
	var errs *openapi3.SchemaRef
	if t.Components != nil {
		errs = t.Components.Schemas["Error"]
	}
	if errs == nil || errs.Value == nil {
		return nil, errors.New("OpenAPI document has no components/schemas/Error")
	}
	// Match by path only: tests run on httptest servers at random ports, and
	// recorder requests carry example.com as their host.
	t.Servers = nil
	for _, p := range t.Paths.Map() {
		p.Servers = nil
	}
	v := &Validator{byMethod: map[string]routers.Router{}, errs: errs}
	if v.anyMethod, err = gorillamux.NewRouter(t); err != nil {
		return nil, fmt.Errorf("route OpenAPI document: %w", err)
	}
	for _, item := range t.Paths.Map() {
		for method := range item.Operations() {
			if v.byMethod[method] != nil {
				continue
			}
			only := openapi3.NewPaths()
			for path, it := range t.Paths.Map() {
				if it.GetOperation(method) != nil {
					only.Set(path, it)
				}
			}
			sub := *t
			sub.Paths = only
			if v.byMethod[method], err = gorillamux.NewRouter(&sub); err != nil {
				return nil, fmt.Errorf("route OpenAPI document (%s): %w", method, err)
			}
		}
	}
	return v, nil
}

// New is Load for tests: it stops the test when the document is unusable.
func New(tb testing.TB, doc []byte) *Validator {
	tb.Helper()
	v, err := Load(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// Check reports (tb.Errorf) every way resp, the answer to req whose body was
// body, departs from the document. It may be called from any goroutine.
func (v *Validator) Check(tb testing.TB, req *http.Request, resp *http.Response, body []byte) {
	tb.Helper()
	if err := v.Validate(req, resp.StatusCode, resp.Header, body); err != nil {
		tb.Errorf("response departs from the OpenAPI document: %v\n    body: %s", err, excerpt(body))
	}
}

// CheckRecorder is Check for a response recorded by httptest.
func (v *Validator) CheckRecorder(tb testing.TB, req *http.Request, rec *httptest.ResponseRecorder) {
	tb.Helper()
	resp := rec.Result()
	v.Check(tb, req, resp, rec.Body.Bytes())
}

// Validate returns why the response (status, header, body) to req departs
// from the document, or nil when it conforms.
func (v *Validator) Validate(req *http.Request, status int, header http.Header, body []byte) error {
	if req.Method == http.MethodOptions {
		return nil
	}
	method := req.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	// The router reads only the method and the URL; a shallow copy leaves
	// the caller's request alone.
	r := &http.Request{Method: method, URL: req.URL, Host: req.Host, Header: http.Header{}}
	what := fmt.Sprintf("%s %s → %d", req.Method, req.URL.RequestURI(), status)

	var (
		route  *routers.Route
		params map[string]string
		err    = routers.ErrPathNotFound
	)
	if rt := v.byMethod[method]; rt != nil {
		route, params, err = rt.FindRoute(r)
	}
	if errors.Is(err, routers.ErrPathNotFound) || errors.Is(err, routers.ErrMethodNotAllowed) {
		if _, _, anyErr := v.anyMethod.FindRoute(r); errors.Is(anyErr, routers.ErrPathNotFound) {
			if status != http.StatusNotFound {
				return fmt.Errorf("%s: path not in the document (an undocumented route must answer 404)", what)
			}
		} else if status != http.StatusMethodNotAllowed {
			return fmt.Errorf("%s: method %s not documented for this path (it must answer 405)", what, method)
		}
		return v.unmatched(what, status, header, body)
	}
	if err != nil {
		return fmt.Errorf("%s: routing: %w", what, err)
	}

	what = fmt.Sprintf("%s (operation %s %s)", what, method, route.Path)
	if route.Operation.Responses.Status(status) == nil {
		return fmt.Errorf("%s: status %d not documented (documented: %s)", what, status,
			strings.Join(documented(route.Operation), ", "))
	}
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		// A HEAD answer has no body to compare; its headers still count.
		ExcludeResponseBody: req.Method == http.MethodHead,
		MultiError:          true,
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    r,
			PathParams: params,
			Route:      route,
			Options:    opts,
		},
		Status:  status,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// unmatched checks the JSON 404/405 of an undocumented route against the
// document's error shape.
func (v *Validator) unmatched(what string, status int, header http.Header, body []byte) error {
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("%s: Content-Type %q, want application/json in the error shape", what, ct)
	}
	var value any
	if err := json.Unmarshal(body, &value); err != nil {
		return fmt.Errorf("%s: body is not JSON: %w", what, err)
	}
	if err := v.errs.Value.VisitJSON(value, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse()); err != nil {
		return fmt.Errorf("%s: body is not the error shape: %w", what, err)
	}
	if m, _ := value.(map[string]any); m["code"] != float64(status) {
		return fmt.Errorf("%s: error code %v differs from the status", what, m["code"])
	}
	return nil
}

// documented lists the statuses an operation documents, in order.
func documented(op *openapi3.Operation) []string {
	var out []string
	for code := range op.Responses.Map() {
		out = append(out, code)
	}
	slices.SortFunc(out, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	return out
}

// excerpt keeps failure messages readable when a body is large or binary.
func excerpt(body []byte) string {
	const max = 600
	if !isText(body) {
		return fmt.Sprintf("<%d bytes of binary data>", len(body))
	}
	if len(body) > max {
		return strconv.Quote(string(body[:max])) + "…"
	}
	return strconv.Quote(string(body))
}

func isText(b []byte) bool {
	n := min(len(b), 512)
	return !strings.ContainsRune(string(b[:n]), 0) && http.DetectContentType(b[:n]) != "application/octet-stream"
}

// Transport returns a RoundTripper that checks every response passing
// through it: the body is read whole, checked, and handed on as a fresh
// reader, so callers read it as usual. base nil means
// http.DefaultTransport.
func (v *Validator) Transport(tb testing.TB, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{v: v, tb: tb, base: base}
}

type transport struct {
	v    *Validator
	tb   testing.TB
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("openapitest: read response body of %s %s: %w", req.Method, req.URL, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	t.v.Check(t.tb, req, resp, body)
	return resp, nil
}

// Middleware returns a middleware that checks every response of the
// wrapped handler: it records the answer, checks it, then writes it out.
// Streaming handlers lose their streaming (the answer is sent whole).
func (v *Validator) Middleware(tb testing.TB) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			v.CheckRecorder(tb, r, rec)
			h := w.Header()
			for k, vals := range rec.Result().Header {
				h[k] = vals
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		})
	}
}
