package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/itss-go/itss/internal/security"
	"github.com/itss-go/itss/internal/validate"
)

func init() {
	register("user list", "list users with their roles and login type", userList)
	register("user create", "create a form-login user", userCreate)
	register("user set-password", "set a form-login user's password", userSetPassword)
	register("user set-roles", "set a user's roles (author, learner or author,learner)", userSetRoles)
}

func userList(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("user list", "List every user: id, name, roles, login type and e-mail.", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	_, db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	users, err := db.ListUsers(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLES\tLOGIN\tEMAIL")
	for _, u := range users {
		email := "-"
		if u.Email != nil {
			email = *u.Email
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", u.ID, u.Name, u.Roles, u.LoginType, email)
	}
	return tw.Flush()
}

// parseRoles accepts the registration forms: author, learner, both or a comma list.
func parseRoles(s string) (string, error) {
	if r, ok := validate.Roles(s); ok {
		return r, nil
	}
	return "", fmt.Errorf("%w: roles must be author, learner or author,learner", errUsage)
}

func userCreate(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("user create", "Create a user who logs in with e-mail and password.", "--email E --name N --roles R --password P")
	email := fs.String("email", "", "login e-mail (required)")
	name := fs.String("name", "", "display name (required)")
	roles := fs.String("roles", "learner", "author, learner or author,learner")
	password := fs.String("password", "", "password (required; the registration policy is not enforced here)")
	if err := parse(fs, args); err != nil {
		return err
	}
	addr, ok := validate.Email(*email)
	if !ok || strings.TrimSpace(*name) == "" || *password == "" {
		return fmt.Errorf("%w: --email (valid), --name and --password are required", errUsage)
	}
	r, err := parseRoles(*roles)
	if err != nil {
		return err
	}
	_, db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	hash, err := hashPassword(ctx, *password)
	if err != nil {
		return err
	}
	user, _, err := db.CreateFormUser(ctx, strings.TrimSpace(*name), r, addr, hash, nil)
	if err != nil {
		return fmt.Errorf("create %s: %w", addr, err)
	}
	fmt.Fprintf(out, "created user %d %s (%s)\n", user.ID, addr, r)
	return nil
}

func userSetPassword(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("user set-password", "Set the password of the form-login user with this e-mail.", "--email E --password P")
	email := fs.String("email", "", "login e-mail (required)")
	password := fs.String("password", "", "new password (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	addr, ok := validate.Email(*email)
	if !ok || *password == "" {
		return fmt.Errorf("%w: --email and --password are required", errUsage)
	}
	_, db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	auth, err := db.AuthByEmail(ctx, addr)
	if err != nil {
		return fmt.Errorf("find %s: %w", addr, err)
	}
	hash, err := hashPassword(ctx, *password)
	if err != nil {
		return err
	}
	if err := db.SetPassword(ctx, auth.ID, hash); err != nil {
		return err
	}
	fmt.Fprintf(out, "password of %s updated\n", addr)
	return nil
}

func userSetRoles(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("user set-roles", "Set the roles of a user, by id.", "--id N --roles R")
	id := fs.String("id", "", "user id (required)")
	roles := fs.String("roles", "", "author, learner or author,learner (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	uid, err := strconv.ParseInt(*id, 10, 64)
	if err != nil || uid < 1 {
		return fmt.Errorf("%w: --id must be a positive user id", errUsage)
	}
	r, err := parseRoles(*roles)
	if err != nil {
		return err
	}
	_, db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	user, err := db.UserByID(ctx, uid)
	if err != nil {
		return fmt.Errorf("find user %d: %w", uid, err)
	}
	if user.IsGuest() {
		r = "guest," + r
	}
	if err := db.SetRoles(ctx, uid, r); err != nil {
		return err
	}
	fmt.Fprintf(out, "roles of user %d set to %s\n", uid, r)
	return nil
}

// hashPassword hashes with the services' argon2id parameters.
func hashPassword(ctx context.Context, password string) (string, error) {
	return security.NewHasher(security.DefaultArgon2Params(), runtime.NumCPU()).Hash(ctx, password)
}
