package store_test

import (
	"testing"
	"time"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/store/storetest"
)

// legacyDDL is the schema as Flask-SQLAlchemy 3 created it for the original
// system: MySQL as deployed, and the same models on SQLite.
var legacyDDL = map[string][]string{
	store.MySQL: {
		"CREATE TABLE `user` (`id` INTEGER NOT NULL AUTO_INCREMENT, `name` VARCHAR(320) NOT NULL, `picture` VARCHAR(320), " +
			"`roles` VARCHAR(15) NOT NULL, `current_role` VARCHAR(7), PRIMARY KEY (`id`))",
		"CREATE TABLE `user_auth` (`id` INTEGER NOT NULL AUTO_INCREMENT, `email` VARCHAR(320) NOT NULL, `password` VARCHAR(131) NOT NULL, " +
			"`user_id` INTEGER, PRIMARY KEY (`id`), UNIQUE (`email`), UNIQUE (`user_id`), FOREIGN KEY(`user_id`) REFERENCES `user` (`id`))",
		"CREATE TABLE `user_oauth` (`google_id` VARCHAR(21) NOT NULL, `email` VARCHAR(320), `user_id` INTEGER, PRIMARY KEY (`google_id`), " +
			"UNIQUE (`email`), UNIQUE (`user_id`), FOREIGN KEY(`user_id`) REFERENCES `user` (`id`))",
		"CREATE TABLE `tutorial` (`id` VARCHAR(36) NOT NULL, `name` VARCHAR(320), `language` VARCHAR(100), `sequence` VARCHAR(10000), " +
			"`userid` INTEGER, `start_date` DATETIME, `end_date` DATETIME, PRIMARY KEY (`id`))",
		"CREATE TABLE `tutorial_section` (`id` VARCHAR(36) NOT NULL, `name` VARCHAR(320), `tutorial_type` VARCHAR(320), " +
			"`code_input` VARCHAR(10000), `language` VARCHAR(100), `frequent_word` VARCHAR(1000), `duration` INTEGER, " +
			"`tutorial_id` VARCHAR(36), PRIMARY KEY (`id`), FOREIGN KEY(`tutorial_id`) REFERENCES `tutorial` (`id`))",
		"CREATE TABLE `user_tutorial_state` (`user_id` INTEGER NOT NULL, `tutorial_id` VARCHAR(36) NOT NULL, `last_page` INTEGER DEFAULT 1, " +
			"PRIMARY KEY (`user_id`, `tutorial_id`), FOREIGN KEY(`user_id`) REFERENCES `user` (`id`), " +
			"FOREIGN KEY(`tutorial_id`) REFERENCES `tutorial` (`id`))",
	},
	store.SQLite: {
		"CREATE TABLE `user` (`id` INTEGER NOT NULL, `name` VARCHAR(320) NOT NULL, `picture` VARCHAR(320), " +
			"`roles` VARCHAR(15) NOT NULL, `current_role` VARCHAR(7), PRIMARY KEY (`id`))",
		"CREATE TABLE `user_auth` (`id` INTEGER NOT NULL, `email` VARCHAR(320) NOT NULL, `password` VARCHAR(131) NOT NULL, " +
			"`user_id` INTEGER, PRIMARY KEY (`id`), UNIQUE (`email`), UNIQUE (`user_id`), FOREIGN KEY(`user_id`) REFERENCES `user` (`id`))",
		"CREATE TABLE `user_oauth` (`google_id` VARCHAR(21) NOT NULL, `email` VARCHAR(320), `user_id` INTEGER, PRIMARY KEY (`google_id`), " +
			"UNIQUE (`email`), UNIQUE (`user_id`), FOREIGN KEY(`user_id`) REFERENCES `user` (`id`))",
		"CREATE TABLE `tutorial` (`id` VARCHAR(36) NOT NULL, `name` VARCHAR(320), `language` VARCHAR(100), `sequence` VARCHAR(10000), " +
			"`userid` INTEGER, `start_date` DATETIME, `end_date` DATETIME, PRIMARY KEY (`id`))",
		"CREATE TABLE `tutorial_section` (`id` VARCHAR(36) NOT NULL, `name` VARCHAR(320), `tutorial_type` VARCHAR(320), " +
			"`code_input` VARCHAR(10000), `language` VARCHAR(100), `frequent_word` VARCHAR(1000), `duration` INTEGER, " +
			"`tutorial_id` VARCHAR(36), PRIMARY KEY (`id`), FOREIGN KEY(`tutorial_id`) REFERENCES `tutorial` (`id`))",
		"CREATE TABLE `user_tutorial_state` (`user_id` INTEGER NOT NULL, `tutorial_id` VARCHAR(36) NOT NULL, `last_page` INTEGER DEFAULT 1, " +
			"PRIMARY KEY (`user_id`, `tutorial_id`), FOREIGN KEY(`user_id`) REFERENCES `user` (`id`), " +
			"FOREIGN KEY(`tutorial_id`) REFERENCES `tutorial` (`id`))",
	},
}

