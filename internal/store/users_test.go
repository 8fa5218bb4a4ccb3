package store_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/store/storetest"
)

func TestCreateFormUserIsReadBackByEveryLookup(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		u, a, err := db.CreateFormUser(ctx, "Alice 😀 Ünïcode", "author,learner", "alice@its.com", "$pbkdf2-sha512$25000$c2FsdA$aGFzaA", ptr("author"))
		must(t, err)
		if u.ID == 0 || a.ID == 0 || a.UserID != u.ID {
			t.Fatalf("ids not set: user %+v auth %+v", u, a)
		}
		got, err := db.UserByID(ctx, u.ID)
		must(t, err)
		if got.Name != "Alice 😀 Ünïcode" || got.Roles != "author,learner" || got.Picture != nil || got.CurrentRole == nil || *got.CurrentRole != "author" {
			t.Fatalf("UserByID = %+v", got)
		}
		for name, lookup := range map[string]func() (itss.UserAuth, error){
			"by email":            func() (itss.UserAuth, error) { return db.AuthByEmail(ctx, "alice@its.com") },
			"by email other case": func() (itss.UserAuth, error) { return db.AuthByEmail(ctx, "ALICE@its.com") },
			"by id":               func() (itss.UserAuth, error) { return db.AuthByID(ctx, a.ID) },
			"by user id":          func() (itss.UserAuth, error) { return db.AuthByUserID(ctx, u.ID) },
		} {
			got, err := lookup()
			if err != nil || got != a {
				t.Fatalf("%s = %+v, %v; want %+v", name, got, err, a)
			}
		}
	})
}

func TestUserLookupsOfMissingRowsAreNotFound(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		_, err := db.UserByID(ctx, 999)
		wantCode(t, err, itss.CodeNotFound)
		_, err = db.AuthByEmail(ctx, "nobody@its.com")
		wantCode(t, err, itss.CodeNotFound)
		_, err = db.AuthByID(ctx, 999)
		wantCode(t, err, itss.CodeNotFound)
		_, err = db.AuthByUserID(ctx, 999)
		wantCode(t, err, itss.CodeNotFound)
		_, err = db.OAuthByGoogleID(ctx, "123")
		wantCode(t, err, itss.CodeNotFound)
		_, err = db.OAuthByUserID(ctx, 999)
		wantCode(t, err, itss.CodeNotFound)
	})
}

func TestCreateFormUserWithTakenEmailIsConflictAndLeavesNoUser(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		_, _, err := db.CreateFormUser(ctx, "Alice", "author", "alice@its.com", "h", nil)
		must(t, err)
		_, _, err = db.CreateFormUser(ctx, "Mallory", "learner", "Alice@its.com", "h", nil)
		wantCode(t, err, itss.CodeConflict)
		if msg := itss.ErrorMessage(err); msg != "Email already registered" {
			t.Fatalf("message = %q", msg)
		}
		users, err := db.ListUsers(ctx)
		must(t, err)
		if len(users) != 1 || users[0].Name != "Alice" {
			t.Fatalf("users after failed create = %+v, want only Alice", users)
		}
	})
}

func TestCreateGoogleUserAndConflicts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		pic := ptr("https://lh3.googleusercontent.com/a/x")
		u, err := db.CreateGoogleUser(ctx, "Gina", pic, "learner", "109876543210987654321", "gina@gmail.com")
		must(t, err)
		got, err := db.UserByID(ctx, u.ID)
		must(t, err)
		if got.Name != "Gina" || got.Picture == nil || *got.Picture != *pic || got.CurrentRole != nil {
			t.Fatalf("UserByID = %+v", got)
		}
		o, err := db.OAuthByGoogleID(ctx, "109876543210987654321")
		must(t, err)
		if o.UserID != u.ID || o.Email == nil || *o.Email != "gina@gmail.com" {
			t.Fatalf("OAuthByGoogleID = %+v", o)
		}
		o2, err := db.OAuthByUserID(ctx, u.ID)
		must(t, err)
		if o2.GoogleID != o.GoogleID {
			t.Fatalf("OAuthByUserID = %+v", o2)
		}
		_, err = db.CreateGoogleUser(ctx, "Gina again", nil, "learner", "109876543210987654321", "other@gmail.com")
		wantCode(t, err, itss.CodeConflict)
		_, err = db.CreateGoogleUser(ctx, "Gina twin", nil, "learner", "222", "gina@gmail.com")
		wantCode(t, err, itss.CodeConflict)
		users, err := db.ListUsers(ctx)
		must(t, err)
		if len(users) != 1 {
			t.Fatalf("failed creations left users behind: %+v", users)
		}
	})
}

