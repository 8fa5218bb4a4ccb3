package authapi_test

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/itss-go/itss/internal/httpapi"
	"github.com/itss-go/itss/internal/security"
	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/store/storetest"
)

func TestRegister(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		ok := map[string]any{"name": "Alice Author", "email": "Alice@Example.com", "password": "Passw0rd!", "repassword": "Passw0rd!", "role": "both"}
		with := func(k string, v any) map[string]any {
			m := map[string]any{}
			for kk, vv := range ok {
				m[kk] = vv
			}
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
			return m
		}
		r := e.do("POST", "/auth/register", ok, "X-Forwarded-For", randomIP())
		if r.status != 200 || r.body["message"] != "Registration successful. Redirecting to Login." {
			t.Fatalf("register200: %d %s", r.status, r.raw)
		}
		cases := []struct {
			name   string
			body   any
			status int
			msg    string
		}{
			{"duplicate400", with("email", "alice@example.com"), 400, "Account already registered. Please Login."},
			{"missingName400", with("name", nil), 400, "All fields are required."},
			{"emptyRepassword400", with("repassword", ""), 400, "All fields are required."},
			{"longName400", with("name", strings.Repeat("n", 101)), 400, "Invalid name: Field exceeds maximum length of 100"},
			{"badEmail400", with("email", "not-an-email"), 400, "Invalid Email."},
			{"weakPassword400", map[string]any{"name": "B", "email": "b@example.com", "password": "password", "repassword": "password", "role": "learner"}, 400, "Invalid Password."},
			{"mismatch400", with("repassword", "Passw0rd?"), 400, "Password mismatch."},
			{"badRole400", map[string]any{"name": "B", "email": "b@example.com", "password": "Passw0rd!", "repassword": "Passw0rd!", "role": "admin"}, 400, "Please select a different role."},
			{"wrongType400", with("name", 42), 400, ""},
			{"malformed400", `{"name": "x",`, 400, ""},
			{"oversized413", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				wantError(t, e.do("POST", "/auth/register", c.body, "X-Forwarded-For", randomIP()), c.status, c.msg)
			})
		}
		t.Run("sqlishNameAccepted200", func(t *testing.T) {
			r := e.do("POST", "/auth/register", map[string]any{"name": "Drop Dead Fred", "email": "fred@example.com", "password": "Passw0rd!", "repassword": "Passw0rd!", "role": "learner"}, "X-Forwarded-For", randomIP())
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
		})
		t.Run("readmeFamilyRoles200", func(t *testing.T) {
			r := e.do("POST", "/auth/register", map[string]any{"name": "Rea", "email": "rea@example.com", "password": "Passw0rd!", "roles": "author,learner"}, "X-Forwarded-For", randomIP())
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			tok := e.login("rea@example.com", "Passw0rd!", "learner")
			if tok == "" {
				t.Fatal("no token")
			}
		})
		t.Run("passwordStoredAsArgon2id", func(t *testing.T) {
			a, err := db.AuthByEmail(context.Background(), "alice@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(a.Password, "$argon2id$v=19$") {
				t.Fatalf("stored hash %q", a.Password)
			}
		})
	})
}

