package openapitest_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/itss-go/itss/internal/httpapi"
	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/openapi"
	"github.com/itss-go/itss/internal/openapi/openapitest"
)

const (
	tid = "858c03b2fb62409681e60fb11f373d50"
	sid = "67bc56ba8e8245c9aa2d8b294ed68bf9"
)

var (
	auth     = sync.OnceValues(func() (*openapitest.Validator, error) { return openapitest.Load(openapi.Auth()) })
	tutorial = sync.OnceValues(func() (*openapitest.Validator, error) { return openapitest.Load(openapi.Tutorial()) })
)

func must(t *testing.T, f func() (*openapitest.Validator, error)) *openapitest.Validator {
	t.Helper()
	v, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func jsonHeader(extra ...string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

// A server URL other than the documents' must not matter.
const base = "http://127.0.0.1:41234"

func TestValidateAcceptsConformingResponses(t *testing.T) {
	t.Parallel()
	a, tu := must(t, auth), must(t, tutorial)
	wav := []byte("RIFF\x24\x00\x00\x00WAVEfmt ")
	cases := []struct {
		name   string
		v      *openapitest.Validator
		method string
		url    string
		status int
		header http.Header
		body   string
	}{
		{"identity", a, "GET", "/auth/protected", 200, jsonHeader(), `{"id":5,"role":"author"}`},
		{"login with cookie", a, "POST", "/auth/login", 200, jsonHeader("Set-Cookie", "itss_session=a.b.c; Path=/; HttpOnly"), `{"access_token":"eyJh.eyJp.c2ln","role":"learner"}`},
		{"rate limited with retry_after", a, "POST", "/auth/register", 429, jsonHeader("Retry-After", "12"), `{"error":"Too many requests: 5 per 1 minute","message":"Too many requests: 5 per 1 minute","status":"error","code":429,"retry_after":12}`},
		{"guest details without email or picture", a, "POST", "/getUserDetails", 200, jsonHeader(), `{"name":"Guest","roles":"Learner","loginType":"guest"}`},
		{"form details with null picture", a, "POST", "/getUserDetails", 200, jsonHeader(), `{"name":"Alice","email":"a@example.com","roles":"Author, Learner","picture":null,"loginType":"form"}`},
		{"unknown path is a JSON 404", a, "GET", "/no/such/route", 404, jsonHeader(), `{"error":"Not found","message":"Not found","status":"error","code":404}`},
		{"unknown method is a JSON 405", a, "DELETE", "/auth/login", 405, jsonHeader(), `{"error":"Method not allowed","message":"Method not allowed","status":"error","code":405}`},
		{"preflight is skipped", a, "OPTIONS", "/auth/protected", 200, http.Header{}, ``},
		{"metrics text", a, "GET", "/metrics", 200, http.Header{"Content-Type": {"text/plain; version=0.0.4; charset=utf-8"}}, "# HELP x\n"},
		{"nullable dates", tu, "GET", "/tutorial/get/" + tid, 200, jsonHeader(), `{"id":"` + tid + `","name":"Recursion","language":"python","sequence":"[\"` + sid + `\"]","userid":5,"start_date":"2025-08-24T09:19:00Z","end_date":null}`},
		{"question page", tu, "GET", "/tutorial/get/" + tid + "/2/6", 200, jsonHeader(), `{"tutorial_name":"T","tutorial_pages":["a","b"],"tutorial_page":1,"tutorial_type":"Question","tutorial_section_id":"` + sid + `","question":null}`},
		{"no sections message", tu, "GET", "/tutorial_section/get/tutorial_id/" + tid, 200, jsonHeader(), `{"message":"Tutorial Section not found."}`},
		{"whole recording", tu, "GET", "/api/files/" + sid + "/recording.wav?exp=1&sig=ab", 200, http.Header{"Content-Type": {"audio/wav"}, "Accept-Ranges": {"bytes"}}, string(wav)},
		{"range of the recording", tu, "GET", "/api/files/" + sid + "/recording.wav", 206, http.Header{"Content-Type": {"audio/wav"}, "Content-Range": {"bytes 0-3/16"}}, string(wav[:4])},
		{"unsatisfiable range as JSON", tu, "GET", "/api/files/" + sid + "/recording.wav", 416, jsonHeader("Content-Range", "bytes */16"), `{"error":"Requested range not satisfiable","message":"Requested range not satisfiable","status":"error","code":416}`},
		{"head of the recording", tu, "HEAD", "/api/files/" + sid + "/recording.wav", 200, http.Header{"Content-Type": {"audio/wav"}, "Accept-Ranges": {"bytes"}}, ``},
		{"run error carries output", tu, "POST", "/run_script/ruby", 400, jsonHeader(), `{"error":"Unsupported language","message":"Unsupported language","status":"error","code":400,"output":"Unsupported language"}`},
		{"run result", tu, "POST", "/run_script/python", 200, jsonHeader(), `{"output":"1\n","time":0.02}`},
		{"keyword with an escaped space", tu, "GET", "/tutorial_section/search/keyword/print%20it/" + sid, 200, jsonHeader(), `{"result":[{"text":"print it","timestamp":1200,"endTime":4200}]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(c.method, base+c.url, nil)
			if err := c.v.Validate(req, c.status, c.header, []byte(c.body)); err != nil {
				t.Fatalf("conforming response refused: %v", err)
			}
		})
	}
}

func TestValidateRefusesDepartingResponses(t *testing.T) {
	t.Parallel()
	a, tu := must(t, auth), must(t, tutorial)
	cases := []struct {
		name   string
		v      *openapitest.Validator
		method string
		url    string
		status int
		header http.Header
		body   string
		want   string
	}{
		{"wrong body type", a, "GET", "/auth/protected", 200, jsonHeader(), `{"id":"5","role":"author"}`, "doesn't match"},
		{"undocumented status", a, "GET", "/auth/protected", 418, jsonHeader(), `{}`, "status 418 not documented"},
		{"missing field", a, "POST", "/auth/login", 200, jsonHeader("Set-Cookie", "itss_session=x"), `{"access_token":"eyJh.eyJp.c2ln"}`, "doesn't match"},
		{"extra field", a, "GET", "/auth/protected", 200, jsonHeader(), `{"id":5,"role":"author","email":"a@b.co"}`, "doesn't match"},
		{"required header missing", a, "POST", "/auth/register", 429, jsonHeader(), `{"error":"x","message":"x","status":"error","code":429}`, "Retry-After"},
		{"error code differs from status", a, "GET", "/auth/protected", 401, jsonHeader(), `{"error":"x","message":"x","status":"error","code":400}`, "doesn't match"},
		{"error in another shape", a, "GET", "/auth/protected", 401, jsonHeader(), `{"message":"Token Expired"}`, "doesn't match"},
		{"HTML error page", a, "GET", "/auth/protected", 401, http.Header{"Content-Type": {"text/html; charset=utf-8"}}, `<h1>401</h1>`, "Content-Type"},
		{"undocumented route answering 200", a, "GET", "/admin", 200, jsonHeader(), `{}`, "path not in the document"},
		{"unknown path with a non-JSON 404", a, "GET", "/admin", 404, http.Header{"Content-Type": {"text/plain"}}, `404 page not found`, "Content-Type"},
		{"RFC 1123 date", tu, "GET", "/tutorial/get/" + tid, 200, jsonHeader(), `{"id":"` + tid + `","name":"R","language":"python","sequence":"[]","userid":5,"start_date":"Mon, 01 Jan 2024 00:00:00 GMT","end_date":null}`, "doesn't match"},
		{"sequence as an array on T4", tu, "GET", "/tutorial/get/" + tid, 200, jsonHeader(), `{"id":"` + tid + `","name":"R","language":"python","sequence":[],"userid":5,"start_date":null,"end_date":null}`, "doesn't match"},
		{"recording as JSON", tu, "GET", "/api/files/" + sid + "/recording.wav", 200, jsonHeader(), `{}`, "Content-Type"},
		{"run error without output", tu, "POST", "/run_script/ruby", 400, jsonHeader(), `{"error":"x","message":"x","status":"error","code":400}`, "doesn't match"},
		{"head with an undocumented status", tu, "HEAD", "/api/files/" + sid + "/recording.wav", 418, http.Header{}, ``, "status 418 not documented"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(c.method, base+c.url, nil)
			err := c.v.Validate(req, c.status, c.header, []byte(c.body))
			if err == nil {
				t.Fatal("departing response accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

// failures is a testing.TB that records Errorf instead of failing, to show
// that Check, Transport and Middleware report what they find.
type failures struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (f *failures) Helper() {}

func (f *failures) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}

func (f *failures) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.msgs...)
}

// fakeAuth answers /auth/protected with a body of the wrong type and / as
// documented.
func fakeAuth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/auth/protected" {
		_, _ = io.WriteString(w, `{"id":"5","role":"author"}`)
		return
	}
	_, _ = io.WriteString(w, `{"message":"auth"}`)
}

func TestTransportReportsDepartingResponsesAndRestoresTheBody(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(fakeAuth))
	t.Cleanup(srv.Close)
	f := &failures{TB: t}
	client := &http.Client{Transport: must(t, auth).Transport(f, nil)}

	for _, path := range []string{"/", "/auth/protected"} {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || len(body) == 0 {
			t.Fatalf("%s: body not restored: %q %v", path, body, err)
		}
	}
	msgs := f.got()
	if len(msgs) != 1 || !strings.Contains(msgs[0], "/auth/protected") || !strings.Contains(msgs[0], `"5"`) {
		t.Fatalf("want one report naming the route and quoting the body, got %q", msgs)
	}
}

func TestMiddlewareReportsDepartingResponsesAndPassesThemOn(t *testing.T) {
	t.Parallel()
	f := &failures{TB: t}
	h := must(t, auth).Middleware(f)(http.HandlerFunc(fakeAuth))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/auth/protected", nil))
	if rec.Code != 200 || rec.Body.String() != `{"id":"5","role":"author"}` || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("answer not passed on: %d %q %q", rec.Code, rec.Header(), rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if msgs := f.got(); len(msgs) != 1 || !strings.Contains(msgs[0], "/auth/protected") {
		t.Fatalf("want one report, got %q", msgs)
	}
}

func TestCheckRecorderReportsAnUndocumentedStatus(t *testing.T) {
	t.Parallel()
	f := &failures{TB: t}
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Type", "application/json")
	rec.WriteHeader(http.StatusTeapot)
	_, _ = rec.WriteString(`{}`)
	must(t, tutorial).CheckRecorder(f, httptest.NewRequest("GET", "/tutorials", nil), rec)
	if msgs := f.got(); len(msgs) != 1 || !strings.Contains(msgs[0], "status 418 not documented") {
		t.Fatalf("want one report of the status, got %q", msgs)
	}
}

func TestLoadRefusesAnInvalidDocument(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"not JSON":       `{"openapi": `,
		"no paths":       `{"openapi":"3.1.0","info":{"title":"x","version":"1"},"paths":{"/a":{"get":{"responses":{"200":{"$ref":"#/components/responses/Nope"}}}}}}`,
		"no error shape": `{"openapi":"3.1.0","info":{"title":"x","version":"1"},"paths":{}}`,
	} {
		if _, err := openapitest.Load([]byte(doc)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}

// TestRoutingAgreesWithChiOnOverlappingPaths: chi sends GET /tutorial/create
// to GET /tutorial/{tid} (the literal path exists for POST only), and so
// must the validator; methods no path documents are 405, unknown paths 404.
func TestRoutingAgreesWithChiOnOverlappingPaths(t *testing.T) {
	t.Parallel()
	r := httpapi.NewRouter(httpapi.Options{Service: "tutorial", Logger: slog.New(slog.DiscardHandler)})
	r.Post("/tutorial/create", func(w http.ResponseWriter, _ *http.Request) {
		httpapi.JSON(w, http.StatusOK, map[string]string{"id": tid})
	})
	r.Get("/tutorial/{tid}", func(w http.ResponseWriter, r *http.Request) {
		httpapi.Error(w, r, itss.Errorf(itss.CodeInvalid, "Invalid tutorial ID: Invalid UUID format"))
	})
	f := &failures{TB: t}
	h := must(t, tutorial).Middleware(f)(r)
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"POST", "/tutorial/create", 200},
		{"GET", "/tutorial/create", 400},
		{"DELETE", "/tutorial/create", 405},
		{"PUT", "/tutorial/" + tid, 405},
		{"GET", "/tutorial/create/more", 404},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, strings.NewReader("{}")))
		if rec.Code != c.status {
			t.Fatalf("%s %s: chi answered %d, want %d", c.method, c.path, rec.Code, c.status)
		}
	}
	if msgs := f.got(); len(msgs) != 0 {
		t.Fatalf("conforming answers reported: %q", msgs)
	}
}