func TestUpdateGoogleProfileChangesUserAndLoginTogether(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		u, err := db.CreateGoogleUser(ctx, "Gina", nil, "learner", "111", "gina@gmail.com")
		must(t, err)
		must(t, db.UpdateGoogleProfile(ctx, u.ID, "Gina G.", ptr("https://pic/2"), "gina.g@gmail.com"))
		got, _ := db.UserByID(ctx, u.ID)
		o, _ := db.OAuthByUserID(ctx, u.ID)
		if got.Name != "Gina G." || *got.Picture != "https://pic/2" || *o.Email != "gina.g@gmail.com" {
			t.Fatalf("after update: %+v %+v", got, o)
		}
		// The same values again still match the row.
		must(t, db.UpdateGoogleProfile(ctx, u.ID, "Gina G.", ptr("https://pic/2"), "gina.g@gmail.com"))

		// A user without a Google login: not found, and the name change
		// made before that was discovered is rolled back.
		form := mustAuthor(t, db, "Fiona")
		err = db.UpdateGoogleProfile(ctx, form.ID, "Hijacked", nil, "x@gmail.com")
		wantCode(t, err, itss.CodeNotFound)
		if got, _ := db.UserByID(ctx, form.ID); got.Name != "Fiona" {
			t.Fatalf("name = %q after failed update, want Fiona", got.Name)
		}
		wantCode(t, db.UpdateGoogleProfile(ctx, 999, "X", nil, "x@gmail.com"), itss.CodeNotFound)
	})
}

func TestSettersUpdateOneFieldAndReportMissingRows(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		u, a, err := db.CreateFormUser(ctx, "Lena", "learner", "lena@its.com", "old", nil)
		must(t, err)
		must(t, db.SetCurrentRole(ctx, u.ID, "learner"))
		must(t, db.SetCurrentRole(ctx, u.ID, "learner")) // unchanged value still succeeds
		must(t, db.SetRoles(ctx, u.ID, "author,learner"))
		must(t, db.SetPassword(ctx, a.ID, "$argon2id$new"))
		got, _ := db.UserByID(ctx, u.ID)
		if *got.CurrentRole != "learner" || got.Roles != "author,learner" {
			t.Fatalf("user = %+v", got)
		}
		if got, _ := db.AuthByID(ctx, a.ID); got.Password != "$argon2id$new" {
			t.Fatalf("password = %q", got.Password)
		}
		wantCode(t, db.SetCurrentRole(ctx, 999, "author"), itss.CodeNotFound)
		wantCode(t, db.SetRoles(ctx, 999, "author"), itss.CodeNotFound)
		wantCode(t, db.SetPassword(ctx, 999, "x"), itss.CodeNotFound)
	})
}

func TestListUsersReportsLoginTypesAndEmails(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		form, _, err := db.CreateFormUser(ctx, "Form", "author", "form@its.com", "h", nil)
		must(t, err)
		google, err := db.CreateGoogleUser(ctx, "Google", nil, "learner", "333", "g@gmail.com")
		must(t, err)
		guest, _, err := db.CreateFormUser(ctx, "Guest", "guest,learner", "guest-1@guest.local", "h", nil)
		must(t, err)
		users, err := db.ListUsers(ctx)
		must(t, err)
		want := []struct {
			id    int64
			login string
			email string
		}{{form.ID, store.LoginForm, "form@its.com"}, {google.ID, store.LoginGoogle, "g@gmail.com"}, {guest.ID, store.LoginGuest, "guest-1@guest.local"}}
		if len(users) != len(want) {
			t.Fatalf("got %d users, want %d", len(users), len(want))
		}
		for i, w := range want {
			u := users[i]
			if u.ID != w.id || u.LoginType != w.login || u.Email == nil || *u.Email != w.email {
				t.Fatalf("users[%d] = %+v (email %v), want %+v", i, u, u.Email, w)
			}
		}
	})
}

func TestEnsureFormUserCreatesOnceEvenConcurrently(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		var created atomic.Int32
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				ok, err := db.EnsureFormUser(ctx, "Both Test", "author,learner", "test@its.com", "h")
				if err != nil {
					t.Error(err)
				}
				if ok {
					created.Add(1)
				}
			})
		}
		wg.Wait()
		if n := created.Load(); n != 1 {
			t.Fatalf("created %d times, want 1", n)
		}
		ok, err := db.EnsureFormUser(ctx, "Both Test", "author,learner", "test@its.com", "h")
		if ok || err != nil {
			t.Fatalf("second EnsureFormUser = %v, %v; want false, nil", ok, err)
		}
		if users, _ := db.ListUsers(ctx); len(users) != 1 {
			t.Fatalf("users = %+v", users)
		}
	})
}