func TestLogin(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		e.register("Lena Learner", "lena@example.com", "Passw0rd!", "learner")

		t.Run("success200SetsCookieAndRole", func(t *testing.T) {
			r := e.do("POST", "/auth/login", map[string]string{"email": "LENA@example.com", "password": "Passw0rd!", "role": "learner"}, "X-Forwarded-For", randomIP())
			if r.status != 200 || r.body["role"] != "learner" || r.body["access_token"] == "" {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			if len(r.body) != 2 {
				t.Fatalf("body has extra fields: %s", r.raw)
			}
			if c := r.header.Get("Set-Cookie"); !strings.Contains(c, "itss_session=") || !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") {
				t.Fatalf("cookie %q", c)
			}
			claims, err := e.signer.Verifier(security.AudienceAPI, nil).Verify(context.Background(), r.body["access_token"].(string))
			if err != nil || claims.Role != "learner" || claims.UID == 0 || claims.AuthID == 0 {
				t.Fatalf("claims %+v err %v", claims, err)
			}
			u, err := db.UserByID(context.Background(), claims.UID)
			if err != nil || u.CurrentRole == nil || *u.CurrentRole != "learner" {
				t.Fatalf("current_role not recorded: %+v %v", u, err)
			}
		})
		t.Run("unknownEmailAndWrongPasswordIndistinguishable401", func(t *testing.T) {
			a := e.do("POST", "/auth/login", map[string]string{"email": "lena@example.com", "password": "Wrong0rd!", "role": "learner"}, "X-Forwarded-For", randomIP())
			b := e.do("POST", "/auth/login", map[string]string{"email": "nobody@example.com", "password": "Wrong0rd!", "role": "learner"}, "X-Forwarded-For", randomIP())
			wantError(t, a, 401, "The username and/or password are incorrect")
			if a.raw != b.raw || a.status != b.status {
				t.Fatalf("distinguishable: %q vs %q", a.raw, b.raw)
			}
		})
		t.Run("roleNotHeld400", func(t *testing.T) {
			wantError(t, e.do("POST", "/auth/login", map[string]string{"email": "lena@example.com", "password": "Passw0rd!", "role": "author"}, "X-Forwarded-For", randomIP()),
				400, "Incorrect email and/or password for the selected role.")
		})
		t.Run("badRole400", func(t *testing.T) {
			wantError(t, e.do("POST", "/auth/login", map[string]string{"email": "lena@example.com", "password": "Passw0rd!", "role": "admin"}, "X-Forwarded-For", randomIP()),
				400, "Incorrect email and/or password for the selected role.")
		})
		t.Run("missingEmail400", func(t *testing.T) {
			wantError(t, e.do("POST", "/auth/login", map[string]string{"password": "x", "role": "learner"}, "X-Forwarded-For", randomIP()), 400, "All fields are required.")
		})
		t.Run("emptyRole400", func(t *testing.T) {
			wantError(t, e.do("POST", "/auth/login", map[string]string{"email": "lena@example.com", "password": "x", "role": ""}, "X-Forwarded-For", randomIP()), 400, "All fields are required.")
		})
		t.Run("invalidEmail400", func(t *testing.T) {
			wantError(t, e.do("POST", "/auth/login", map[string]string{"email": "lena", "password": "x", "role": "learner"}, "X-Forwarded-For", randomIP()), 400, "Invalid Email.")
		})
		t.Run("readmeFamilyRoleOptional200", func(t *testing.T) {
			r := e.do("POST", "/auth/login", map[string]string{"email": "lena@example.com", "password": "Passw0rd!"}, "X-Forwarded-For", randomIP())
			if r.status != 200 || r.body["role"] != "learner" {
				t.Fatalf("%d %s", r.status, r.raw)
			}
		})
	})
}

// passlibPBKDF2 writes a hash exactly as the original's passlib pbkdf2_sha512.
func passlibPBKDF2(t *testing.T, password string) string {
	t.Helper()
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	sum, err := pbkdf2.Key(sha512.New, password, salt, 25000, 64)
	if err != nil {
		t.Fatal(err)
	}
	ab64 := func(b []byte) string {
		return strings.ReplaceAll(base64.RawStdEncoding.EncodeToString(b), "+", ".")
	}
	return fmt.Sprintf("$pbkdf2-sha512$25000$%s$%s", ab64(salt), ab64(sum))
}

func TestLegacyPasswordVerifiesAndIsUpgraded(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		ctx := context.Background()
		if _, err := db.EnsureFormUser(ctx, "Both Test", "author,learner", "test@its.com", passlibPBKDF2(t, "password")); err != nil {
			t.Fatal(err)
		}
		e.login("test@its.com", "password", "author")
		a, err := db.AuthByEmail(ctx, "test@its.com")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(a.Password, "$argon2id$") {
			t.Fatalf("hash not upgraded: %q", a.Password)
		}
		e.login("test@its.com", "password", "learner") // the upgraded hash verifies
	})
}