const (
	legacyTutorial = "3f1c9a0e5b2d4c6f8a7e9d0b1c2a3f4e"
	legacySecA     = "9a8b7c6d5e4f40312a1b2c3d4e5f6071"
	legacySecB     = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
	legacyHash     = "$pbkdf2-sha512$25000$V4rRGuN8D4GwthZizHnPGQ$8W9jrWtJbUiVpfAV7TmVHYi8SuhD3Tlc3ZhL7hxqJd8NFhXr9wnDiJmIgvw4hCC0DlR4R1NfR9F1dlNvFwu7Mw"
	legacyGoogleID = "109876543210987654321"
)

func TestDatabaseOfTheOriginalSystemIsUsableAsIs(t *testing.T) {
	t.Parallel()
	storetest.EachDialect(t, func(t *testing.T, dialect string) {
		t.Parallel()
		ctx := t.Context()
		db, _, _ := openFresh(t, dialect)
		raw := db.Raw()
		for _, q := range legacyDDL[dialect] {
			_, err := raw.ExecContext(ctx, q)
			must(t, err)
		}
		// Rows as the Flask system wrote them: passlib hashes, Python list
		// reprs, naive dates (SQLAlchemy writes microseconds on SQLite).
		start := "2024-01-01 08:00:00"
		if dialect == store.SQLite {
			start += ".000000"
		}
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{"INSERT INTO `user` (`name`, `picture`, `roles`, `current_role`) VALUES (?, ?, ?, ?)", []any{"Both Test", nil, "author,learner", "author"}},
			{"INSERT INTO `user` (`name`, `picture`, `roles`, `current_role`) VALUES (?, ?, ?, ?)", []any{"Gina", "https://lh3.googleusercontent.com/a/x", "learner", "learner"}},
			{"INSERT INTO `user` (`name`, `picture`, `roles`, `current_role`) VALUES (?, ?, ?, ?)", []any{"Guest", nil, "guest,learner", "learner"}},
			{"INSERT INTO `user_auth` (`email`, `password`, `user_id`) VALUES (?, ?, ?)", []any{"test@its.com", legacyHash, 1}},
			{"INSERT INTO `user_oauth` (`google_id`, `email`, `user_id`) VALUES (?, ?, ?)", []any{legacyGoogleID, "gina@gmail.com", 2}},
			{"INSERT INTO `tutorial` (`id`, `name`, `language`, `sequence`, `userid`, `start_date`, `end_date`) VALUES (?, ?, ?, ?, ?, ?, NULL)",
				[]any{legacyTutorial, "Recursion", "python", "['" + legacySecA + "', '" + legacySecB + "']", 1, start}},
			{"INSERT INTO `tutorial_section` (`id`, `name`, `tutorial_type`, `code_input`, `language`, `frequent_word`, `duration`, `tutorial_id`) VALUES (?, ?, ?, NULL, ?, ?, ?, ?)",
				[]any{legacySecA, "Factorial", "Code", "python", "['recursion', 'factorial', 'function', 'number', 'call']", 61000, legacyTutorial}},
			{"INSERT INTO `tutorial_section` (`id`, `name`, `tutorial_type`, `code_input`, `language`, `frequent_word`, `duration`, `tutorial_id`) VALUES (?, ?, ?, NULL, NULL, ?, 0, ?)",
				[]any{legacySecB, "Quiz", "Question", "[]", legacyTutorial}},
			{"INSERT INTO `user_tutorial_state` (`user_id`, `tutorial_id`, `last_page`) VALUES (?, ?, ?)", []any{2, legacyTutorial, 2}},
		} {
			_, err := raw.ExecContext(ctx, q.sql, q.args...)
			must(t, err)
		}
		if v, err := db.SchemaVersion(ctx); v != 0 || err != nil {
			t.Fatalf("legacy schema version = %d, %v", v, err)
		}

		must(t, db.Migrate(ctx))
		assertMigratedOnce(t, db)
		must(t, db.Migrate(ctx))

		u, err := db.UserByID(ctx, 1)
		if err != nil || u.Name != "Both Test" || u.Roles != "author,learner" || *u.CurrentRole != "author" {
			t.Fatalf("user 1 = %+v, %v", u, err)
		}
		a, err := db.AuthByEmail(ctx, "test@its.com")
		if err != nil || a.Password != legacyHash || a.UserID != 1 {
			t.Fatalf("auth = %+v, %v", a, err)
		}
		o, err := db.OAuthByGoogleID(ctx, legacyGoogleID)
		if err != nil || o.UserID != 2 || *o.Email != "gina@gmail.com" {
			t.Fatalf("oauth = %+v, %v", o, err)
		}
		tu, err := db.TutorialByID(ctx, legacyTutorial)
		must(t, err)
		if *tu.Sequence != "['"+legacySecA+"', '"+legacySecB+"']" || tu.Description != nil || tu.UserID != 1 {
			t.Fatalf("tutorial = %+v (sequence %q)", tu, *tu.Sequence)
		}
		wantStart := time.Date(2024, 1, 1, 8, 0, 0, 0, time.UTC)
		sameInstant(t, "legacy start", tu.StartDate, &wantStart)

		s, err := db.SectionByID(ctx, legacySecA)
		if err != nil || *s.FrequentWord != "['recursion', 'factorial', 'function', 'number', 'call']" || *s.Duration != 61000 || s.CodeInput != nil {
			t.Fatalf("section = %+v, %v", s, err)
		}
		secs, err := db.SectionsByTutorial(ctx, legacyTutorial)
		if err != nil || len(secs) != 2 || secs[0].ID != legacySecA || secs[1].ID != legacySecB {
			t.Fatalf("sections = %+v, %v", secs, err)
		}

		cards, err := db.PublishedTutorials(ctx, time.Now(), 2)
		if err != nil || len(cards) != 1 || cards[0].AuthorName != "Both Test" || cards[0].LastPage != 2 {
			t.Fatalf("published = %+v, %v", cards, err)
		}
		users, err := db.ListUsers(ctx)
		must(t, err)
		if len(users) != 3 || users[0].LoginType != store.LoginForm || users[1].LoginType != store.LoginGoogle || users[2].LoginType != store.LoginGuest {
			t.Fatalf("users = %+v", users)
		}

		// Writes on legacy rows: the repr sequence is repaired, the new
		// column works, progress upserts, new users get fresh ids.
		c := mustSection(t, db, legacyTutorial)
		if seq := sequenceOf(t, db, legacyTutorial); seq != seqText(legacySecA, legacySecB, c.ID) {
			t.Fatalf("sequence after create = %s", seq)
		}
		must(t, db.UpdateTutorial(ctx, legacyTutorial, store.TutorialPatch{Description: ptr("Now with a description")}))
		must(t, db.UpsertProgress(ctx, 2, legacyTutorial, 3))
		if p, _ := db.LastPage(ctx, 2, legacyTutorial); p != 3 {
			t.Fatalf("last page = %d", p)
		}
		nu, _, err := db.CreateFormUser(ctx, "New", "learner", "new@its.com", "h", nil)
		if err != nil || nu.ID != 4 {
			t.Fatalf("new user = %+v, %v", nu, err)
		}
		// Same case: the legacy SQLite schema compares e-mails
		// case-sensitively (only ours adds NOCASE).
		_, _, err = db.CreateFormUser(ctx, "Dup", "learner", "test@its.com", "h", nil)
		wantCode(t, err, itss.CodeConflict)
		ids, err := db.DeleteTutorial(ctx, legacyTutorial)
		if err != nil || len(ids) != 3 {
			t.Fatalf("delete = %v, %v", ids, err)
		}
	})
}

