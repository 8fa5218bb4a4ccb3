package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/itss-go/itss/internal/itss"
)

// Column lists. Columns that the original schema left nullable but the
// domain types hold as plain values are read through COALESCE, so that an
// odd legacy row reads as a zero value instead of failing the whole query.
const (
	userColumns  = "u.`id`, u.`name`, u.`picture`, u.`roles`, u.`current_role`"
	authColumns  = "a.`id`, a.`email`, a.`password`, COALESCE(a.`user_id`, 0) AS `user_id`"
	oauthColumns = "o.`google_id`, o.`email`, COALESCE(o.`user_id`, 0) AS `user_id`"
)

// Login types reported by ListUsers.
const (
	LoginGuest  = "guest"
	LoginForm   = "form"
	LoginGoogle = "google"
	LoginNone   = "none" // neither an e-mail nor a Google login
)

// UserRow is a user with the e-mail of their login, for user administration.
type UserRow struct {
	itss.User
	Email     *string // form e-mail, else Google e-mail, else nil
	LoginType string  // LoginGuest, LoginForm, LoginGoogle or LoginNone
}

// UserByID returns the user; CodeNotFound if there is none.
func (db *DB) UserByID(ctx context.Context, id int64) (itss.User, error) {
	var u itss.User
	err := sqlx.GetContext(ctx, db.q, &u, "SELECT "+userColumns+" FROM `user` u WHERE u.`id` = ?", id)
	return u, rowErr(err, "User not found", fmt.Sprintf("load user %d", id))
}

// AuthByEmail returns the e-mail login. E-mails compare case-insensitively on
// both dialects; callers still pass them normalised.
func (db *DB) AuthByEmail(ctx context.Context, email string) (itss.UserAuth, error) {
	return db.auth(ctx, "a.`email` = ?", email)
}

// AuthByID returns the e-mail login with that user_auth id.
func (db *DB) AuthByID(ctx context.Context, id int64) (itss.UserAuth, error) {
	return db.auth(ctx, "a.`id` = ?", id)
}

// AuthByUserID returns the user's e-mail login.
func (db *DB) AuthByUserID(ctx context.Context, userID int64) (itss.UserAuth, error) {
	return db.auth(ctx, "a.`user_id` = ?", userID)
}

func (db *DB) auth(ctx context.Context, where string, arg any) (itss.UserAuth, error) {
	var a itss.UserAuth
	err := sqlx.GetContext(ctx, db.q, &a, "SELECT "+authColumns+" FROM `user_auth` a WHERE "+where, arg)
	return a, rowErr(err, "Login not found", "load e-mail login")
}

// OAuthByGoogleID returns the Google login with that subject.
func (db *DB) OAuthByGoogleID(ctx context.Context, gid string) (itss.UserOAuth, error) {
	return db.oauth(ctx, "o.`google_id` = ?", gid)
}

// OAuthByUserID returns the user's Google login.
func (db *DB) OAuthByUserID(ctx context.Context, userID int64) (itss.UserOAuth, error) {
	return db.oauth(ctx, "o.`user_id` = ?", userID)
}

func (db *DB) oauth(ctx context.Context, where string, arg any) (itss.UserOAuth, error) {
	var o itss.UserOAuth
	err := sqlx.GetContext(ctx, db.q, &o, "SELECT "+oauthColumns+" FROM `user_oauth` o WHERE "+where, arg)
	return o, rowErr(err, "Login not found", "load Google login")
}

// CreateFormUser creates a user and their e-mail login in one transaction.
// An e-mail already taken is CodeConflict, and leaves no user behind.
func (db *DB) CreateFormUser(ctx context.Context, name, roles, email, hash string, currentRole *string) (itss.User, itss.UserAuth, error) {
	u := itss.User{Name: name, Roles: roles, CurrentRole: currentRole}
	a := itss.UserAuth{Email: email, Password: hash}
	err := db.withTx(ctx, func(tx *DB) error {
		id, err := tx.insertUser(ctx, u)
		if err != nil {
			return err
		}
		u.ID, a.UserID = id, id
		res, err := tx.q.ExecContext(ctx,
			"INSERT INTO `user_auth` (`email`, `password`, `user_id`) VALUES (?, ?, ?)", email, hash, id)
		if err != nil {
			return conflict(dbErr(err, "create e-mail login"), "Email already registered")
		}
		a.ID, err = res.LastInsertId()
		return dbErr(err, "create e-mail login")
	})
	if err != nil {
		return itss.User{}, itss.UserAuth{}, err
	}
	return u, a, nil
}

// CreateGoogleUser creates a user and their Google login in one transaction;
// a Google subject or e-mail already linked is CodeConflict.
func (db *DB) CreateGoogleUser(ctx context.Context, name string, picture *string, roles, googleID, email string) (itss.User, error) {
	u := itss.User{Name: name, Picture: picture, Roles: roles}
	err := db.withTx(ctx, func(tx *DB) error {
		id, err := tx.insertUser(ctx, u)
		if err != nil {
			return err
		}
		u.ID = id
		_, err = tx.q.ExecContext(ctx,
			"INSERT INTO `user_oauth` (`google_id`, `email`, `user_id`) VALUES (?, ?, ?)", googleID, email, id)
		return conflict(dbErr(err, "create Google login"), "Google account already registered")
	})
	if err != nil {
		return itss.User{}, err
	}
	return u, nil
}