func TestGuestLogin(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		verify := e.signer.Verifier(security.AudienceAPI, nil)
		t.Run("learner200NoSampleCopy", func(t *testing.T) {
			r := e.do("POST", "/guest/login", map[string]string{"role": "learner"}, "X-Forwarded-For", randomIP())
			if r.status != 200 || r.body["role"] != "learner" {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			c, err := verify.Verify(context.Background(), r.body["access_token"].(string))
			if err != nil {
				t.Fatal(err)
			}
			u, _ := db.UserByID(context.Background(), c.UID)
			if u.Name != "Guest" || u.Roles != "guest,learner" {
				t.Fatalf("guest row %+v", u)
			}
			if e.tutorial.callsFor(c.UID) != 0 {
				t.Fatal("learner guests get no sample copy")
			}
		})
		t.Run("author200RequestsSampleCopyWithServiceToken", func(t *testing.T) {
			r := e.do("POST", "/guest/login", map[string]string{"role": "author"}, "X-Forwarded-For", randomIP())
			if r.status != 200 || r.body["role"] != "author" {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			c, _ := verify.Verify(context.Background(), r.body["access_token"].(string))
			if e.tutorial.callsFor(c.UID) != 1 {
				t.Fatalf("sample copy not requested for user %d", c.UID)
			}
		})
		t.Run("author200EvenWhenCopyFails", func(t *testing.T) {
			e.tutorial.mu.Lock()
			e.tutorial.status = http.StatusInternalServerError
			e.tutorial.mu.Unlock()
			r := e.do("POST", "/guest/login", map[string]string{"role": "author"}, "X-Forwarded-For", randomIP())
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
		})
		t.Run("badRole400", func(t *testing.T) {
			wantError(t, e.do("POST", "/guest/login", map[string]string{"role": "admin"}, "X-Forwarded-For", randomIP()), 400, "Incorrect role.")
		})
		t.Run("missingRole400", func(t *testing.T) {
			wantError(t, e.do("POST", "/guest/login", map[string]string{}, "X-Forwarded-For", randomIP()), 400, "Incorrect role.")
		})
	})
}

func TestGuestAuthorLoginSurvivesUnreachableTutorialService(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Open(t), envOptions{})
	e.tutorial.srv.Close()
	r := e.do("POST", "/guest/login", map[string]string{"role": "author"}, "X-Forwarded-For", randomIP())
	if r.status != 200 || r.body["access_token"] == "" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
}

func TestProtected(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		e.register("Alice", "alice@example.com", "Passw0rd!", "both")
		tok := e.login("alice@example.com", "Passw0rd!", "author")
		c, _ := e.signer.Verifier(security.AudienceAPI, nil).Verify(context.Background(), tok)

		t.Run("bearer200", func(t *testing.T) {
			r := e.do("GET", "/auth/protected", nil, "Authorization", "Bearer "+tok)
			if r.status != 200 || r.body["id"] != float64(c.UID) || r.body["role"] != "author" {
				t.Fatalf("%d %s", r.status, r.raw)
			}
		})
		t.Run("roleOfThisTokenNotLastLogin200", func(t *testing.T) {
			e.login("alice@example.com", "Passw0rd!", "learner")
			r := e.do("GET", "/auth/protected", nil, "Authorization", "Bearer "+tok)
			if r.body["role"] != "author" {
				t.Fatalf("role %v", r.body["role"])
			}
		})
		t.Run("cookie200", func(t *testing.T) {
			r := e.do("GET", "/auth/protected", nil, "Authorization", "Bearer null", "Cookie", "itss_session="+tok)
			if r.status != 200 || r.body["id"] != float64(c.UID) {
				t.Fatalf("%d %s", r.status, r.raw)
			}
		})
		t.Run("noHeader401", func(t *testing.T) {
			wantError(t, e.do("GET", "/auth/protected", nil), 401, "Token Expired")
		})
		t.Run("garbage401", func(t *testing.T) {
			wantError(t, e.do("GET", "/auth/protected", nil, "Authorization", "Bearer abc.def.ghi"), 401, "Token Expired")
		})
		t.Run("serviceTokenRefused401", func(t *testing.T) {
			svc, _ := e.signer.Issue(c.UID, 0, "author", security.AudienceService, time.Minute)
			wantError(t, e.do("GET", "/auth/protected", nil, "Authorization", "Bearer "+svc), 401, "Token Expired")
		})
		t.Run("expired401", func(t *testing.T) {
			old, _ := e.signer.Issue(c.UID, c.AuthID, "author", security.AudienceAPI, -time.Minute)
			wantError(t, e.do("GET", "/auth/protected", nil, "Authorization", "Bearer "+old), 401, "Token Expired")
		})
		t.Run("preflight200", func(t *testing.T) {
			r := e.do("OPTIONS", "/auth/protected", nil, "Origin", "http://localhost:3000",
				"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization")
			if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
				t.Fatalf("%d %v", r.status, r.header)
			}
		})
	})
}

