// Package storetest gives tests real databases: SQLite always, and MySQL or
// MariaDB when ITSS_TEST_MYSQL_DSN names a server. Every call creates a
// database of its own (a file in a temporary directory, or a database named
// itss_t_<random> on the server) and removes it when the test ends, so tests
// using it may run in parallel with each other and with other packages.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/itss-go/itss/internal/store"
)

// EnvMySQLDSN names the variable holding a go-sql-driver DSN of a MySQL or
// MariaDB server on which tests may create and drop databases, e.g.
// root@tcp(127.0.0.1:3306)/mysql?parseTime=true. The database named in it is
// only used to connect.
const EnvMySQLDSN = "ITSS_TEST_MYSQL_DSN"

// setupTimeout bounds creating, migrating and dropping a test database, so
// that an unreachable server fails the test instead of hanging it.
const setupTimeout = 30 * time.Second

// Open returns a fresh, migrated SQLite database in a temporary directory.
func Open(tb testing.TB) *store.DB {
	tb.Helper()
	return MustOpenDB(tb, store.SQLite)
}

// OpenMySQL returns a fresh, migrated MySQL/MariaDB database. It skips the
// test when ITSS_TEST_MYSQL_DSN is unset and fails it when the variable is set
// but the server cannot be used.
func OpenMySQL(tb testing.TB) *store.DB {
	tb.Helper()
	return MustOpenDB(tb, store.MySQL)
}

// MustOpenDB returns a fresh, migrated database of the dialect ("sqlite" or
// "mysql"), closed and removed when the test ends.
func MustOpenDB(tb testing.TB, dialect string) *store.DB {
	tb.Helper()
	driver, dsn := NewDatabase(tb, dialect)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	db, err := store.Open(ctx, driver, dsn)
	if err != nil {
		tb.Fatalf("open %s test database: %v", dialect, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close %s test database: %v", dialect, err)
		}
	})
	if err := db.Migrate(ctx); err != nil {
		tb.Fatalf("migrate %s test database: %v", dialect, err)
	}
	return db
}

// NewDatabase creates an empty database of the dialect, not migrated, and
// returns what store.Open takes. It is removed when the test ends. For
// "mysql" it skips or fails as OpenMySQL does.
func NewDatabase(tb testing.TB, dialect string) (driver, dsn string) {
	tb.Helper()
	switch dialect {
	case store.SQLite:
		return store.SQLite, filepath.Join(tb.TempDir(), "itss.db")
	case store.MySQL:
		return NewMySQLDatabase(tb, "utf8mb4 COLLATE utf8mb4_unicode_ci")
	default:
		tb.Fatalf("storetest: unknown dialect %q", dialect)
		return "", ""
	}
}

// NewMySQLDatabase is NewDatabase for MySQL with the given default character
// set (and optionally "COLLATE ..."), e.g. "latin1" for a database created
// by an older server's defaults. It skips or fails as OpenMySQL does.
func NewMySQLDatabase(tb testing.TB, charset string) (driver, dsn string) {
	tb.Helper()
	admin := os.Getenv(EnvMySQLDSN)
	if admin == "" {
		tb.Skipf("%s is not set: MySQL tests skipped", EnvMySQLDSN)
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	dsn, drop, err := createMySQLDatabase(ctx, admin, charset)
	if err != nil {
		tb.Fatalf("%s is set but unusable: %v", EnvMySQLDSN, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := drop(ctx); err != nil {
			tb.Errorf("drop MySQL test database: %v", err)
		}
	})
	return store.MySQL, dsn
}

// Dialects lists the dialects Each runs on, in order.
func Dialects() []string { return []string{store.SQLite, store.MySQL} }

// Each runs fn on a fresh, migrated database of every dialect, as subtests
// named "sqlite" and "mysql" (skipped when ITSS_TEST_MYSQL_DSN is unset). fn
// may call t.Parallel: each subtest has a database of its own.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	EachDialect(t, func(t *testing.T, dialect string) {
		fn(t, MustOpenDB(t, dialect))
	})
}

// EachDialect runs fn once per dialect as subtests named after it, for tests
// that build their database themselves (see NewDatabase).
func EachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	t.Helper()
	for _, d := range Dialects() {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// createMySQLDatabase creates itss_t_<random>, of default character set
// charset, on the server of adminDSN and returns its DSN and a function that
// drops it. It holds no connection in between, so that many parallel tests
// stay far below the server's limit.
func createMySQLDatabase(ctx context.Context, adminDSN, charset string) (string, func(context.Context) error, error) {
	cfg, err := mysql.ParseDSN(adminDSN)
	if err != nil {
		return "", nil, err
	}
	if cfg.Timeout == 0 || cfg.Timeout > 5*time.Second {
		cfg.Timeout = 5 * time.Second
	}
	var suffix [8]byte
	_, _ = rand.Read(suffix[:]) // crypto/rand does not fail on supported platforms
	name := "itss_t_" + hex.EncodeToString(suffix[:])
	// The name is generated here and the character set comes from test
	// code, never from input, so both may be spliced into the statements.
	if err := adminExec(ctx, cfg, "CREATE DATABASE `"+name+"` CHARACTER SET "+charset); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop := func(ctx context.Context) error {
		if err := adminExec(ctx, cfg, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	dbCfg := cfg.Clone()
	dbCfg.DBName = name
	return dbCfg.FormatDSN(), drop, nil
}

func adminExec(ctx context.Context, cfg *mysql.Config, stmt string) error {
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	admin := sql.OpenDB(conn)
	defer admin.Close()
	_, err = admin.ExecContext(ctx, stmt)
	return err
}
