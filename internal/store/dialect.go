package store

import (
	"database/sql/driver"
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/itss-go/itss/internal/itss"
)

// This file holds everything that differs between MySQL and SQLite outside
// the migration files and the migration lock (migrate.go). Repository code
// calls these helpers and is otherwise the same SQL for both.
//
// Auto-increment needs nothing here: the column types differ only in the
// migrations, and both drivers report LastInsertId.

func init() {
	// sqlx knows modernc's driver only as "sqlite3"; register its name so
	// Rebind and named queries see "?" placeholders.
	sqlx.BindDriver(SQLite, sqlx.QUESTION)
}

// forUpdate is appended to a SELECT that locks the rows it reads. MySQL needs
// the clause; SQLite has none, and needs none because its write transactions
// begin IMMEDIATE, so a writer holds the database's write lock from its
// first statement.
func (db *DB) forUpdate() string {
	if db.dialect == MySQL {
		return " FOR UPDATE"
	}
	return ""
}

// onConflictUpdate continues an INSERT so that a row with the same key is
// updated instead: the caller appends "`col` = ?, ..." with the new values.
// Binding the values again keeps clear of MySQL's deprecated VALUES() and of
// the row alias syntax that MariaDB lacks.
func (db *DB) onConflictUpdate(key ...string) string {
	if db.dialect == MySQL {
		return "ON DUPLICATE KEY UPDATE "
	}
	cols := make([]string, len(key))
	for i, k := range key {
		cols[i] = "`" + k + "`"
	}
	return "ON CONFLICT (" + strings.Join(cols, ", ") + ") DO UPDATE SET "
}

// MySQL error numbers the store gives a meaning to.
const (
	mysqlDupEntry        = 1062
	mysqlRowIsReferenced = 1451
	mysqlNoReferencedRow = 1452
	mysqlDataTooLong     = 1406
	mysqlBadStringValue  = 1366
	mysqlLockWaitTimeout = 1205
	mysqlDeadlock        = 1213
)

// classify maps a driver error to an application code and a client-safe
// message, for the errors whose meaning does not depend on the query.
func classify(err error) (itss.Code, string, bool) {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case mysqlDupEntry:
			return itss.CodeConflict, "Already exists", true
		case mysqlNoReferencedRow:
			return itss.CodeNotFound, "Referenced record not found", true
		case mysqlRowIsReferenced:
			return itss.CodeConflict, "Record is still in use", true
		case mysqlDataTooLong:
			return itss.CodeInvalid, "Value too long", true
		case mysqlBadStringValue:
			// Text outside the character set of a column an original
			// database created as latin1 or utf8mb3 (emoji, most scripts).
			return itss.CodeInvalid, "Text contains characters that cannot be stored", true
		case mysqlDeadlock, mysqlLockWaitTimeout:
			return itss.CodeUnavailable, "Database busy, try again", true
		}
		return "", "", false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return itss.CodeConflict, "Already exists", true
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			// SQLite does not say which side is missing; the store only
			// deletes parents after their children, so it is the parent.
			return itss.CodeNotFound, "Referenced record not found", true
		}
		if sqliteBusy(err) {
			return itss.CodeUnavailable, "Database busy, try again", true
		}
		return "", "", false
	}
	var ne *net.OpError
	if errors.As(err, &ne) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, driver.ErrBadConn) {
		return itss.CodeUnavailable, "Database unavailable", true
	}
	return "", "", false
}

// sqliteBusy reports whether err is SQLite's "another connection holds the
// lock" after the busy timeout ran out.
func sqliteBusy(err error) bool {
	var se *sqlite.Error
	// Extended codes keep the primary code in the low byte.
	return errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED)
}

// retryable reports whether a transaction failed only because the database
// aborted it to break a deadlock, so that running it again may succeed.
func retryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == mysqlDeadlock
}

// mysqlDSN rewrites a go-sql-driver DSN with the settings the store relies on:
// DATETIME columns scan into time.Time and hold UTC (legacy naive values are
// UTC), text is utf8mb4, and RowsAffected counts matched rows as SQLite does.
func mysqlDSN(dsn string) (string, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", err
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.ClientFoundRows = true
	if !strings.HasPrefix(cfg.Collation, "utf8mb4_") {
		if err := cfg.Apply(mysql.Charset("utf8mb4", "utf8mb4_unicode_ci")); err != nil {
			return "", err
		}
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	// The session zone matters only to NOW() and TIMESTAMP columns, which
	// the store does not use, but it keeps manual queries honest.
	cfg.Params["time_zone"] = "'+00:00'"
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	return cfg.FormatDSN(), nil
}

// sqliteDSN turns a file path (or "file:" URI) into a modernc DSN. It returns
// the path of the lock file that serialises migrations, and whether the
// database lives in memory (one connection, nothing to lock).
func sqliteDSN(dsn string) (full, lockPath string, memory bool, err error) {
	base, query, _ := strings.Cut(dsn, "?")
	if strings.TrimSpace(base) == "" {
		return "", "", false, errors.New("empty database path")
	}
	path := strings.TrimPrefix(base, "file:")
	memory = path == ":memory:" || strings.Contains(query, "mode=memory")
	if !memory {
		if strings.HasPrefix(base, "file:") {
			if p, err := url.PathUnescape(path); err == nil {
				path = p
			}
		}
		lockPath = path + ".migrate-lock"
	}
	// The store's settings come first: for single-valued keys the driver
	// takes the first occurrence, so a DSN cannot turn off UTC or the
	// immediate transactions the store relies on.
	params := append([]string{},
		"_pragma=foreign_keys(1)",
		// Dates are written as naive UTC text and read back as UTC.
		"_time_format=datetime",
		"_timezone=UTC",
	)
	if !memory {
		params = append(params,
			// Writers of both services wait for each other instead of
			// failing at once.
			"_pragma=busy_timeout("+strconv.FormatInt(sqliteBusyTimeout.Milliseconds(), 10)+")",
			// WAL lets readers run while one process writes.
			"_pragma=journal_mode(WAL)",
			"_pragma=synchronous(NORMAL)",
			// Write transactions take the write lock at BEGIN, so a
			// read-then-write transaction never fails half-way with
			// SQLITE_BUSY, and the busy timeout applies to it.
			"_txlock=immediate",
		)
	}
	if query != "" {
		params = append(params, query)
	}
	return base + "?" + strings.Join(params, "&"), lockPath, memory, nil
}