func TestLegacyHS256Token(t *testing.T) {
	t.Parallel()
	secret := []byte("legacy-secret-of-the-original-system-0123456789")
	db := storetest.Open(t)
	_, auth, err := db.CreateFormUser(context.Background(), "Old", "author", "old@example.com", passlibPBKDF2(t, "x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "2b9e0000-0000-0000-0000-000000000000",
		"id": auth.ID, "rls": "", "rf_exp": now.Add(30 * 24 * time.Hour).Unix(),
	}).SignedString(secret)

	off := newEnv(t, db, envOptions{})
	wantError(t, off.do("GET", "/auth/protected", nil, "Authorization", "Bearer "+tok), 401, "Token Expired")

	wantError(t, off.do("POST", "/auth/refresh", tok, "X-Forwarded-For", randomIP()), 401, "Token Expired")

	on := newEnv(t, db, envOptions{legacy: secret})
	r := on.do("GET", "/auth/protected", nil, "Authorization", "Bearer "+tok)
	if r.status != 200 || r.body["id"] != float64(auth.UserID) || r.body["role"] != "author" {
		t.Fatalf("legacy token with the setting on: %d %s", r.status, r.raw)
	}
	// A cut-over refresh turns the legacy token into an EdDSA one.
	rf := on.do("POST", "/auth/refresh", tok, "X-Forwarded-For", randomIP())
	if rf.status != 200 {
		t.Fatalf("legacy refresh: %d %s", rf.status, rf.raw)
	}
	c, err := on.signer.Verifier(security.AudienceAPI, nil).Verify(context.Background(), rf.body["access_token"].(string))
	if err != nil || c.UID != auth.UserID {
		t.Fatalf("refreshed legacy token: %+v %v", c, err)
	}
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		e.register("Rita", "rita@example.com", "Passw0rd!", "learner")
		tok := e.login("rita@example.com", "Passw0rd!", "learner")
		for name, body := range map[string]string{
			"rawEarly200":     tok,
			"rawNewline200":   tok + "\n",
			"jsonString200":   `"` + tok + `"`,
			"accessObject200": `{"access_token":"` + tok + `"}`,
		} {
			t.Run(name, func(t *testing.T) {
				r := e.do("POST", "/auth/refresh", body, "Content-Type", "application/json", "X-Forwarded-For", randomIP())
				if r.status != 200 || r.body["access_token"] == "" || len(r.body) != 1 {
					t.Fatalf("%d %s", r.status, r.raw)
				}
				if !strings.Contains(r.header.Get("Set-Cookie"), "itss_session=") {
					t.Fatal("refresh must renew the session cookie")
				}
				p := e.do("GET", "/auth/protected", nil, "Authorization", "Bearer "+r.body["access_token"].(string))
				if p.status != 200 || p.body["role"] != "learner" {
					t.Fatalf("refreshed token unusable: %s", p.raw)
				}
			})
		}
		t.Run("garbage401", func(t *testing.T) {
			wantError(t, e.do("POST", "/auth/refresh", "not-a-token", "X-Forwarded-For", randomIP()), 401, "Token Expired")
		})
		t.Run("empty401", func(t *testing.T) {
			wantError(t, e.do("POST", "/auth/refresh", "", "X-Forwarded-For", randomIP()), 401, "Token Expired")
		})
	})
}

func TestRefreshAndIdentityFollowTheAccount(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		e.register("Bea", "bea@example.com", "Passw0rd!", "both")
		tok := e.login("bea@example.com", "Passw0rd!", "author")
		c, err := e.signer.Verifier(security.AudienceAPI, nil).Verify(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		t.Run("unknownUserRefresh401", func(t *testing.T) {
			// As the original re-identified the user at every refresh, an
			// account that is gone must not keep refreshing for 30 days.
			ghost, _ := e.signer.Issue(c.UID+100000, 0, "learner", security.AudienceAPI, time.Hour)
			wantError(t, e.do("POST", "/auth/refresh", ghost, "X-Forwarded-For", randomIP()), 401, "Token Expired")
		})
		t.Run("roleTakenAway401", func(t *testing.T) {
			if err := db.SetRoles(context.Background(), c.UID, "learner"); err != nil {
				t.Fatal(err)
			}
			wantError(t, e.do("GET", "/auth/protected", nil, "Authorization", "Bearer "+tok), 401, "Token Expired")
			wantError(t, e.do("POST", "/auth/refresh", tok, "X-Forwarded-For", randomIP()), 401, "Token Expired")
			// The role still held keeps working.
			r := e.do("GET", "/auth/protected", nil, "Authorization", "Bearer "+e.login("bea@example.com", "Passw0rd!", "learner"))
			if r.status != 200 || r.body["role"] != "learner" {
				t.Fatalf("%d %s", r.status, r.raw)
			}
		})
	})
}

