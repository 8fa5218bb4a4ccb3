package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"

	"github.com/itss-go/itss/migrations"
)

// versionTable is goose's bookkeeping table (its default name).
const versionTable = "goose_db_version"

// tables lists the schema's tables children first, the order to drop them in.
var tables = []string{"user_tutorial_state", "tutorial_section", "tutorial", "user_oauth", "user_auth", "user"}

// Migrate applies the embedded migrations that the database has not seen.
// Both services call it at start-up, so it holds a lock for the whole run:
// a second process (or goroutine) waits for the first and then finds nothing
// left to do. On a database of the original system the first migration
// changes nothing (its tables already exist); later ones add what ITSS-Go
// needs.
func (db *DB) Migrate(ctx context.Context) error {
	if db.tx != nil {
		return errors.New("migrate: called inside a transaction")
	}
	fsys, dialect, err := db.migrationSource()
	if err != nil {
		return err
	}
	unlock, err := db.lockMigrations(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	// A fresh provider per run: goose remembers per provider that its
	// version table exists, which Reset may have made untrue.
	p, err := goose.NewProvider(dialect, db.db.DB, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return dbErr(err, "migrate")
	}
	return nil
}

// SchemaVersion reports the highest migration applied, 0 for a database that
// has never been migrated (including one of the original system).
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	ok, err := db.tableExists(ctx, versionTable)
	if err != nil || !ok {
		return 0, err
	}
	var v int64
	err = sqlx.GetContext(ctx, db.q, &v, "SELECT COALESCE(MAX(`version_id`), 0) FROM `"+versionTable+"`")
	return v, dbErr(err, "read schema version")
}

// Reset drops every table of the schema and goose's version table, for
// `itssctl db reset`. Other tables in the same database are left alone. It
// takes the migration lock so that it never interleaves with a Migrate.
func (db *DB) Reset(ctx context.Context) error {
	if db.tx != nil {
		return errors.New("reset: called inside a transaction")
	}
	unlock, err := db.lockMigrations(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	for _, t := range append(tables, versionTable) {
		if _, err := db.db.ExecContext(ctx, "DROP TABLE IF EXISTS `"+t+"`"); err != nil {
			return dbErr(err, "reset: drop "+t)
		}
	}
	return nil
}

func (db *DB) migrationSource() (fs.FS, goose.Dialect, error) {
	var (
		fsys    fs.FS
		err     error
		dialect goose.Dialect
	)
	switch db.dialect {
	case MySQL:
		fsys, err = fs.Sub(migrations.MySQL, "mysql")
		dialect = goose.DialectMySQL
	default:
		fsys, err = fs.Sub(migrations.SQLite, "sqlite")
		dialect = goose.DialectSQLite3
	}
	if err != nil {
		return nil, "", fmt.Errorf("migrate: %w", err)
	}
	return fsys, dialect, nil
}

// tableExists reports whether the current database has the table.
func (db *DB) tableExists(ctx context.Context, name string) (bool, error) {
	q := "SELECT COUNT(*) FROM `sqlite_master` WHERE `type` = 'table' AND `name` = ?"
	if db.dialect == MySQL {
		q = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
	}
	var n int
	if err := sqlx.GetContext(ctx, db.q, &n, q, name); err != nil {
		return false, dbErr(err, "look up table "+name)
	}
	return n > 0, nil
}

// lockMigrations takes the lock that serialises Migrate and Reset across
// processes and returns its release.
func (db *DB) lockMigrations(ctx context.Context) (func(), error) {
	switch {
	case db.dialect == MySQL:
		return db.lockMySQL(ctx)
	case db.lockPath == "":
		// In memory: one process, one connection, nothing to race with.
		return func() {}, nil
	default:
		return lockSQLiteFile(ctx, db.lockPath)
	}
}

// lockPoll is how long one attempt to take a migration lock waits before the
// caller's context is checked again.
const lockPoll = 2 * time.Second

// lockMySQL takes a named lock (GET_LOCK) on a connection of its own. Named
// locks are server-wide, so the name includes the database's: test runs and
// tenants on one server do not wait for each other. The lock is a session
// lock, so a process that dies mid-migration releases it with its connection.
func (db *DB) lockMySQL(ctx context.Context) (func(), error) {
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return nil, dbErr(err, "migration lock")
	}
	var dbName string
	if err := conn.QueryRowContext(ctx, "SELECT COALESCE(DATABASE(), '')").Scan(&dbName); err != nil {
		conn.Close()
		return nil, dbErr(err, "migration lock")
	}
	name := mysqlLockName(dbName)
	for {
		var got sql.NullInt64
		err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, int(lockPoll.Seconds())).Scan(&got)
		if err == nil && !got.Valid {
			err = errors.New("GET_LOCK returned NULL")
		}
		if err == nil && got.Int64 == 1 {
			break
		}
		if err == nil {
			err = ctx.Err() // 0: another process still holds it
		}
		if err != nil {
			conn.Close()
			return nil, dbErr(err, "migration lock "+name)
		}
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		var released sql.NullInt64
		err := conn.QueryRowContext(ctx, "SELECT RELEASE_LOCK(?)", name).Scan(&released)
		if err != nil || released.Int64 != 1 {
			// Never hand a connection that may still hold the lock back
			// to the pool: discarding it ends its session and the lock.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}, nil
}

// mysqlLockName derives the lock name from the database name, within MySQL's
// 64-character limit for lock names.
func mysqlLockName(dbName string) string {
	name := "itss_migrate." + dbName
	if len(name) > 64 {
		sum := sha256.Sum256([]byte(dbName))
		name = "itss_migrate." + hex.EncodeToString(sum[:16])
	}
	return name
}

// lockSQLiteFile serialises migrations of one SQLite database by holding a
// write transaction (BEGIN IMMEDIATE) on a small companion database file. The
// database itself cannot carry the lock: goose must write to it meanwhile.
// SQLite's file locks work between processes and between connections of one
// process, and the operating system drops them when a process dies.
func lockSQLiteFile(ctx context.Context, path string) (func(), error) {
	ldb, err := sql.Open(SQLite, path+"?_pragma=busy_timeout("+fmt.Sprint(lockPoll.Milliseconds())+")")
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	ldb.SetMaxOpenConns(1)
	conn, err := ldb.Conn(ctx)
	if err != nil {
		ldb.Close()
		return nil, dbErr(err, "migration lock")
	}
	for {
		_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		if err == nil {
			break
		}
		if !sqliteBusy(err) || ctx.Err() != nil {
			conn.Close()
			ldb.Close()
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, dbErr(err, "migration lock "+path)
		}
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		conn.Close()
		ldb.Close()
	}, nil
}

// OpenMigrated opens the database and applies pending migrations: what each
// service and itssctl do before anything else.
func OpenMigrated(ctx context.Context, driver, dsn string) (*DB, error) {
	db, err := Open(ctx, driver, dsn)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return db, nil
}
