package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Database is where the services keep their rows.
type Database struct {
	Driver   string // "mysql" | "sqlite" (database/sql driver names)
	DSN      string // driver-native: go-sql-driver DSN, or the SQLite file path
	Redacted string // the URI with its password masked, for logs
}

// Options of SQLAlchemy's Python drivers that mean nothing to go-sql-driver.
// They are dropped rather than passed on, because go-sql-driver sends any
// option it does not know as "SET <name>=<value>", which would make MySQL
// refuse every connection of an .env written for the original deployment.
var pythonOnlyOptions = map[string]bool{
	"use_pure": true, "auth_plugin": true, "autocommit": true, "raise_on_warnings": true,
	"buffered": true, "get_warnings": true, "consume_results": true, "client_flag": true,
	"local_infile": true, "binary_prefix": true, "program_name": true, "use_unicode": true,
	"pool_name": true, "pool_size": true, "pool_reset_session": true,
}

// TLS options of the Python drivers that would need certificate files
// registered with the driver; the go-sql-driver spelling is tls=true,
// tls=skip-verify or tls=preferred.
var unsupportedTLSOptions = []string{"ssl_ca", "ssl_cert", "ssl_key", "ssl_verify_cert", "ssl_verify_identity", "ssl"}

// ParseDatabaseURI turns a SQLAlchemy-style URI into a driver and DSN:
//
//	mysql://user:pw@host:3306/db, mysql+mysqlconnector://…, mysql+pymysql://…
//	(also mariadb:// and any mysql+<driver>://), with percent-encoded user and
//	password, unix_socket=/path, and query options kept;
//	sqlite:///relative/path and sqlite:////absolute/path.
//
// Error messages never contain the URI, which may hold a password.
func ParseDatabaseURI(uri string) (Database, error) {
	uri = strings.TrimSpace(uri)
	scheme, _, ok := strings.Cut(uri, "://")
	if !ok {
		return Database{}, errors.New("not a URI (expected mysql://user:password@host:3306/db or sqlite:///path)")
	}
	dialect, _, _ := strings.Cut(strings.ToLower(scheme), "+")
	switch dialect {
	case "mysql", "mariadb":
		return parseMySQL(uri)
	case "sqlite":
		return parseSQLite(uri)
	default:
		return Database{}, fmt.Errorf("unsupported database %q (use mysql:// or sqlite:///)", dialect)
	}
}

