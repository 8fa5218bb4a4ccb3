package tutorialapi

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/itss-go/itss/internal/store/storetest"
)

// Access kinds of the routes (API.md A3).
const (
	readKind       = "read"        // published: anyone identified; unpublished: owner only
	readmeKind     = "readme-read" // as read, but never anonymous (README routes are token routes)
	writeKind      = "write"       // owner only
	createKind     = "create"      // author role of the session
	ownListKind    = "own-list"    // user id in the path is the caller's
	otherListKind  = "other-list"  // user id in the path is the owner's
	identifiedKind = "identified"  // anyone identified
	tokenOnlyKind  = "token-only"  // README routes without a resource: identity in both modes
	serviceKind    = "service"     // service tokens only
)

// wantAccess is the status A3 gives a caller of a route of kind on a
// published or unpublished tutorial.
func wantAccess(kind, who string, required, published bool) int {
	if who == anon {
		switch {
		case kind == serviceKind || kind == tokenOnlyKind || kind == readmeKind:
			return 401
		case required:
			return 401
		}
		return 200
	}
	switch kind {
	case serviceKind:
		return 403
	case readKind, readmeKind:
		if published || who == ownerC {
			return 200
		}
		return 403
	case writeKind, otherListKind:
		if who == ownerC {
			return 200
		}
		return 403
	case createKind:
		if who == ownerC || who == otherAuthor {
			return 200
		}
		return 403
	}
	return 200
}

type matrixRoute struct {
	name string
	kind string
	// fresh: the route changes or removes the tutorial, so every case gets
	// its own.
	fresh bool
	do    func(e *env, f fixture, who string) *httptest.ResponseRecorder
}

var matrixRoutes = []matrixRoute{
	{"T4-tutorial", readKind, false, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("GET", "/tutorial/get/"+f.tid, nil, who)
	}},
	{"T8-playback", readKind, false, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("GET", fmt.Sprintf("/tutorial/get/%s/1/%d", f.tid, e.uid(who)), nil, who)
	}},
	{"T13-section", readKind, false, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("GET", "/tutorial_section/get/"+f.code, nil, who)
	}},
	{"T14-sections", readKind, false, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("GET", "/tutorial_section/get/tutorial_id/"+f.tid, nil, who)
	}},
	{"T20-search", readKind, false, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("GET", "/tutorial_section/search/keyword/print/"+f.code, nil, who)
	}},
	{"T21-file-unsigned", readKind, false, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("GET", "/api/files/"+f.code+"/recording.wav", nil, who)
	}},
	{"T18-save-layout", readKind, false, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("POST", "/save_learner_layout", map[string]any{"userid": fmt.Sprint(e.uid(who)),
			"tutorialid": f.tid, "role": "learner", "layout": map[string]any{"dockbox": map[string]any{}}}, who)
	}},
	{"T19-get-layout", readKind, false, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("POST", "/get_learner_layout", map[string]any{"userid": e.uid(who), "tutorialid": f.tid,
			"role": "learner"}, who)
	}},
	{"README-tutorial", readmeKind, false, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("GET", "/tutorial/"+f.tid, nil, who)
	}},
	{"T7-update", writeKind, true, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("POST", "/tutorial/update/"+f.tid, map[string]any{"sequence": []string{f.quiz, f.code}}, who)
	}},
	{"T9-delete", writeKind, true, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("GET", "/tutorial/delete/"+f.tid, nil, who)
	}},
	{"T15-create-section", writeKind, true, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("POST", "/tutorial_section/create", map[string]any{"name": "New", "tutorial_id": f.tid,
			"tutorial_type": "Code"}, who)
	}},
	{"T16-update-section", writeKind, true, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("POST", "/tutorial_section/update/"+f.code, map[string]any{"name": "Renamed"}, who)
	}},
	{"T17-delete-section", writeKind, true, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("GET", "/tutorial_section/delete/"+f.quiz, nil, who)
	}},
	{"T10-upload", writeKind, true, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		body, ct := multipartBody(editorFields(f.code, testWAV(100)))
		return e.req("POST", "/upload_recording", body, who, "Content-Type", ct)
	}},
	{"T5-create", createKind, false, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("POST", "/tutorial/create", map[string]any{"name": "Mine", "language": "python",
			"userid": fmt.Sprint(e.uid(who))}, who)
	}},
	{"T2-catalogue", ownListKind, false, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("GET", fmt.Sprintf("/tutorials/get_all/%d", e.uid(who)), nil, who)
	}},
	{"T3-own-list", ownListKind, false, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("GET", fmt.Sprintf("/tutorials/get/%d", e.uid(who)), nil, who)
	}},
	{"T3-owners-list", otherListKind, false, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("GET", fmt.Sprintf("/tutorials/get/%d", e.owner), nil, who)
	}},
	{"T22-storage-info", identifiedKind, false, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("GET", "/api/storage/info", nil, who)
	}},
	{"T23-storage-health", identifiedKind, false, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("GET", "/api/storage/health", nil, who)
	}},
	{"README-tutorials", tokenOnlyKind, false, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("GET", "/tutorials", nil, who)
	}},
	{"T6-createsample", serviceKind, false, func(e *env, f fixture, who string) *httptest.ResponseRecorder {
		return e.req("POST", "/tutorial/createsample", map[string]any{"userid": e.uid(who)}, who)
	}},
}

// TestAuthorizationMatrix runs every route as every kind of caller in both
// API_AUTH modes, on a published and an unpublished tutorial.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	storetest.EachDialect(t, func(t *testing.T, dialect string) {
		t.Parallel()
		for _, mode := range []string{"required", "optional"} {
			t.Run(mode, func(t *testing.T) {
				t.Parallel()
				db := storetest.MustOpenDB(t, dialect)
				e := newEnv(t, db, envOptions{optional: mode == "optional"})
				shared := map[bool]fixture{true: e.newTutorial(true), false: e.newTutorial(false)}
				for _, rt := range matrixRoutes {
					for _, published := range []bool{true, false} {
						if !published && rt.kind != readKind && rt.kind != readmeKind {
							continue // publication plays no part: writes are owner-only either way
						}
						for _, who := range callers {
							want := wantAccess(rt.kind, who, mode == "required", published)
							pub := "published"
							if !published {
								pub = "unpublished"
							}
							name := fmt.Sprintf("%s/%s/%s/%s/%d", rt.name, pub, who, mode, want)
							t.Run(name, func(t *testing.T) {
								f := shared[published]
								if rt.fresh {
									f = e.newBareTutorial()
								}
								wantStatus(t, rt.do(e, f, who), want)
							})
						}
					}
				}
			})
		}
	})
}
