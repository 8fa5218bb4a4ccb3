package tutorialapi

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/itss-go/itss/internal/httpapi"
	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/security"
)

func TestIdentityFromTokensAndCookies(t *testing.T) {
	t.Parallel()
	db := storetestOpen(t)
	for _, mode := range []string{"required", "optional"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, db, envOptions{optional: mode == "optional"})
			f := e.newTutorial(false)
			update := func(auth string) int {
				return e.req("POST", "/tutorial/update/"+f.tid, map[string]any{"endDatetime": nil}, auth).Code
			}
			expired, err := e.signer.Issue(e.owner, 0, "author", security.AudienceAPI, -time.Minute)
			must(t, err)
			_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
			foreign, err := security.NewSigner(otherKey, testIssuer).Issue(e.owner, 0, "author", security.AudienceAPI, time.Hour)
			must(t, err)
			wrongIssuer, err := security.NewSigner(otherKey, "http://elsewhere").Issue(e.owner, 0, "author", security.AudienceAPI, time.Hour)
			must(t, err)
			anonStatus := 200 // optional: served as the original served it
			if mode == "required" {
				anonStatus = 401
			}
			cases := []struct {
				name, auth string
				status     int
			}{
				{"bearer-owner/200", "Bearer " + e.token(ownerC), 200},
				{"cookie-owner/200", "Cookie " + e.token(ownerC), 200},
				{"cookie-other-author/403", "Cookie " + e.token(otherAuthor), 403},
				{"bearer-garbage/401", "Bearer not.a.token", 401},
				{"bearer-expired/401", "Bearer " + expired, 401},
				{"bearer-foreign-key/401", "Bearer " + foreign, 401},
				{"bearer-wrong-issuer/401", "Bearer " + wrongIssuer, 401},
				{"bearer-service-token-on-user-route/403", "Bearer " + e.serviceToken(e.owner), 403},
				{fmt.Sprintf("bearer-null/anonymous/%d", anonStatus), "Bearer null", anonStatus},
				{fmt.Sprintf("cookie-expired/anonymous/%d", anonStatus), "Cookie " + expired, anonStatus},
				{fmt.Sprintf("none/anonymous/%d", anonStatus), "", anonStatus},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					if got := update(c.auth); got != c.status {
						t.Fatalf("status %d, want %d", got, c.status)
					}
				})
			}
		})
	}
}

// TestLegacyHS256TokensMapThroughUserAuth: during a cut-over the original's
// tokens (id = user_auth id, empty rls) identify the user, acting in their
// stored current role.
func TestLegacyHS256TokensMapThroughUserAuth(t *testing.T) {
	t.Parallel()
	db := storetestOpen(t)
	e := newEnv(t, db, envOptions{})
	legacySecret := []byte("legacy-secret-of-the-original-0123456789")
	e.h = NewRouter(Options{Service: e.svc, APIVerifier: e.signer.Verifier(security.AudienceAPI, legacySecret),
		ServiceVerifier: e.signer.Verifier(security.AudienceService, nil), Limiter: httpapi.NewMemoryLimiter()})
	learner := string(itss.RoleLearner)
	u, auth, err := db.CreateFormUser(t.Context(), "Old Learner", "author,learner", "old@example.com", "$x", &learner)
	must(t, err)
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "jti": "2b9e", "id": auth.ID, "rls": "",
		"rf_exp": now.Add(24 * time.Hour).Unix()}).SignedString(legacySecret)
	must(t, err)
	f := e.newTutorial(true)
	wantStatus(t, e.req("GET", fmt.Sprintf("/tutorial/get/%s/1/%d", f.tid, u.ID), nil, "Bearer "+tok), 200)
	m := wantStatus(t, e.req("GET", fmt.Sprintf("/tutorials/get_all/%d", u.ID), nil, "Bearer "+tok), 200)
	if m["tutorials"].([]any)[0].(map[string]any)["last_page"] != float64(1) {
		t.Fatalf("progress of a legacy learner session not recorded: %v", m)
	}
	// Another user's id in the path is still refused.
	wantStatus(t, e.req("GET", fmt.Sprintf("/tutorials/get_all/%d", e.learner), nil, "Bearer "+tok), 403)
}

// TestProgressFollowsTheSessionRole: a learner session records the page, an
// author session previewing does not; anonymous callers (optional mode) are
// tracked by the user's stored current role, as the original did.
func TestProgressFollowsTheSessionRole(t *testing.T) {
	t.Parallel()
	db := storetestOpen(t)
	e := newEnv(t, db, envOptions{optional: true})
	f := e.newTutorial(true)
	page := func(who string, uid int64, n int) {
		wantStatus(t, e.req("GET", fmt.Sprintf("/tutorial/get/%s/%d/%d", f.tid, n, uid), nil, who), 200)
	}
	last := func(uid int64) int {
		n, err := db.LastPage(t.Context(), uid, f.tid)
		must(t, err)
		return n
	}
	page(learnerC, e.learner, 2)
	page(ownerC, e.owner, 2)
	page(anon, e.guest, 1) // the guest's current_role is learner
	page(anon, e.other, 1) // an author
	if last(e.learner) != 2 || last(e.owner) != 0 || last(e.guest) != 1 || last(e.other) != 0 {
		t.Fatalf("progress learner=%d owner=%d guest=%d other=%d", last(e.learner), last(e.owner), last(e.guest), last(e.other))
	}
	// The original overwrote with the page just opened, even going back.
	page(learnerC, e.learner, 1)
	if last(e.learner) != 1 {
		t.Fatalf("last page %d after going back", last(e.learner))
	}
}
