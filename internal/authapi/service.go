// Package authapi is the auth service: registration, logins (form, guest,
// Google), token refresh and the session's identity. Business rules live in
// Service so tests can call them without HTTP; handlers only translate.
package authapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/itss-go/itss/internal/httpapi"
	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/security"
	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/validate"
)

// Token lifetimes of API.md A4.
const (
	accessTTL  = 24 * time.Hour
	serviceTTL = 60 * time.Second
)

// Messages of the original system that the frontend shows verbatim.
const (
	msgAllFields       = "All fields are required."
	msgInvalidEmail    = "Invalid Email."
	msgInvalidPassword = "Invalid Password."
	msgMismatch        = "Password mismatch."
	msgBadRegisterRole = "Please select a different role."
	msgAlreadyExists   = "Account already registered. Please Login."
	msgRegistered      = "Registration successful. Redirecting to Login."
	msgBadCredentials  = "The username and/or password are incorrect"
	msgRoleNotAllowed  = "Incorrect email and/or password for the selected role."
	msgIncorrectRole   = "Incorrect role."
	msgNotPermitted    = "Account not permitted"
	msgTokenExpired    = "Token Expired"
)

// Service holds the auth rules.
type Service struct {
	DB      *store.DB
	Hasher  *security.Hasher
	Signer  *security.Signer
	Access  *security.Verifier       // verifies this service's access tokens (and legacy ones when allowed)
	Google  *security.GoogleVerifier // nil when Google sign-in is not configured
	Backoff *Backoff
	Log     *slog.Logger
	// LegacySecret, when set, lets HS256 tokens of the original system be
	// verified and refreshed into EdDSA tokens during a cut-over.
	LegacySecret []byte
	// TutorialURL is where the sample copy for guest authors is requested.
	TutorialURL string
	HTTPClient  *http.Client
}

// Session is the outcome of a successful login.
type Session struct {
	Token  string
	Role   itss.Role
	UserID int64
}

// RegisterInput is the body of POST /auth/register in both API families.
type RegisterInput struct {
	Name       string
	Email      string
	Password   string
	RePassword *string // nil in the README family, which has no repassword
	Role       string  // "author", "learner", "both" or "author,learner"
}

