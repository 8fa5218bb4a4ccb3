package tutorialapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/itss-go/itss/internal/httpapi"
	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/security"
	"github.com/itss-go/itss/internal/store"
)

// SessionCookie is the cookie the auth service sets on login (A3).
const SessionCookie = "itss_session"

// sampleCopyPath is the one route that takes service tokens (A11).
const sampleCopyPath = "/tutorial/createsample"

// TokenVerifier checks a token's signature, expiry, issuer and audience;
// *security.Verifier implements it.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (*security.Claims, error)
}

// identifier turns the request's credentials into an itss.Identity (A3, A4).
type identifier struct {
	api     TokenVerifier // audience itss-api: browser sessions
	service TokenVerifier // audience itss-service: the auth service's sample-copy call
	db      *store.DB
	log     *slog.Logger
}

// middleware puts the caller's identity into the request context. A bearer
// token that fails verification is refused with 401 in both modes: the
// client asked to be someone and is not. A session cookie that fails (it
// expired with the session) makes the request anonymous instead, so a signed
// audio link still plays; routes then answer 401 in required mode anyway.
func (i *identifier) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, bearer := credentials(r)
		if token == "" {
			next.ServeHTTP(w, r)
			return
		}
		id, err := i.identify(r.Context(), token, bearer)
		switch {
		case err == nil:
		case bearer && itss.IsCode(err, itss.CodeUnavailable):
			httpapi.Error(w, r, err) // the auth service's keys could not be fetched: 503
			return
		case bearer:
			httpapi.Error(w, r, itss.Wrap(itss.CodeUnauthorized, err, "Invalid or expired token."))
			return
		default:
			i.log.DebugContext(r.Context(), "ignoring an invalid session cookie", "err", err)
			next.ServeHTTP(w, r)
			return
		}
		if id.Service && r.URL.Path != sampleCopyPath {
			// Service tokens open one door; the Service refuses them too, but
			// routes mounted from other packages (code runs) would not.
			httpapi.Error(w, r, itss.Errorf(itss.CodeForbidden, msgServiceOnly))
			return
		}
		next.ServeHTTP(w, r.WithContext(itss.WithIdentity(r.Context(), id)))
	})
}

// credentials returns the bearer token, else the session cookie's value.
// "Bearer null" is what the frontend's token library sends without a token.
func credentials(r *http.Request) (token string, bearer bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		tok = strings.TrimSpace(tok)
		if ok && strings.EqualFold(scheme, "Bearer") && tok != "" && tok != "null" && tok != "undefined" {
			return tok, true
		}
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		return c.Value, false
	}
	return "", false
}

func (i *identifier) identify(ctx context.Context, token string, bearer bool) (itss.Identity, error) {
	if i.api == nil {
		return itss.Identity{}, errors.New("no token verifier configured")
	}
	c, err := i.api.Verify(ctx, token)
	if err != nil {
		// Service tokens arrive as bearer tokens only.
		if bearer && i.service != nil {
			if sc, serr := i.service.Verify(ctx, token); serr == nil {
				return itss.Identity{UserID: sc.UID, Role: itss.Role(sc.Role), Service: true}, nil
			}
		}
		return itss.Identity{}, err
	}
	id := itss.Identity{UserID: c.UID, Role: itss.Role(c.Role)}
	if c.Legacy || id.UserID == 0 {
		// HS256 tokens of the original carry the user_auth id only.
		a, err := i.db.AuthByID(ctx, c.AuthID)
		if err != nil {
			return itss.Identity{}, err
		}
		id.UserID = a.UserID
	}
	if !id.Role.Valid() {
		// The original's tokens carried an empty role; its session role was
		// the user's current_role.
		id.Role = itss.RoleLearner
		if u, err := i.db.UserByID(ctx, id.UserID); err == nil && u.CurrentRole != nil && itss.Role(*u.CurrentRole).Valid() {
			id.Role = itss.Role(*u.CurrentRole)
		}
	}
	return id, nil
}