func parseMySQL(uri string) (Database, error) {
	u, err := url.Parse(uri)
	if err != nil {
		// url.Parse quotes the whole input, password included: say why without it.
		return Database{}, errors.New("malformed URI (percent-encode special characters of the password, e.g. @ as %40)")
	}
	cfg := mysql.NewConfig()
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	if cfg.User == "" {
		return Database{}, errors.New("user name missing (mysql://user:password@host:3306/db)")
	}
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if cfg.DBName == "" || strings.Contains(cfg.DBName, "/") {
		return Database{}, errors.New("database name missing or malformed (mysql://user:password@host:3306/db)")
	}
	q := u.Query()
	if sock := q.Get("unix_socket"); sock != "" {
		cfg.Net, cfg.Addr = "unix", sock
		q.Del("unix_socket")
	} else {
		host := u.Hostname()
		if host == "" {
			return Database{}, errors.New("host missing (mysql://user:password@host:3306/db)")
		}
		port := u.Port()
		if port == "" {
			port = "3306"
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return Database{}, fmt.Errorf("invalid port %q", port)
		}
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(host, port)
	}

	// The store relies on UTC times and full Unicode: these are fixed.
	charset, collation := "utf8mb4", "utf8mb4_unicode_ci"
	if v := q.Get("charset"); v != "" {
		charset = v
		if !strings.EqualFold(v, "utf8mb4") {
			collation = "" // a default collation of another charset is the server's choice
		}
	}
	if v := q.Get("collation"); v != "" {
		collation = v
	}
	q.Del("charset")
	q.Del("collation")
	if err := cfg.Apply(mysql.Charset(charset, collation)); err != nil {
		return Database{}, fmt.Errorf("charset: %w", err)
	}

	// SQLAlchemy names with a go-sql-driver equivalent.
	for name, target := range map[string]*time.Duration{"connect_timeout": &cfg.Timeout, "read_timeout": &cfg.ReadTimeout, "write_timeout": &cfg.WriteTimeout} {
		if v := q.Get(name); v != "" {
			d, err := parseDuration(v)
			if err != nil {
				return Database{}, fmt.Errorf("option %s: %w", name, err)
			}
			*target = d
			q.Del(name)
		}
	}
	if v := q.Get("ssl_disabled"); v != "" {
		b, err := parseBool(v)
		if err != nil {
			return Database{}, fmt.Errorf("option ssl_disabled: %w", err)
		}
		if b {
			cfg.TLSConfig = "false"
		}
		q.Del("ssl_disabled")
	}
	for _, name := range unsupportedTLSOptions {
		if q.Has(name) {
			return Database{}, fmt.Errorf("option %s is not supported; use tls=true, tls=skip-verify or tls=preferred", name)
		}
	}
	for name := range pythonOnlyOptions {
		q.Del(name)
	}
	if q.Has("strict") {
		// go-sql-driver panics on this long-removed option.
		return Database{}, errors.New("option strict is not supported")
	}

	// Whatever is left is go-sql-driver's to interpret (tls, timeout,
	// maxAllowedPacket, …, or a session variable to SET). Parsing the
	// combined DSN validates it; parseTime and loc are then forced because
	// the store scans DATETIME columns into time.Time in UTC.
	dsn := cfg.FormatDSN()
	if len(q) > 0 {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + q.Encode()
	}
	parsed, err := mysql.ParseDSN(dsn)
	if err != nil {
		return Database{}, fmt.Errorf("invalid query options: %s", redactDSNError(err, cfg.Passwd))
	}
	parsed.ParseTime = true
	parsed.Loc = time.UTC
	if parsed.Params == nil {
		parsed.Params = map[string]string{}
	}
	// DATETIME values are written and compared as UTC whatever the server's zone.
	if _, ok := parsed.Params["time_zone"]; !ok {
		parsed.Params["time_zone"] = "'+00:00'"
	}
	return Database{Driver: "mysql", DSN: parsed.FormatDSN(), Redacted: u.Redacted()}, nil
}

func redactDSNError(err error, password string) string {
	msg := err.Error()
	if password != "" {
		msg = strings.ReplaceAll(msg, password, "xxxxx")
	}
	return msg
}

func parseSQLite(uri string) (Database, error) {
	// Not url.Parse: SQLAlchemy takes everything after "sqlite:///" as a
	// path, including characters a URL would treat specially.
	_, rest, _ := strings.Cut(uri, "://")
	if !strings.HasPrefix(rest, "/") {
		return Database{}, errors.New("sqlite URI must be sqlite:///relative/path or sqlite:////absolute/path")
	}
	path := rest[1:] // sqlite:///data/x.db -> data/x.db; sqlite:////abs -> /abs
	if i := strings.IndexByte(path, '?'); i >= 0 {
		q, err := url.ParseQuery(path[i+1:])
		if err != nil {
			return Database{}, errors.New("malformed sqlite query options")
		}
		// check_same_thread is a Python sqlite3 flag with no meaning here.
		q.Del("check_same_thread")
		if len(q) > 0 {
			return Database{}, errors.New("sqlite query options are not supported (the store sets its own pragmas)")
		}
		path = path[:i]
	}
	if path == "" || path == ":memory:" {
		return Database{}, errors.New("sqlite needs a file path (an in-memory database would be lost and not shared between connections)")
	}
	return Database{Driver: "sqlite", DSN: path, Redacted: "sqlite:///" + path}, nil
}