// An original database created under an older server's defaults has
// single-byte text columns (MySQL 5.7 and older MariaDB default to latin1).
// Converting the original's tables is an operator's decision, but the
// description column is ITSS-Go's own and must hold any text; text a legacy
// column cannot store is the client's problem to fix (400), not a fault.
func TestLegacyLatin1DatabaseStoresEmojiDescriptionsAndRefusesEmojiNames(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	driver, dsn := storetest.NewMySQLDatabase(t, "latin1")
	db, err := store.Open(ctx, driver, dsn)
	must(t, err)
	t.Cleanup(func() { db.Close() })
	for _, q := range legacyDDL[store.MySQL] {
		_, err := db.Raw().ExecContext(ctx, q)
		must(t, err)
	}
	must(t, db.Migrate(ctx))
	assertMigratedOnce(t, db)

	tu := mustTutorial(t, db, 1, func(tu *itss.Tutorial) { tu.Name = "Café"; tu.Description = ptr("Recursion 😀 再帰") })
	if tu.Name != "Café" || tu.Description == nil || *tu.Description != "Recursion 😀 再帰" {
		t.Fatalf("tutorial = %q, %v", tu.Name, tu.Description)
	}
	must(t, db.UpdateTutorial(ctx, tu.ID, store.TutorialPatch{Description: ptr("🎉")}))

	err = db.CreateTutorial(ctx, itss.Tutorial{ID: newID(), Name: "Recursion 😀", Language: "python", UserID: 1})
	wantCode(t, err, itss.CodeInvalid)
	_, _, err = db.CreateFormUser(ctx, "Alice 😀", "learner", "alice@its.com", "h", nil)
	wantCode(t, err, itss.CodeInvalid)
}
