// Package store is the SQL layer of ITSS: repositories over sqlx for
// MySQL/MariaDB and SQLite, the embedded goose migrations, and transactions.
// It is the only package that writes SQL.
//
// The schema is the original Flask system's (API.md §1) so that its MySQL
// database is usable as is. Queries are written once for both dialects:
// identifiers are quoted with backticks, which both accept, placeholders are
// "?", and the few differences (upsert, row locks, error numbers, connection
// settings, migration lock) live in dialect.go and migrate.go.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/itss-go/itss/internal/itss"
)

// Dialect names, as accepted by Open and reported by DB.Dialect.
const (
	MySQL  = "mysql"
	SQLite = "sqlite"
)

// DB is a handle on the database. A DB returned by Open uses the connection
// pool; the DB passed to an InTx callback is bound to that transaction and
// every method called on it runs inside it.
type DB struct {
	db      *sqlx.DB
	q       sqlx.ExtContext // db, or tx when bound to a transaction
	tx      *sqlx.Tx
	dialect string
	// lockPath is the SQLite file whose write lock serialises migrations
	// between processes ("" for an in-memory database).
	lockPath string
}

// Pool limits. MySQL connections are recycled before the usual server and
// proxy idle timeouts; SQLite connections are cheap but each carries its
// pragmas, so they are kept.
const (
	mysqlMaxOpen     = 20
	mysqlMaxIdle     = 10
	mysqlMaxLifetime = 3 * time.Minute
	mysqlMaxIdleTime = time.Minute
	sqliteMaxOpen    = 8
	// sqliteBusyTimeout is how long a writer waits for another writer (the
	// other service included) before the statement fails as busy.
	sqliteBusyTimeout = 10 * time.Second
)

// Open connects to the database of the given driver ("mysql" or "sqlite")
// and checks that it answers. For MySQL, dsn is in go-sql-driver form; Open
// forces parseTime, UTC, utf8mb4 and found-rows semantics whatever the DSN
// says. For SQLite, dsn is a file path (or a "file:" URI); Open adds WAL mode,
// a busy timeout, foreign keys and immediate write transactions, and creates
// the file's directory if needed; ":memory:" gives a private database on a
// single connection, for tools and tests. Open does not migrate: call Migrate.
func Open(ctx context.Context, driver, dsn string) (*DB, error) {
	d := &DB{dialect: driver}
	var (
		full   string
		memory bool
		err    error
	)
	switch driver {
	case MySQL:
		full, err = mysqlDSN(dsn)
	case SQLite:
		full, d.lockPath, memory, err = sqliteDSN(dsn)
		if err == nil && !memory {
			err = os.MkdirAll(filepath.Dir(d.lockPath), 0o750)
		}
	default:
		return nil, fmt.Errorf("open database: unknown driver %q (want mysql or sqlite)", driver)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", driver, err)
	}
	db, err := sqlx.Open(driver, full)
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", driver, err)
	}
	switch {
	case driver == MySQL:
		db.SetMaxOpenConns(mysqlMaxOpen)
		db.SetMaxIdleConns(mysqlMaxIdle)
		db.SetConnMaxLifetime(mysqlMaxLifetime)
		db.SetConnMaxIdleTime(mysqlMaxIdleTime)
	case memory:
		// Every connection to ":memory:" is a database of its own, so
		// there must be exactly one, and it must never be recycled.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
	default:
		db.SetMaxOpenConns(sqliteMaxOpen)
		db.SetMaxIdleConns(sqliteMaxOpen)
	}
	d.db, d.q = db, db
	err = d.Ping(ctx)
	// A connection's first statement applies the pragmas; switching a fresh
	// file to WAL can meet another process's lock in a way SQLite reports as
	// busy without waiting, so a few retries let both services start at once.
	for i := 0; driver == SQLite && err != nil && sqliteBusy(err) && i < 10; i++ {
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(50*(i+1)) * time.Millisecond):
		}
		err = d.Ping(ctx)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// Dialect reports "mysql" or "sqlite".
func (db *DB) Dialect() string { return db.dialect }

// Close closes the pool. Calling it on a transaction-bound DB is an error.
func (db *DB) Close() error {
	if db.tx != nil {
		return errors.New("close database: called inside a transaction")
	}
	return db.db.Close()
}

// Ping checks that the database answers; failures are CodeUnavailable.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.db.PingContext(ctx); err != nil {
		return itss.Wrap(itss.CodeUnavailable, fmt.Errorf("ping %s database: %w", db.dialect, err), "Database unavailable")
	}
	return nil
}

// InTx runs fn in a transaction: committed when fn returns nil, rolled back
// when it returns an error or panics. Called on a transaction-bound DB it
// joins that transaction. InTx never retries fn, which may have effects
// outside the database.
func (db *DB) InTx(ctx context.Context, fn func(tx *DB) error) error {
	if db.tx != nil {
		return fn(db)
	}
	tx, err := db.db.BeginTxx(ctx, nil)
	if err != nil {
		return dbErr(err, "begin transaction")
	}
	bound := *db
	bound.q, bound.tx = tx, tx
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback() // the error that got us here matters more
		}
	}()
	if err := fn(&bound); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return dbErr(err, "commit transaction")
	}
	committed = true
	return nil
}

// maxAttempts bounds the retries of a transaction the database aborted to
// break a deadlock.
const maxAttempts = 3

// withTx runs the store's own transactional operations. Unlike InTx it
// retries a transaction that MySQL chose as a deadlock victim: fn only touches
// the database, so running it again is safe.
func (db *DB) withTx(ctx context.Context, fn func(tx *DB) error) error {
	if db.tx != nil {
		return fn(db)
	}
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		err = db.InTx(ctx, fn)
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// dbErr gives a driver error the application code its meaning calls for
// (duplicate key, missing reference, busy or unreachable database) and wraps
// it with what was being done. Application errors pass through unchanged.
func dbErr(err error, op string) error {
	if err == nil {
		return nil
	}
	var ae *itss.Error
	if errors.As(err, &ae) {
		return err
	}
	wrapped := fmt.Errorf("%s: %w", op, err)
	if code, msg, ok := classify(err); ok {
		return itss.Wrap(code, wrapped, msg)
	}
	return wrapped
}

// rowErr is dbErr for single-row reads: no row becomes CodeNotFound with msg.
func rowErr(err error, msg, op string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return itss.Wrap(itss.CodeNotFound, fmt.Errorf("%s: %w", op, err), msg)
	}
	return dbErr(err, op)
}

// affected turns an UPDATE or DELETE that matched no row into CodeNotFound.
// MySQL connections use CLIENT_FOUND_ROWS, so an update that changes nothing
// still counts the row it matched, as SQLite does.
func affected(res sql.Result, err error, msg, op string) error {
	if err != nil {
		return dbErr(err, op)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return dbErr(err, op)
	}
	if n == 0 {
		return itss.Errorf(itss.CodeNotFound, "%s", msg)
	}
	return nil
}

// dbTime is how a date is stored: UTC, whole seconds. MySQL DATETIME without
// a fraction would round a fraction rather than truncate it, and SQLite
// compares dates as text, which needs one fixed format.
func dbTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Truncate(time.Second)
}

// setList builds the SET clause of a partial update from fixed column names.
type setList struct {
	cols []string
	args []any
}

func (s *setList) add(col string, v any) {
	s.cols = append(s.cols, "`"+col+"` = ?")
	s.args = append(s.args, v)
}

func (s *setList) sql() string { return strings.Join(s.cols, ", ") }
