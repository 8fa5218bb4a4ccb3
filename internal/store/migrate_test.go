package store_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/store/storetest"
)

const latestVersion = 4

func openFresh(t *testing.T, dialect string) (*store.DB, string, string) {
	t.Helper()
	driver, dsn := storetest.NewDatabase(t, dialect)
	db, err := store.Open(t.Context(), driver, dsn)
	must(t, err)
	t.Cleanup(func() { db.Close() })
	return db, driver, dsn
}

// assertMigratedOnce checks the schema version and that goose recorded
// every migration exactly once.
func assertMigratedOnce(t *testing.T, db *store.DB) {
	t.Helper()
	v, err := db.SchemaVersion(t.Context())
	must(t, err)
	if v != latestVersion {
		t.Fatalf("schema version = %d, want %d", v, latestVersion)
	}
	var rows []struct {
		Version int64 `db:"version_id"`
		N       int   `db:"n"`
	}
	must(t, db.Raw().SelectContext(t.Context(), &rows,
		"SELECT `version_id`, COUNT(*) AS `n` FROM `goose_db_version` WHERE `version_id` > 0 GROUP BY `version_id` ORDER BY `version_id`"))
	if len(rows) != latestVersion {
		t.Fatalf("goose recorded %+v, want versions 1..%d", rows, latestVersion)
	}
	for _, r := range rows {
		if r.N != 1 {
			t.Fatalf("version %d recorded %d times", r.Version, r.N)
		}
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		must(t, db.Migrate(t.Context()))
		must(t, db.Migrate(t.Context()))
		assertMigratedOnce(t, db)
	})
}

// MySQL DDL is not transactional, so a run interrupted after a statement
// but before goose recorded the version must complete on the next start.
func TestMySQLMigrationsCompleteWhenRerunOverTheirOwnChanges(t *testing.T) {
	t.Parallel()
	db := storetest.OpenMySQL(t)
	_, err := db.Raw().ExecContext(t.Context(), "DELETE FROM `goose_db_version` WHERE `version_id` >= 2")
	must(t, err)
	must(t, db.Migrate(t.Context()))
	assertMigratedOnce(t, db)
}

func TestConcurrentMigrateOnFreshDatabaseAppliesEachMigrationOnce(t *testing.T) {
	t.Parallel()
	storetest.EachDialect(t, func(t *testing.T, dialect string) {
		t.Parallel()
		db, driver, dsn := openFresh(t, dialect)
		migrateConcurrently(t, db, driver, dsn)
	})
}

// The upgrade case: a database at version 2 when several services of a
// release that brings versions 3 and 4 start at once. goose's own retry on
// creating its version table does not serialise this one.
func TestConcurrentMigrateOfOlderSchemaAppliesEachMigrationOnce(t *testing.T) {
	t.Parallel()
	storetest.EachDialect(t, func(t *testing.T, dialect string) {
		t.Parallel()
		db, driver, dsn := openFresh(t, dialect)
		must(t, db.Migrate(t.Context()))
		for _, q := range []string{
			"ALTER TABLE `tutorial` DROP COLUMN `description`",
			"DELETE FROM `goose_db_version` WHERE `version_id` >= 3",
		} {
			_, err := db.Raw().ExecContext(t.Context(), q)
			must(t, err)
		}
		migrateConcurrently(t, db, driver, dsn)
		mustTutorial(t, db, 1, func(tu *itss.Tutorial) { tu.Description = ptr("column is back") })
	})
}

// migrateConcurrently runs Migrate from four pools on one database at once, as
// replicas of both services starting together would.
func migrateConcurrently(t *testing.T, first *store.DB, driver, dsn string) {
	t.Helper()
	dbs := []*store.DB{first}
	for range 3 {
		db, err := store.Open(t.Context(), driver, dsn)
		must(t, err)
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	start := make(chan struct{})
	errs := make([]error, len(dbs))
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() {
			<-start
			errs[i] = db.Migrate(t.Context())
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate #%d: %v", i, err)
		}
	}
	assertMigratedOnce(t, first)
}