// Register creates a form account, checking in the original's order so the
// same input gets the same message.
func (s *Service) Register(ctx context.Context, in RegisterInput) error {
	if in.Name == "" || in.Email == "" || in.Password == "" || in.Role == "" ||
		(in.RePassword != nil && *in.RePassword == "") {
		return itss.Errorf(itss.CodeInvalid, msgAllFields)
	}
	if err := validate.Text(in.Name, 100); err != nil {
		return itss.Errorf(itss.CodeInvalid, "Invalid name: %s", err)
	}
	if err := validate.Text(in.Email, 254); err != nil {
		return itss.Errorf(itss.CodeInvalid, "Invalid email: %s", err)
	}
	email, ok := validate.Email(in.Email)
	if !ok {
		return itss.Errorf(itss.CodeInvalid, msgInvalidEmail)
	}
	if !validate.Password(in.Password) {
		return itss.Errorf(itss.CodeInvalid, msgInvalidPassword)
	}
	if in.RePassword != nil && *in.RePassword != in.Password {
		return itss.Errorf(itss.CodeInvalid, msgMismatch)
	}
	roles, ok := validate.Roles(in.Role)
	if !ok {
		return itss.Errorf(itss.CodeInvalid, msgBadRegisterRole)
	}
	if _, err := s.DB.AuthByEmail(ctx, email); err == nil {
		return itss.Errorf(itss.CodeInvalid, msgAlreadyExists)
	} else if !itss.IsCode(err, itss.CodeNotFound) {
		return fmt.Errorf("look up e-mail: %w", err)
	}
	hash, err := s.Hasher.Hash(ctx, in.Password)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	user, _, err := s.DB.CreateFormUser(ctx, strings.TrimSpace(in.Name), roles, email, hash, nil)
	if itss.IsCode(err, itss.CodeConflict) {
		return itss.Errorf(itss.CodeInvalid, msgAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	httpapi.Event(ctx, s.Log, "Form Register", "new_user_id", user.ID, "roles", roles)
	return nil
}

// LoginInput is the body of POST /auth/login. Role may be empty in the README
// family: the user's last role, else their first, is used.
type LoginInput struct {
	Email    string
	Password string
	Role     string
	RoleSet  bool // the Part B family always sends role; empty there is an error
}

// Login checks credentials and issues an access token for the chosen role.
// Unknown e-mail and wrong password cost the same and answer the same.
func (s *Service) Login(ctx context.Context, in LoginInput) (Session, error) {
	if in.Email == "" || in.Password == "" || (in.RoleSet && in.Role == "") {
		return Session{}, itss.Errorf(itss.CodeInvalid, msgAllFields)
	}
	email, ok := validate.Email(in.Email)
	if !ok {
		return Session{}, itss.Errorf(itss.CodeInvalid, msgInvalidEmail)
	}
	var role itss.Role
	if in.Role != "" {
		if role, ok = validate.Role(in.Role); !ok {
			return Session{}, itss.Errorf(itss.CodeInvalid, msgRoleNotAllowed)
		}
	}
	if wait, err := s.Backoff.Check(ctx, email); err != nil {
		return Session{}, err
	} else if wait > 0 {
		return Session{}, &RetryError{After: wait}
	}

	auth, err := s.DB.AuthByEmail(ctx, email)
	if itss.IsCode(err, itss.CodeNotFound) {
		s.Hasher.VerifyDummy(ctx, in.Password)
		s.Backoff.Fail(ctx, email)
		return Session{}, itss.Errorf(itss.CodeUnauthorized, msgBadCredentials)
	}
	if err != nil {
		return Session{}, fmt.Errorf("look up e-mail: %w", err)
	}
	ok, rehash, err := s.Hasher.Verify(ctx, in.Password, auth.Password)
	if err != nil || !ok {
		if err != nil {
			s.Log.WarnContext(ctx, "password hash unreadable", "user_auth_id", auth.ID, "err", err)
		}
		s.Backoff.Fail(ctx, email)
		return Session{}, itss.Errorf(itss.CodeUnauthorized, msgBadCredentials)
	}
	user, err := s.DB.UserByID(ctx, auth.UserID)
	if err != nil {
		return Session{}, fmt.Errorf("load user %d: %w", auth.UserID, err)
	}
	if role == "" {
		role = defaultRole(user)
	}
	if !user.HasRole(string(role)) {
		return Session{}, itss.Errorf(itss.CodeInvalid, msgRoleNotAllowed)
	}
	if rehash {
		s.upgradeHash(ctx, auth.ID, in.Password)
	}
	s.Backoff.Reset(ctx, email)
	sess, err := s.startSession(ctx, user.ID, auth.ID, role)
	if err == nil {
		httpapi.Event(itss.WithIdentity(ctx, itss.Identity{UserID: user.ID, Role: role}), s.Log, "Form Login")
	}
	return sess, err
}

// upgradeHash rewrites a legacy pbkdf2 hash as argon2id; a failure only
// postpones the upgrade to the next login.
func (s *Service) upgradeHash(ctx context.Context, authID int64, password string) {
	hash, err := s.Hasher.Hash(ctx, password)
	if err == nil {
		err = s.DB.SetPassword(ctx, authID, hash)
	}
	if err != nil {
		s.Log.WarnContext(ctx, "password hash upgrade failed", "user_auth_id", authID, "err", err)
		return
	}
	s.Log.InfoContext(ctx, "password hash upgraded to argon2id", "user_auth_id", authID)
}

// defaultRole is the user's last role, else their first author/learner role.
func defaultRole(u itss.User) itss.Role {
	if u.CurrentRole != nil {
		if r := itss.Role(*u.CurrentRole); r.Valid() && u.HasRole(string(r)) {
			return r
		}
	}
	for _, r := range u.RoleList() {
		if itss.Role(r).Valid() {
			return itss.Role(r)
		}
	}
	return ""
}

// startSession records the role for compatibility (the original's progress
// tracking reads user.current_role) and issues the token.
func (s *Service) startSession(ctx context.Context, userID, authID int64, role itss.Role) (Session, error) {
	if err := s.DB.SetCurrentRole(ctx, userID, string(role)); err != nil {
		return Session{}, fmt.Errorf("set current role: %w", err)
	}
	tok, err := s.Signer.Issue(userID, authID, string(role), security.AudienceAPI, accessTTL)
	if err != nil {
		return Session{}, fmt.Errorf("issue token: %w", err)
	}
	return Session{Token: tok, Role: role, UserID: userID}, nil
}

// GuestLogin creates a fresh guest account; guest authors also get a copy of
// the sample tutorial, which never fails the login.
func (s *Service) GuestLogin(ctx context.Context, roleText string) (Session, error) {
	role, ok := validate.Role(roleText)
	if !ok {
		return Session{}, itss.Errorf(itss.CodeInvalid, msgIncorrectRole)
	}
	// The account is unusable for form login: its e-mail has no "@" and its
	// password is random and forgotten at once.
	email, secret := randomHex(16), randomHex(16)
	hash, err := s.Hasher.Hash(ctx, secret)
	if err != nil {
		return Session{}, fmt.Errorf("hash guest secret: %w", err)
	}
	current := string(role)
	user, auth, err := s.DB.CreateFormUser(ctx, "Guest", "guest,"+string(role), email, hash, &current)
	if err != nil {
		return Session{}, fmt.Errorf("create guest: %w", err)
	}
	sess, err := s.startSession(ctx, user.ID, auth.ID, role)
	if err != nil {
		return Session{}, err
	}
	ctx = itss.WithIdentity(ctx, itss.Identity{UserID: user.ID, Role: role})
	httpapi.Event(ctx, s.Log, "Guest Login")
	if role == itss.RoleAuthor {
		s.requestSampleCopy(ctx, user.ID)
	}
	return sess, nil
}

// requestSampleCopy asks the tutorial service for the guest's copy of the
// sample tutorial with a short-lived service token and a 5 s budget.
func (s *Service) requestSampleCopy(ctx context.Context, userID int64) {
	err := func() error {
		tok, err := s.Signer.Issue(userID, 0, string(itss.RoleAuthor), security.AudienceService, serviceTTL)
		if err != nil {
			return fmt.Errorf("issue service token: %w", err)
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		body, _ := json.Marshal(map[string]int64{"userid": userID})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.TutorialURL+"/tutorial/createsample", bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("build request: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		if rid := itss.RequestIDFrom(ctx); rid != "" {
			req.Header.Set("X-Request-ID", rid)
		}
		resp, err := s.HTTPClient.Do(req)
		if err != nil {
			return fmt.Errorf("call tutorial service: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("tutorial service answered %s", resp.Status)
		}
		return nil
	}()
	if err != nil {
		s.Log.WarnContext(ctx, "sample tutorial copy for guest author failed", "user_id", userID, "err", err)
		return
	}
	s.Log.InfoContext(ctx, "sample tutorial copied for guest author", "user_id", userID)
}

// GoogleRegister creates an account from a verified Google ID token.
func (s *Service) GoogleRegister(ctx context.Context, rawToken, roleText string) error {
	roles, ok := validate.Roles(roleText)
	if !ok {
		return itss.Errorf(itss.CodeInvalid, msgBadRegisterRole)
	}
	gid, err := s.verifyGoogle(ctx, rawToken)
	if err != nil {
		return err
	}
	if _, err := s.DB.OAuthByGoogleID(ctx, gid.Subject); err == nil {
		return itss.Errorf(itss.CodeInvalid, msgAlreadyExists)
	} else if !itss.IsCode(err, itss.CodeNotFound) {
		return fmt.Errorf("look up google account: %w", err)
	}
	user, err := s.DB.CreateGoogleUser(ctx, googleName(gid), optional(gid.Picture), roles, gid.Subject, strings.ToLower(gid.Email))
	if itss.IsCode(err, itss.CodeConflict) {
		return itss.Errorf(itss.CodeInvalid, msgAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("create google user: %w", err)
	}
	httpapi.Event(ctx, s.Log, "Google Register", "new_user_id", user.ID, "roles", roles)
	return nil
}

// GoogleLogin verifies a Google ID token and issues an app token (not the
// Google token itself, so refresh works and sessions last 24 h).
func (s *Service) GoogleLogin(ctx context.Context, rawToken, roleText string) (Session, error) {
	role, ok := validate.Role(roleText)
	if !ok {
		return Session{}, itss.Errorf(itss.CodeForbidden, msgNotPermitted)
	}
	gid, err := s.verifyGoogle(ctx, rawToken)
	if err != nil {
		return Session{}, err
	}
	link, err := s.DB.OAuthByGoogleID(ctx, gid.Subject)
	if itss.IsCode(err, itss.CodeNotFound) {
		return Session{}, itss.Errorf(itss.CodeForbidden, msgNotPermitted)
	}
	if err != nil {
		return Session{}, fmt.Errorf("look up google account: %w", err)
	}
	user, err := s.DB.UserByID(ctx, link.UserID)
	if err != nil {
		return Session{}, fmt.Errorf("load user %d: %w", link.UserID, err)
	}
	if !user.HasRole(string(role)) {
		return Session{}, itss.Errorf(itss.CodeForbidden, msgNotPermitted)
	}
	if err := s.DB.UpdateGoogleProfile(ctx, user.ID, googleName(gid), optional(gid.Picture), strings.ToLower(gid.Email)); err != nil {
		return Session{}, fmt.Errorf("refresh google profile: %w", err)
	}
	sess, err := s.startSession(ctx, user.ID, 0, role)
	if err == nil {
		httpapi.Event(itss.WithIdentity(ctx, itss.Identity{UserID: user.ID, Role: role}), s.Log, "Google Login")
	}
	return sess, err
}

func (s *Service) verifyGoogle(ctx context.Context, raw string) (security.GoogleIdentity, error) {
	if s.Google == nil {
		return security.GoogleIdentity{}, itss.Errorf(itss.CodeUnavailable, "Google sign-in is not configured")
	}
	if strings.TrimSpace(raw) == "" {
		return security.GoogleIdentity{}, itss.Errorf(itss.CodeInvalid, "Google token is required")
	}
	gid, err := s.Google.Verify(ctx, raw)
	if err != nil {
		var ae *itss.Error
		if errors.As(err, &ae) && ae.Code == itss.CodeUnavailable {
			return security.GoogleIdentity{}, err
		}
		s.Log.InfoContext(ctx, "google token refused", "err", err)
		return security.GoogleIdentity{}, itss.Errorf(itss.CodeUnauthorized, "Invalid Google token")
	}
	return gid, nil
}

func googleName(g security.GoogleIdentity) string {
	if n := strings.TrimSpace(g.Name); n != "" {
		return n
	}
	if i := strings.IndexByte(g.Email, '@'); i > 0 {
		return g.Email[:i]
	}
	return "Google user"
}

// Refresh exchanges a token (expired or not) for a fresh one until rf_exp.
// Like the original, which re-identified the user at every refresh, it
// refuses when the account is gone or no longer holds the token's role:
// the refresh window must not keep a revoked session alive for 30 days.
func (s *Service) Refresh(ctx context.Context, raw string) (Session, error) {
	tok, err := s.Signer.Refresh(raw)
	if err != nil && s.LegacySecret != nil {
		tok, err = s.Signer.RefreshLegacy(ctx, raw, s.LegacySecret, s.legacyUser)
	}
	if err != nil {
		return Session{}, itss.Wrap(itss.CodeUnauthorized, err, msgTokenExpired)
	}
	id, err := s.Identify(ctx, tok)
	if err != nil {
		return Session{}, err
	}
	return Session{Token: tok, Role: id.Role, UserID: id.UserID}, nil
}

// legacyUser maps the user_auth id of a legacy token to the user and the
// role they last chose (legacy tokens carry none).
func (s *Service) legacyUser(ctx context.Context, authID int64) (int64, string, error) {
	auth, err := s.DB.AuthByID(ctx, authID)
	if err != nil {
		return 0, "", err
	}
	user, err := s.DB.UserByID(ctx, auth.UserID)
	if err != nil {
		return 0, "", err
	}
	return user.ID, string(defaultRole(user)), nil
}

// Identify resolves a token to the identity it carries. Legacy HS256 tokens
// name a user_auth row and no role, so both are looked up. The user must
// still exist and hold the token's role. A database failure stays a 5xx: it
// says nothing about the session.
func (s *Service) Identify(ctx context.Context, raw string) (itss.Identity, error) {
	claims, err := s.Access.Verify(ctx, raw)
	if err != nil {
		return itss.Identity{}, itss.Wrap(itss.CodeUnauthorized, err, msgTokenExpired)
	}
	uid, role := claims.UID, itss.Role(claims.Role)
	if claims.Legacy {
		auth, err := s.DB.AuthByID(ctx, claims.AuthID)
		if err != nil {
			return itss.Identity{}, sessionLookupErr(err, "look up legacy token's account")
		}
		uid = auth.UserID
	}
	user, err := s.DB.UserByID(ctx, uid)
	if err != nil {
		return itss.Identity{}, sessionLookupErr(err, "look up token's user")
	}
	if !role.Valid() {
		role = defaultRole(user)
	}
	if !role.Valid() || !user.HasRole(string(role)) {
		return itss.Identity{}, itss.Errorf(itss.CodeUnauthorized, msgTokenExpired)
	}
	return itss.Identity{UserID: user.ID, Role: role}, nil
}

// sessionLookupErr makes a missing account a dead session (401) and leaves
// every other failure to be reported as what it is.
func sessionLookupErr(err error, what string) error {
	if itss.IsCode(err, itss.CodeNotFound) {
		return itss.Wrap(itss.CodeUnauthorized, err, msgTokenExpired)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// UserDetails is the profile shown by the frontend's profile page.
type UserDetails struct {
	Name      string  `json:"name"`
	Email     *string `json:"email,omitempty"`
	Roles     string  `json:"roles"`
	Picture   *string `json:"picture"`
	LoginType string  `json:"loginType"`
	guest     bool
}

// MarshalJSON drops picture for guests, whose original answer had none.
func (d UserDetails) MarshalJSON() ([]byte, error) {
	type plain UserDetails
	if d.guest {
		return json.Marshal(struct {
			Name      string `json:"name"`
			Roles     string `json:"roles"`
			LoginType string `json:"loginType"`
		}{d.Name, d.Roles, d.LoginType})
	}
	return json.Marshal(plain(d))
}

// UserDetails answers for userID. A caller with an identity may only ask
// about themselves (API.md A3).
func (s *Service) UserDetails(ctx context.Context, caller itss.Identity, userID int64) (UserDetails, error) {
	if !caller.Anonymous() && caller.UserID != userID {
		return UserDetails{}, itss.Errorf(itss.CodeForbidden, "You may only view your own profile")
	}
	user, err := s.DB.UserByID(ctx, userID)
	if itss.IsCode(err, itss.CodeNotFound) {
		return UserDetails{}, itss.Errorf(itss.CodeNotFound, "User not found")
	}
	if err != nil {
		return UserDetails{}, fmt.Errorf("load user %d: %w", userID, err)
	}
	if user.IsGuest() {
		var rest []string
		for _, r := range user.RoleList() {
			if r != "guest" {
				rest = append(rest, titleCase(r))
			}
		}
		return UserDetails{Name: user.Name, Roles: strings.Join(rest, ", "), LoginType: "guest", guest: true}, nil
	}
	d := UserDetails{Name: user.Name, Picture: user.Picture, Roles: titleRoles(user)}
	if auth, err := s.DB.AuthByUserID(ctx, user.ID); err == nil {
		d.Email, d.LoginType = &auth.Email, "form"
		return d, nil
	} else if !itss.IsCode(err, itss.CodeNotFound) {
		return UserDetails{}, fmt.Errorf("load form login: %w", err)
	}
	if link, err := s.DB.OAuthByUserID(ctx, user.ID); err == nil {
		d.Email, d.LoginType = link.Email, "google"
		return d, nil
	} else if !itss.IsCode(err, itss.CodeNotFound) {
		return UserDetails{}, fmt.Errorf("load google login: %w", err)
	}
	return UserDetails{}, itss.Errorf(itss.CodeNotFound, "User authentication data not found")
}

func titleRoles(u itss.User) string {
	roles := u.RoleList()
	for i, r := range roles {
		roles[i] = titleCase(r)
	}
	return strings.Join(roles, ", ")
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
