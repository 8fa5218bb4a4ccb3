package openapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/itss-go/itss/internal/openapi"
)

const (
	tid = "858c03b2fb62409681e60fb11f373d50"
	sid = "67bc56ba8e8245c9aa2d8b294ed68bf9"
)

// route is one route of API.md: its template in the document and a request
// path the frontend (or a client of the README routes) really sends.
type route struct {
	method, template, example string
}

// authRoutes are the auth service's routes: Part B A1-A9, the README routes
// of A1, the JWKS of A4, logout of A3 and the operational routes.
var authRoutes = []route{
	{"GET", "/", "/"},
	{"GET", "/health", "/health"},
	{"GET", "/ready", "/ready"},
	{"GET", "/metrics", "/metrics"},
	{"GET", "/openapi.json", "/openapi.json"},
	{"GET", "/.well-known/jwks.json", "/.well-known/jwks.json"},
	{"POST", "/auth/register", "/auth/register"},
	{"POST", "/auth/login", "/auth/login"},
	{"POST", "/guest/login", "/guest/login"},
	{"POST", "/oauth/register", "/oauth/register"},
	{"POST", "/oauth/login", "/oauth/login"},
	{"POST", "/auth/refresh", "/auth/refresh"},
	{"GET", "/auth/protected", "/auth/protected"},
	{"POST", "/getUserDetails", "/getUserDetails"},
	{"POST", "/auth/logout", "/auth/logout"},
}

// tutorialRoutes are the tutorial service's routes: Part B T1-T23, the
// README routes of A1 (including /code/execute of runapi) and the
// operational routes.
var tutorialRoutes = []route{
	{"GET", "/", "/"},
	{"GET", "/health", "/health"},
	{"GET", "/ready", "/ready"},
	{"GET", "/metrics", "/metrics"},
	{"GET", "/openapi.json", "/openapi.json"},
	{"GET", "/tutorials", "/tutorials"},
	{"GET", "/tutorials/get_all/{uid}", "/tutorials/get_all/6"},
	{"GET", "/tutorials/get/{uid}", "/tutorials/get/5"},
	{"GET", "/tutorial/{tid}", "/tutorial/" + tid},
	{"GET", "/tutorial/get/{tid}", "/tutorial/get/" + tid},
	{"GET", "/tutorial/get/{tid}/{page}/{uid}", "/tutorial/get/" + tid + "/1/6"},
	{"POST", "/tutorial/create", "/tutorial/create"},
	{"POST", "/tutorial/createsample", "/tutorial/createsample"},
	{"POST", "/tutorial/update/{tid}", "/tutorial/update/" + tid},
	{"GET", "/tutorial/delete/{tid}", "/tutorial/delete/" + tid},
	{"POST", "/upload_recording", "/upload_recording"},
	{"POST", "/run_script/{language}", "/run_script/python"},
	{"POST", "/compile_script/{language}", "/compile_script/java"},
	{"POST", "/code/execute", "/code/execute"},
	{"GET", "/tutorial_section/get/{sid}", "/tutorial_section/get/" + sid},
	{"GET", "/tutorial_section/get/tutorial_id/{tid}", "/tutorial_section/get/tutorial_id/" + tid},
	{"POST", "/tutorial_section/create", "/tutorial_section/create"},
	{"POST", "/tutorial_section/update/{sid}", "/tutorial_section/update/" + sid},
	{"GET", "/tutorial_section/delete/{sid}", "/tutorial_section/delete/" + sid},
	{"POST", "/save_learner_layout", "/save_learner_layout"},
	{"POST", "/get_learner_layout", "/get_learner_layout"},
	{"GET", "/tutorial_section/search/keyword/{keyword}/{sid}", "/tutorial_section/search/keyword/print%20it/" + sid},
	{"GET", "/api/files/{sid}/{name}", "/api/files/" + sid + "/recording.wav"},
	{"GET", "/api/storage/info", "/api/storage/info"},
	{"GET", "/api/storage/health", "/api/storage/health"},
}

var docs = []struct {
	name   string
	doc    []byte
	routes []route
}{
	{"auth", openapi.Auth(), authRoutes},
	{"tutorial", openapi.Tutorial(), tutorialRoutes},
}