// TestMigrateChildProcess is the body of the child processes started by
// TestMigrateFromSeveralProcessesOnOneSQLiteFile; on its own it does nothing.
func TestMigrateChildProcess(t *testing.T) {
	dir := os.Getenv("ITSS_STORE_TEST_CHILD_DIR")
	if dir == "" {
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for { // start together with the siblings
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, store.SQLite, filepath.Join(dir, "itss.db"))
	must(t, err)
	defer db.Close()
	must(t, db.Migrate(ctx))
}

func TestMigrateFromSeveralProcessesOnOneSQLiteFile(t *testing.T) {
	t.Parallel()
	if os.Getenv("ITSS_STORE_TEST_CHILD_DIR") != "" {
		t.Skip("inside a child process")
	}
	dir := t.TempDir()
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for range 3 {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestMigrateChildProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ITSS_STORE_TEST_CHILD_DIR="+dir)
		out := new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = out, out
		must(t, cmd.Start())
		cmds = append(cmds, cmd)
		outs = append(outs, out)
	}
	must(t, os.WriteFile(filepath.Join(dir, "go"), nil, 0o600))
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child %d: %v\n%s", i, err, outs[i])
		}
	}
	db, err := store.Open(t.Context(), store.SQLite, filepath.Join(dir, "itss.db"))
	must(t, err)
	defer db.Close()
	assertMigratedOnce(t, db)
}

func TestResetDropsSchemaAndMigrateRebuildsIt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		mustTutorial(t, db, mustAuthor(t, db, "Alice").ID, nil)
		// A table that is not ours survives.
		_, err := db.Raw().ExecContext(ctx, "CREATE TABLE `unrelated` (`x` INT)")
		must(t, err)
		must(t, db.Reset(ctx))
		if v, err := db.SchemaVersion(ctx); v != 0 || err != nil {
			t.Fatalf("version after reset = %d, %v", v, err)
		}
		var n int
		must(t, db.Raw().GetContext(ctx, &n, "SELECT COUNT(*) FROM `unrelated`"))
		_, err = db.UserByID(ctx, 1)
		if err == nil {
			t.Fatal("user table still readable after reset")
		}
		must(t, db.Migrate(ctx))
		assertMigratedOnce(t, db)
		if users, err := db.ListUsers(ctx); err != nil || len(users) != 0 {
			t.Fatalf("users after reset = %v, %v", users, err)
		}
	})
}

func TestOpenConfiguresSQLiteForSharing(t *testing.T) {
	t.Parallel()
	// A nested directory that does not exist yet, as data/itss.db on a
	// first start.
	path := filepath.Join(t.TempDir(), "data", "sub", "itss.db")
	db, err := store.Open(t.Context(), store.SQLite, path)
	must(t, err)
	defer db.Close()
	if db.Dialect() != store.SQLite {
		t.Fatalf("dialect = %q", db.Dialect())
	}
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000", "synchronous": "1"} {
		var got string
		must(t, db.Raw().GetContext(t.Context(), &got, "PRAGMA "+pragma))
		if got != want {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
}

func TestOpenConfiguresMySQLSession(t *testing.T) {
	t.Parallel()
	db := storetest.OpenMySQL(t)
	if db.Dialect() != store.MySQL {
		t.Fatalf("dialect = %q", db.Dialect())
	}
	var s struct {
		Zone    string `db:"tz"`
		Charset string `db:"cs"`
	}
	must(t, db.Raw().GetContext(t.Context(), &s, "SELECT @@session.time_zone AS tz, @@session.character_set_connection AS cs"))
	if s.Zone != "+00:00" || s.Charset != "utf8mb4" {
		t.Fatalf("session = %+v, want +00:00 and utf8mb4", s)
	}
}

func TestOpenInMemorySQLiteWorks(t *testing.T) {
	t.Parallel()
	db, err := store.Open(t.Context(), store.SQLite, ":memory:")
	must(t, err)
	defer db.Close()
	must(t, db.Migrate(t.Context()))
	tu := mustTutorial(t, db, 1, nil)
	mustSection(t, db, tu.ID)
	assertMigratedOnce(t, db)
}

func TestOpenRejectsUnknownDriverAndUnreachableServer(t *testing.T) {
	t.Parallel()
	if _, err := store.Open(t.Context(), "postgres", "x"); err == nil {
		t.Fatal("unknown driver accepted")
	}
	if _, err := store.Open(t.Context(), store.SQLite, ""); err == nil {
		t.Fatal("empty path accepted")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := store.Open(ctx, store.MySQL, "root@tcp(127.0.0.1:1)/itss")
	wantCode(t, err, "unavailable")
}

func TestOpenMigratedCreatesTheFolderAndMigrates(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "new", "folder", "itss.db")
	db, err := store.OpenMigrated(t.Context(), store.SQLite, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.SchemaVersion(t.Context()); err != nil || v == 0 {
		t.Fatalf("schema version %d, %v", v, err)
	}
}