func TestProtectedDuringDatabaseOutageIsNotTokenExpired(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t)
	e := newEnv(t, db, envOptions{})
	e.register("Ola", "ola@example.com", "Passw0rd!", "learner")
	tok := e.login("ola@example.com", "Passw0rd!", "learner")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// A valid token during an outage is an outage, not an expired session.
	r := e.do("GET", "/auth/protected", nil, "Authorization", "Bearer "+tok)
	if r.status < 500 {
		t.Fatalf("status %d, want a 5xx: %s", r.status, r.raw)
	}
	if r.body["message"] == "Token Expired" {
		t.Fatalf("outage reported as an expired token: %s", r.raw)
	}
}

func TestTokenAndProfileResponsesAreNotStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Open(t), envOptions{})
	e.register("Nia", "nia@example.com", "Passw0rd!", "learner")
	login := e.do("POST", "/auth/login", map[string]string{"email": "nia@example.com", "password": "Passw0rd!", "role": "learner"}, "X-Forwarded-For", randomIP())
	tok, _ := login.body["access_token"].(string)
	for name, r := range map[string]response{
		"login":          login,
		"guest":          e.do("POST", "/guest/login", map[string]string{"role": "learner"}, "X-Forwarded-For", randomIP()),
		"refresh":        e.do("POST", "/auth/refresh", tok, "X-Forwarded-For", randomIP()),
		"protected":      e.do("GET", "/auth/protected", nil, "Authorization", "Bearer "+tok),
		"getUserDetails": e.do("POST", "/getUserDetails", map[string]string{}, "Authorization", "Bearer "+tok),
	} {
		if r.status != 200 {
			t.Fatalf("%s: %d %s", name, r.status, r.raw)
		}
		// RFC 6749 §5.1: no cache may keep a response that carries a token.
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control = %q, want no-store", name, cc)
		}
	}
}

func TestLogoutClearsCookie(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Open(t), envOptions{})
	r := e.do("POST", "/auth/logout", nil)
	if r.status != 200 || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("%d %v", r.status, r.header)
	}
}

func TestUserDetails(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		opt := newEnv(t, db, envOptions{})
		req := newEnv(t, db, envOptions{required: true})
		opt.register("Alice Author", "alice@example.com", "Passw0rd!", "both")
		tok := opt.login("alice@example.com", "Passw0rd!", "author")
		c, _ := opt.signer.Verifier(security.AudienceAPI, nil).Verify(context.Background(), tok)
		id := fmt.Sprint(c.UID)
		reqTok := req.login("alice@example.com", "Passw0rd!", "author")

		t.Run("optional/anonymous200", func(t *testing.T) {
			r := opt.do("POST", "/getUserDetails", map[string]string{"id": id})
			if r.status != 200 || r.body["name"] != "Alice Author" || r.body["email"] != "alice@example.com" ||
				r.body["roles"] != "Author, Learner" || r.body["loginType"] != "form" || r.body["picture"] != nil {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			if _, ok := r.body["picture"]; !ok {
				t.Fatal("picture must be present (null)")
			}
		})
		t.Run("optional/numericId200", func(t *testing.T) {
			if r := opt.do("POST", "/getUserDetails", map[string]any{"id": c.UID}); r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
		})
		t.Run("optional/missingId400", func(t *testing.T) {
			wantError(t, opt.do("POST", "/getUserDetails", map[string]string{}), 400, "User ID is required")
		})
		t.Run("optional/zeroId400", func(t *testing.T) {
			wantError(t, opt.do("POST", "/getUserDetails", map[string]string{"id": "0"}), 400, "Invalid user ID: Value must be at least 1")
		})
		t.Run("optional/unknown404", func(t *testing.T) {
			wantError(t, opt.do("POST", "/getUserDetails", map[string]string{"id": "999999"}), 404, "User not found")
		})
		t.Run("required/anonymous401", func(t *testing.T) {
			wantError(t, req.do("POST", "/getUserDetails", map[string]string{"id": id}), 401, "")
		})
		t.Run("required/self200", func(t *testing.T) {
			r := req.do("POST", "/getUserDetails", map[string]string{"id": id}, "Authorization", "Bearer "+reqTok)
			if r.status != 200 || r.body["name"] != "Alice Author" {
				t.Fatalf("%d %s", r.status, r.raw)
			}
		})
		t.Run("required/cookieNoBody200", func(t *testing.T) {
			r := req.do("POST", "/getUserDetails", nil, "Cookie", "itss_session="+reqTok)
			if r.status != 200 || r.body["name"] != "Alice Author" {
				t.Fatalf("%d %s", r.status, r.raw)
			}
		})
		t.Run("optional/otherUser403", func(t *testing.T) {
			wantError(t, opt.do("POST", "/getUserDetails", map[string]string{"id": "999999"}, "Authorization", "Bearer "+tok), 403, "")
		})
		t.Run("guest200", func(t *testing.T) {
			g := opt.do("POST", "/guest/login", map[string]string{"role": "learner"}, "X-Forwarded-For", randomIP())
			gc, _ := opt.signer.Verifier(security.AudienceAPI, nil).Verify(context.Background(), g.body["access_token"].(string))
			r := opt.do("POST", "/getUserDetails", map[string]string{"id": fmt.Sprint(gc.UID)})
			if r.status != 200 || r.raw != `{"loginType":"guest","name":"Guest","roles":"Learner"}`+"\n" && r.raw != `{"name":"Guest","roles":"Learner","loginType":"guest"}`+"\n" {
				t.Fatalf("%d %q", r.status, r.raw)
			}
		})
	})
}

