package itss

import (
	"slices"
	"strings"
	"time"
)

// Role is the role a session acts in. Users hold a comma-separated list of
// roles in user.roles ("author", "learner", "author,learner", "guest,author",
// "guest,learner"); a session picks one of author or learner at login.
type Role string

const (
	RoleAuthor  Role = "author"
	RoleLearner Role = "learner"
)

// Valid reports whether r is a role a session can act in.
func (r Role) Valid() bool { return r == RoleAuthor || r == RoleLearner }

// User is a row of the user table.
type User struct {
	ID          int64   `db:"id"`
	Name        string  `db:"name"`
	Picture     *string `db:"picture"`
	Roles       string  `db:"roles"`
	CurrentRole *string `db:"current_role"`
}

// RoleList splits the stored roles string.
func (u User) RoleList() []string {
	var out []string
	for _, r := range strings.Split(u.Roles, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// HasRole reports whether the user holds role r.
func (u User) HasRole(r string) bool { return slices.Contains(u.RoleList(), r) }

// IsGuest reports whether the user is a guest account.
func (u User) IsGuest() bool { return u.HasRole("guest") }

// UserAuth is a row of user_auth: an e-mail and password login.
type UserAuth struct {
	ID       int64  `db:"id"`
	Email    string `db:"email"`
	Password string `db:"password"`
	UserID   int64  `db:"user_id"`
}

// UserOAuth is a row of user_oauth: a Google login.
type UserOAuth struct {
	GoogleID string  `db:"google_id"`
	Email    *string `db:"email"`
	UserID   int64   `db:"user_id"`
}

// Tutorial is a row of tutorial. Sequence is the stored text of the ordered
// list of section ids (JSON; legacy rows may hold a Python list repr).
type Tutorial struct {
	ID          string     `db:"id"`
	Name        string     `db:"name"`
	Language    string     `db:"language"`
	Sequence    *string    `db:"sequence"`
	UserID      int64      `db:"userid"`
	StartDate   *time.Time `db:"start_date"`
	EndDate     *time.Time `db:"end_date"`
	Description *string    `db:"description"`
}

// Published reports whether the tutorial's publication window is open at now:
// start < now and (end is null or end > now).
func (t Tutorial) Published(now time.Time) bool {
	return t.StartDate != nil && t.StartDate.Before(now) && (t.EndDate == nil || t.EndDate.After(now))
}

// Section is a row of tutorial_section.
type Section struct {
	ID           string  `db:"id"`
	Name         string  `db:"name"`
	TutorialType string  `db:"tutorial_type"`
	CodeInput    *string `db:"code_input"`
	Language     *string `db:"language"`
	FrequentWord *string `db:"frequent_word"`
	Duration     *int64  `db:"duration"`
	TutorialID   string  `db:"tutorial_id"`
}

// Section types.
const (
	SectionCode     = "Code"
	SectionQuestion = "Question"
)

// Progress is a row of user_tutorial_state.
type Progress struct {
	UserID     int64  `db:"user_id"`
	TutorialID string `db:"tutorial_id"`
	LastPage   int    `db:"last_page"`
}

// Identity is who is acting in a request, taken from a verified token or
// session cookie. A zero Identity (UserID 0) means anonymous.
type Identity struct {
	UserID int64
	Role   Role
	// Service is set for service-to-service tokens (the auth service asking
	// the tutorial service to copy the sample tutorial); UserID is then the
	// user the call is made for.
	Service bool
}

// Anonymous reports whether no identity is present.
func (id Identity) Anonymous() bool { return id.UserID == 0 && !id.Service }