func (db *DB) insertUser(ctx context.Context, u itss.User) (int64, error) {
	res, err := db.q.ExecContext(ctx,
		"INSERT INTO `user` (`name`, `picture`, `roles`, `current_role`) VALUES (?, ?, ?, ?)",
		u.Name, u.Picture, u.Roles, u.CurrentRole)
	if err != nil {
		return 0, dbErr(err, "create user")
	}
	id, err := res.LastInsertId()
	return id, dbErr(err, "create user")
}

// EnsureFormUser creates a user with an e-mail login unless that e-mail is
// already registered, for seeding; created reports which happened. It is safe
// to run from several processes at once.
func (db *DB) EnsureFormUser(ctx context.Context, name, roles, email, hash string) (created bool, err error) {
	_, err = db.AuthByEmail(ctx, email)
	if err == nil {
		return false, nil
	}
	if !itss.IsCode(err, itss.CodeNotFound) {
		return false, err
	}
	_, _, err = db.CreateFormUser(ctx, name, roles, email, hash, nil)
	if itss.IsCode(err, itss.CodeConflict) {
		return false, nil // another process seeded it first
	}
	return err == nil, err
}

// UpdateGoogleProfile stores the name, picture and e-mail Google reported at
// login; CodeNotFound if the user has no Google login.
func (db *DB) UpdateGoogleProfile(ctx context.Context, userID int64, name string, picture *string, email string) error {
	return db.withTx(ctx, func(tx *DB) error {
		res, err := tx.q.ExecContext(ctx, "UPDATE `user` SET `name` = ?, `picture` = ? WHERE `id` = ?", name, picture, userID)
		if err := affected(res, err, "User not found", "update Google profile"); err != nil {
			return err
		}
		res, err = tx.q.ExecContext(ctx, "UPDATE `user_oauth` SET `email` = ? WHERE `user_id` = ?", email, userID)
		return affected(res, err, "Login not found", "update Google profile")
	})
}

// SetCurrentRole records the role chosen at the user's last login.
func (db *DB) SetCurrentRole(ctx context.Context, userID int64, role string) error {
	res, err := db.q.ExecContext(ctx, "UPDATE `user` SET `current_role` = ? WHERE `id` = ?", role, userID)
	return affected(res, err, "User not found", "set current role")
}

// SetPassword replaces the password hash of an e-mail login.
func (db *DB) SetPassword(ctx context.Context, authID int64, hash string) error {
	res, err := db.q.ExecContext(ctx, "UPDATE `user_auth` SET `password` = ? WHERE `id` = ?", hash, authID)
	return affected(res, err, "Login not found", "set password")
}

// SetRoles replaces the user's comma-separated roles.
func (db *DB) SetRoles(ctx context.Context, userID int64, roles string) error {
	res, err := db.q.ExecContext(ctx, "UPDATE `user` SET `roles` = ? WHERE `id` = ?", roles, userID)
	return affected(res, err, "User not found", "set roles")
}

// ListUsers returns every user with their login, by id.
func (db *DB) ListUsers(ctx context.Context) ([]UserRow, error) {
	var rows []struct {
		itss.User
		AuthEmail  *string `db:"auth_email"`
		OAuthEmail *string `db:"oauth_email"`
		AuthID     *int64  `db:"auth_id"`
		GoogleID   *string `db:"google_id"`
	}
	err := sqlx.SelectContext(ctx, db.q, &rows, "SELECT "+userColumns+
		", a.`id` AS `auth_id`, a.`email` AS `auth_email`, o.`google_id`, o.`email` AS `oauth_email`"+
		" FROM `user` u"+
		" LEFT JOIN `user_auth` a ON a.`user_id` = u.`id`"+
		" LEFT JOIN `user_oauth` o ON o.`user_id` = u.`id`"+
		" ORDER BY u.`id`")
	if err != nil {
		return nil, dbErr(err, "list users")
	}
	out := make([]UserRow, len(rows))
	for i, r := range rows {
		row := UserRow{User: r.User, LoginType: LoginNone}
		switch {
		case r.User.IsGuest():
			row.LoginType = LoginGuest
		case r.AuthID != nil:
			row.LoginType = LoginForm
		case r.GoogleID != nil:
			row.LoginType = LoginGoogle
		}
		row.Email = r.AuthEmail
		if row.Email == nil {
			row.Email = r.OAuthEmail
		}
		out[i] = row
	}
	return out, nil
}

// conflict replaces the generic message of a CodeConflict error with one that
// names what clashed; other errors pass through.
func conflict(err error, msg string) error {
	var ae *itss.Error
	if errors.As(err, &ae) && ae.Code == itss.CodeConflict {
		return &itss.Error{Code: ae.Code, Message: msg, Err: ae.Err}
	}
	return err
}