func TestGoogle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		good := e.issuer.idToken(t, "108000000000000000001", "Gina@Example.com", googleClientID)
		t.Run("register200", func(t *testing.T) {
			r := e.do("POST", "/oauth/register", map[string]string{"token": good, "role": "both"}, "X-Forwarded-For", randomIP())
			if r.status != 200 || r.body["message"] != "Registration successful. Redirecting to Login." {
				t.Fatalf("%d %s", r.status, r.raw)
			}
		})
		t.Run("registerAgain400", func(t *testing.T) {
			wantError(t, e.do("POST", "/oauth/register", map[string]string{"token": good, "role": "both"}, "X-Forwarded-For", randomIP()), 400, "Account already registered. Please Login.")
		})
		t.Run("registerBadRole400", func(t *testing.T) {
			wantError(t, e.do("POST", "/oauth/register", map[string]string{"token": good, "role": "x"}, "X-Forwarded-For", randomIP()), 400, "Please select a different role.")
		})
		t.Run("loginIssuesAppToken200", func(t *testing.T) {
			r := e.do("POST", "/oauth/login", map[string]string{"token": good, "role": "learner"}, "X-Forwarded-For", randomIP())
			if r.status != 200 || r.body["role"] != "learner" {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			tok := r.body["access_token"].(string)
			if tok == good {
				t.Fatal("the Google token must not be handed back as the app token")
			}
			p := e.do("GET", "/auth/protected", nil, "Authorization", "Bearer "+tok)
			if p.status != 200 || p.body["role"] != "learner" {
				t.Fatalf("%d %s", p.status, p.raw)
			}
			d := e.do("POST", "/getUserDetails", map[string]any{"id": p.body["id"]})
			if d.body["loginType"] != "google" || d.body["email"] != "gina@example.com" || d.body["picture"] != "https://example.com/gina.png" {
				t.Fatalf("details %s", d.raw)
			}
		})
		t.Run("wrongAudience401", func(t *testing.T) {
			bad := e.issuer.idToken(t, "108000000000000000001", "gina@example.com", "someone-else")
			wantError(t, e.do("POST", "/oauth/login", map[string]string{"token": bad, "role": "learner"}, "X-Forwarded-For", randomIP()), 401, "")
		})
		t.Run("bogusToken401", func(t *testing.T) {
			wantError(t, e.do("POST", "/oauth/login", map[string]string{"token": "bogus", "role": "learner"}, "X-Forwarded-For", randomIP()), 401, "")
		})
		t.Run("unknownAccount403", func(t *testing.T) {
			other := e.issuer.idToken(t, "108000000000000000002", "other@example.com", googleClientID)
			wantError(t, e.do("POST", "/oauth/login", map[string]string{"token": other, "role": "learner"}, "X-Forwarded-For", randomIP()), 403, "Account not permitted")
		})
	})
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, limiter httpapi.Limiter) {
		e := newEnv(t, storetest.Open(t), envOptions{limiter: limiter})
		ip := randomIP()
		var last response
		for i := 0; i < 11; i++ {
			// Distinct accounts, so the per-account back-off stays out of it.
			last = e.do("POST", "/auth/login", map[string]string{"email": fmt.Sprintf("x%d@example.com", i), "password": "x", "role": "learner"}, "X-Forwarded-For", ip)
		}
		wantError(t, last, 429, "")
		if last.header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
		// Another client address is not affected.
		other := e.do("POST", "/auth/login", map[string]string{"email": "y@example.com", "password": "x", "role": "learner"}, "X-Forwarded-For", randomIP())
		if other.status == 429 {
			t.Fatalf("rate limit leaked across client addresses: %s", other.raw)
		}
	}
	t.Run("memory429", func(t *testing.T) {
		l, err := httpapi.NewLimiter("memory://")
		if err != nil {
			t.Fatal(err)
		}
		check(t, l)
	})
	t.Run("redis429", func(t *testing.T) {
		l, err := httpapi.NewLimiter(redisURL(t))
		if err != nil {
			t.Fatal(err)
		}
		check(t, l)
	})
}

