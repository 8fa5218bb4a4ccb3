// Package openapi holds the OpenAPI documents of the two services, written
// by hand from API.md: auth.json (auth service) and tutorial.json (tutorial
// service, including the run routes of internal/runapi). Each service serves
// its document at GET /openapi.json, and the HTTP test suites validate every
// response they receive against it (package openapitest), so a document that
// drifts from the code fails the build's tests.
//
// The documents are OpenAPI 3.1.0 and use JSON Schema 2020-12 as 3.1 intends:
// a nullable field is "type": ["string", "null"] (no 3.0 "nullable"), fixed
// values are "const", and JSON carried inside strings is described with
// contentMediaType/contentSchema. kin-openapi (v0.153.0) loads and validates
// 3.1 documents and checks values against them with a JSON Schema 2020-12
// validator (falling back to its own OpenAPI validator for schemas that use
// no 2020-12 feature), so null, const and type lists are enforced, not merely
// tolerated; no 3.0 form was needed. Its document validation refuses schema
// keywords it does not model ("extra sibling fields"), which keeps typos out
// of these hand-written files. contentSchema is documentation: validators do
// not look inside strings.
//
// CORS preflights (OPTIONS) are answered by the shared middleware on every
// path and are not listed as operations; the validator skips them.
package openapi

import (
	_ "embed"
	"net/http"
	"strconv"
)

//go:embed auth.json
var authDoc []byte

//go:embed tutorial.json
var tutorialDoc []byte

// Auth returns the auth service's OpenAPI document (JSON). The slice is
// shared: callers must not modify it.
func Auth() []byte { return authDoc }

// Tutorial returns the tutorial service's OpenAPI document (JSON). The slice
// is shared: callers must not modify it.
func Tutorial() []byte { return tutorialDoc }

// Handler serves doc as application/json, for GET /openapi.json.
func Handler(doc []byte) http.HandlerFunc {
	length := strconv.Itoa(len(doc))
	return func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", length)
		h.Set("Cache-Control", "public, max-age=300")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(doc)
	}
}