func load(t *testing.T, doc []byte) *openapi3.T {
	t.Helper()
	d, err := openapi3.NewLoader().LoadFromData(doc)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := d.Validate(context.Background()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	return d
}

func TestDocumentsLoadAndValidateAsOpenAPI31(t *testing.T) {
	t.Parallel()
	for _, d := range docs {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			doc := load(t, d.doc)
			if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
				t.Fatalf("openapi = %q, want 3.1.0", doc.OpenAPI)
			}
			// Hand-written JSON: a duplicated key would silently win.
			if err := noDuplicateKeys(d.doc); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// noDuplicateKeys walks the JSON tokens and reports an object key given
// twice, which encoding/json (and the loader) would accept silently.
func noDuplicateKeys(doc []byte) error {
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				if seen[key] {
					return fmt.Errorf("duplicate key %q at %s", key, path)
				}
				seen[key] = true
				if err := walk(path + "/" + key); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(path + "/" + strconv.Itoa(i)); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	return walk("")
}

func TestEveryRouteOfAPIMDIsDocumentedAndRoutesItsRealPath(t *testing.T) {
	t.Parallel()
	for _, d := range docs {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			doc := load(t, d.doc)
			router, err := gorillamux.NewRouter(doc)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for _, r := range d.routes {
				want[r.method+" "+r.template] = true
				if doc.Paths.Value(r.template) == nil || doc.Paths.Value(r.template).GetOperation(r.method) == nil {
					t.Errorf("%s %s: not documented", r.method, r.template)
					continue
				}
				req := httptest.NewRequest(r.method, doc.Servers[0].URL+r.example, nil)
				got, _, err := router.FindRoute(req)
				if err != nil {
					t.Errorf("%s %s: %v", r.method, r.example, err)
					continue
				}
				if got.Path != r.template {
					t.Errorf("%s %s routed to %s, want %s", r.method, r.example, got.Path, r.template)
				}
			}
			// And nothing is documented that API.md does not list.
			for path, item := range doc.Paths.Map() {
				for method := range item.Operations() {
					if !want[method+" "+path] {
						t.Errorf("%s %s is documented but not in the route table of API.md", method, path)
					}
				}
			}
		})
	}
}

// TestEveryErrorResponseIsTheOneShapeWithItsStatus checks that each 4xx/5xx
// response of every operation accepts the one error shape with its own
// status as code, and refuses another code: a copy-paste slip between
// response objects would otherwise go unseen.
func TestEveryErrorResponseIsTheOneShapeWithItsStatus(t *testing.T) {
	t.Parallel()
	for _, d := range docs {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			doc := load(t, d.doc)
			for path, item := range doc.Paths.Map() {
				for method, op := range item.Operations() {
					for code, resp := range op.Responses.Map() {
						status, _ := strconv.Atoi(code)
						if status < 400 {
							continue
						}
						mt := resp.Value.Content.Get("application/json")
						if mt == nil || mt.Schema == nil {
							t.Errorf("%s %s %s: no JSON error schema", method, path, code)
							continue
						}
						body := map[string]any{"error": "Nope", "message": "Nope", "status": "error", "code": status, "output": "Nope", "checks": map[string]any{"database": "failed"}}
						if status == 500 {
							body["error"], body["message"] = "Internal error.", "Internal error."
						}
						if err := mt.Schema.Value.VisitJSON(roundTrip(t, body), openapi3.EnableJSONSchema2020()); err != nil {
							t.Errorf("%s %s %s refuses the error shape: %v", method, path, code, err)
						}
						body["code"] = status + 1
						if mt.Schema.Value.VisitJSON(roundTrip(t, body), openapi3.EnableJSONSchema2020()) == nil {
							t.Errorf("%s %s %s accepts code %d", method, path, code, status+1)
						}
					}
				}
			}
		})
	}
}

func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHandlerServesTheDocumentAsJSON(t *testing.T) {
	t.Parallel()
	for _, d := range docs {
		rec := httptest.NewRecorder()
		openapi.Handler(d.doc)(rec, httptest.NewRequest("GET", "/openapi.json", nil))
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %q", d.name, rec.Code, rec.Header().Get("Content-Type"))
		}
		if !slices.Equal(rec.Body.Bytes(), d.doc) {
			t.Fatalf("%s: body differs from the document", d.name)
		}
		if rec.Header().Get("Content-Length") != strconv.Itoa(len(d.doc)) {
			t.Fatalf("%s: Content-Length %q", d.name, rec.Header().Get("Content-Length"))
		}
	}
}