func TestRateLimitsCountAnIPv6NetworkAsOneClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Open(t), envOptions{})
	var last response
	for i := 0; i < 11; i++ {
		// A new address of the same /64 for every attempt.
		last = e.do("POST", "/auth/login", map[string]string{"email": fmt.Sprintf("v6-%d@example.com", i), "password": "x", "role": "learner"},
			"X-Forwarded-For", fmt.Sprintf("2001:db8:77:1::%x", i+1))
	}
	wantError(t, last, 429, "")
	if r := e.do("POST", "/auth/login", map[string]string{"email": "v6@example.com", "password": "x", "role": "learner"},
		"X-Forwarded-For", "2001:db8:77:2::1"); r.status == 429 {
		t.Fatalf("another /64 was limited too: %s", r.raw)
	}
}

func TestFailedLoginBackoffAcrossClientAddresses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Open(t), envOptions{})
	e.register("Vic", "vic@example.com", "Passw0rd!", "learner")
	for i := 0; i < 5; i++ {
		wantError(t, e.do("POST", "/auth/login", map[string]string{"email": "vic@example.com", "password": "guess", "role": "learner"}, "X-Forwarded-For", randomIP()), 401, "")
	}
	// Even the right password from a fresh address waits now.
	r := e.do("POST", "/auth/login", map[string]string{"email": "vic@example.com", "password": "Passw0rd!", "role": "learner"}, "X-Forwarded-For", randomIP())
	wantError(t, r, 429, "")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}

func TestUnknownRoutesAndMethodsAreJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Open(t), envOptions{})
	wantError(t, e.do("GET", "/no/such/route", nil), 404, "")
	wantError(t, e.do("GET", "/auth/login", nil), 405, "")
	r := e.do("GET", "/", nil)
	if r.status != 200 || r.body["message"] != "auth" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
}

func TestJWKSPublishesSigningKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Open(t), envOptions{})
	r := e.do("GET", "/.well-known/jwks.json", nil)
	keys, _ := r.body["keys"].([]any)
	if r.status != 200 || len(keys) != 1 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	v, err := security.NewVerifier(security.VerifierOptions{JWKSURL: e.srv.URL + "/.well-known/jwks.json", Issuer: "http://auth.test", Audience: security.AudienceAPI})
	if err != nil {
		t.Fatal(err)
	}
	e.register("Jay", "jay@example.com", "Passw0rd!", "author")
	if _, err := v.Verify(context.Background(), e.login("jay@example.com", "Passw0rd!", "author")); err != nil {
		t.Fatalf("token does not verify through the published JWKS: %v", err)
	}
}

func TestOpenAPIDocumentServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Open(t), envOptions{})
	r := e.do("GET", "/openapi.json", nil)
	if r.status != 200 || r.body["openapi"] == nil || r.body["paths"] == nil {
		t.Fatalf("%d %.200s", r.status, r.raw)
	}
}
