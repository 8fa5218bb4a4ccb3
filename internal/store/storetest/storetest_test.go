package storetest

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/itss-go/itss/internal/store"
)

func TestNewDatabaseGivesEachTestItsOwnSQLiteFile(t *testing.T) {
	t.Parallel()
	_, a := NewDatabase(t, store.SQLite)
	_, b := NewDatabase(t, store.SQLite)
	if a == b {
		t.Fatalf("two databases share %s", a)
	}
}

func TestEachRunsEveryDialectAsNamedSubtests(t *testing.T) {
	t.Parallel()
	var ran []string
	Each(t, func(t *testing.T, db *store.DB) {
		ran = append(ran, db.Dialect())
		if _, err := db.UserByID(t.Context(), 1); err == nil {
			t.Fatal("fresh database has a user")
		}
	})
	want := []string{store.SQLite}
	if os.Getenv(EnvMySQLDSN) != "" {
		want = append(want, store.MySQL)
	}
	if !slices.Equal(ran, want) {
		t.Fatalf("ran on %v, want %v", ran, want)
	}
}

func TestUnreachableMySQLServerIsAnError(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Port 1 refuses connections: the helper must report it (and callers
	// fail the test) rather than skip.
	if _, _, err := createMySQLDatabase(ctx, "root@tcp(127.0.0.1:1)/mysql", "utf8mb4"); err == nil {
		t.Fatal("no error for an unreachable server")
	}
	if _, _, err := createMySQLDatabase(ctx, "not a dsn", "utf8mb4"); err == nil {
		t.Fatal("no error for a malformed DSN")
	}
}

func TestMySQLDatabaseIsCreatedAndDropped(t *testing.T) {
	t.Parallel()
	admin := os.Getenv(EnvMySQLDSN)
	if admin == "" {
		t.Skipf("%s is not set", EnvMySQLDSN)
	}
	ctx := t.Context()
	dsn, drop, err := createMySQLDatabase(ctx, admin, "utf8mb4")
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, store.MySQL, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := drop(ctx); err != nil {
		t.Fatal(err)
	}
	if db, err := store.Open(ctx, store.MySQL, dsn); err == nil {
		db.Close()
		t.Fatal("database still exists after drop")
	}
}
