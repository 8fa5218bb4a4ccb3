package config

import (
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

const testSecret = "0123456789abcdef0123456789abcdef"

func lookupOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// env returns a minimal valid environment plus kv pairs.
func env(kv ...string) map[string]string {
	m := map[string]string{"APP_SECRET_KEY": testSecret}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := FromLookup(lookupOf(env()))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"database driver", c.Database.Driver, "sqlite"},
		{"database path", c.Database.DSN, "data/itss.db"},
		{"secret", string(c.SecretKey), testSecret},
		{"auth addr", c.AuthAddr, ":5001"},
		{"tutorial addr", c.TutorialAddr, ":5002"},
		{"auth url", c.AuthURL, "http://localhost:5001"},
		{"tutorial url", c.TutorialURL, "http://localhost:5002"},
		{"private key", c.JWTPrivateKeyFile, filepath.Join("data", "keys", "jwt-ed25519.pem")},
		{"public key", c.JWTPublicKeyFile, filepath.Join("data", "keys", "jwt-ed25519.pub.pem")},
		{"public key set", c.JWTPublicKeyFileSet, false},
		{"jwks", c.JWKSURL, "http://localhost:5001/.well-known/jwks.json"},
		{"legacy", c.LegacyHS256, false},
		{"api auth", c.APIAuthRequired, true},
		{"google issuer", c.GoogleIssuerURL, "https://accounts.google.com"},
		{"storage", c.Storage, Storage{Type: "local", RecordingsPath: filepath.Join("storage", "recordings"), LayoutsPath: filepath.Join("storage", "layouts"), Region: "us-east-1"}},
		{"origins", c.AllowedOrigins, []string{"http://localhost:3000"}},
		{"proxies", len(c.TrustedProxies), 0},
		{"limiter", c.LimiterURI, "memory://"},
		{"upload", c.MaxUploadBytes, int64(300 << 20)},
		{"extensions", c.AllowedFileExtensions, []string{"wav", "mp3", "ogg", "json", "txt", "md"}},
		{"sample", c.SampleTutorialID, ""},
		{"sandbox", c.Sandbox, "auto"},
		{"run timeout", c.RunTimeout, 10 * time.Second},
		{"compile timeout", c.CompileTimeout, 10 * time.Second},
		{"workers", c.RunWorkers, runtime.NumCPU()},
		{"queue", c.RunQueue, 4 * runtime.NumCPU()},
		{"python", c.PythonBin, "python3"},
		{"java", c.JavaBin, "java"},
		{"javac", c.JavacBin, "javac"},
		{"node", c.NodeBin, "node"},
		{"data dir", c.DataDir, "data"},
		{"log level", c.LogLevel, slog.LevelInfo},
		{"debug", c.Debug, false},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
}

func TestEverySettingIsRead(t *testing.T) {
	t.Parallel()
	c, err := FromLookup(lookupOf(env(
		"DATABASE_URL", "sqlite:////var/lib/itss/itss.db",
		"AUTH_ADDR", "127.0.0.1:7001",
		"TUTORIAL_ADDR", "7002",
		"REACT_APP_AUTH_URL", "https://auth.example.org/",
		"REACT_APP_TUTORIAL_URL", "https://api.example.org/tutorial/",
		"DATA_DIR", "/var/lib/itss",
		"JWT_PUBLIC_KEY_FILE", "/etc/itss/pub.pem",
		"LEGACY_HS256_TOKENS", "yes",
		"API_AUTH", "optional",
		"GOOGLE_CLIENT_ID", "cid", "GOOGLE_CLIENT_SECRET", "csecret", "GOOGLE_ISSUER_URL", "http://127.0.0.1:9999",
		"STORAGE_TYPE", "auto", "S3_BUCKET_NAME", "rec", "S3_LEARNER_BUCKET_NAME", "lay",
		"ACCESS_KEY_ID", "AK", "SECRET_ACCESS_KEY", "SK", "AWS_REGION", "eu-west-1", "S3_ENDPOINT", "http://127.0.0.1:9000",
		"LOCAL_STORAGE_RECORDINGS_PATH", "/srv/rec", "LOCAL_STORAGE_LAYOUTS_PATH", "/srv/lay",
		"ALLOWED_ORIGINS", "http://localhost:3000, HTTPS://App.Example.org/",
		"TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7, ::1, fd00::/8",
		"LIMITER_STORAGE_URI", "redis://127.0.0.1:6379/1",
		"MAX_UPLOAD_SIZE_MB", "50",
		"ALLOWED_FILE_EXTENSIONS", ".WAV, json",
		"SAMPLE_TUTORIAL_ID", "858C03B2-FB62-4096-81E6-0FB11F373D50",
		"SANDBOX", "required",
		"RUN_TIMEOUT", "2.5", "COMPILE_TIMEOUT", "1m",
		"RUN_WORKERS", "3",
		"SANDBOX_UID", "2000",
		"PYTHON_BIN", "/usr/bin/python3.11", "JAVA_BIN", "j", "JAVAC_BIN", "jc", "NODE_BIN", "n",
		"LOG_LEVEL", "WARNING", "DEBUG", "True",
	)))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"database", c.Database.DSN, "/var/lib/itss/itss.db"},
		{"auth addr", c.AuthAddr, "127.0.0.1:7001"},
		{"bare port", c.TutorialAddr, ":7002"},
		{"auth url trimmed", c.AuthURL, "https://auth.example.org"},
		{"tutorial url trimmed", c.TutorialURL, "https://api.example.org/tutorial"},
		{"private key follows DATA_DIR", c.JWTPrivateKeyFile, "/var/lib/itss/keys/jwt-ed25519.pem"},
		{"public key", c.JWTPublicKeyFile, "/etc/itss/pub.pem"},
		{"public key set", c.JWTPublicKeyFileSet, true},
		{"jwks", c.JWKSURL, "https://auth.example.org/.well-known/jwks.json"},
		{"legacy", c.LegacyHS256, true},
		{"api auth", c.APIAuthRequired, false},
		{"google", []string{c.GoogleClientID, c.GoogleClientSecret, c.GoogleIssuerURL}, []string{"cid", "csecret", "http://127.0.0.1:9999"}},
		{"storage", c.Storage, Storage{Type: "auto", RecordingsPath: "/srv/rec", LayoutsPath: "/srv/lay", AccessKeyID: "AK", SecretAccessKey: "SK",
			Bucket: "rec", LearnerBucket: "lay", Region: "eu-west-1", Endpoint: "http://127.0.0.1:9000", ForcePathStyle: true}},
		{"origins normalised", c.AllowedOrigins, []string{"http://localhost:3000", "https://app.example.org"}},
		{"proxies", c.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("fd00::/8")}},
		{"limiter", c.LimiterURI, "redis://127.0.0.1:6379/1"},
		{"upload", c.MaxUploadBytes, int64(50 << 20)},
		{"extensions", c.AllowedFileExtensions, []string{"wav", "json"}},
		{"sample normalised", c.SampleTutorialID, "858c03b2fb62409681e60fb11f373d50"},
		{"sandbox uid", c.SandboxUID, 2000},
		{"sandbox", c.Sandbox, "required"},
		{"plain seconds", c.RunTimeout, 2500 * time.Millisecond},
		{"go duration", c.CompileTimeout, time.Minute},
		{"workers", c.RunWorkers, 3},
		{"queue follows workers", c.RunQueue, 12},
		{"bins", []string{c.PythonBin, c.JavaBin, c.JavacBin, c.NodeBin}, []string{"/usr/bin/python3.11", "j", "jc", "n"}},
		{"data dir", c.DataDir, "/var/lib/itss"},
		{"explicit level wins over DEBUG", c.LogLevel, slog.LevelWarn},
		{"debug", c.Debug, true},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
}

func TestDebugAloneLowersTheLogLevel(t *testing.T) {
	t.Parallel()
	c, err := FromLookup(lookupOf(env("DEBUG", "1")))
	if err != nil || c.LogLevel != slog.LevelDebug {
		t.Fatalf("level = %v, err = %v", c, err)
	}
}

func TestSQLAlchemyURIWinsOverDatabaseURL(t *testing.T) {
	t.Parallel()
	c, err := FromLookup(lookupOf(env("SQLALCHEMY_DATABASE_URI", "sqlite:///a.db", "DATABASE_URL", "sqlite:///b.db")))
	if err != nil || c.Database.DSN != "a.db" {
		t.Fatalf("got %+v, %v", c, err)
	}
}

func TestBlankValuesMeanDefaults(t *testing.T) {
	t.Parallel()
	c, err := FromLookup(lookupOf(env("API_AUTH", "", "RUN_TIMEOUT", "  ", "ALLOWED_ORIGINS", "")))
	if err != nil {
		t.Fatal(err)
	}
	if !c.APIAuthRequired || c.RunTimeout != 10*time.Second || len(c.AllowedOrigins) != 1 {
		t.Fatalf("blank values not defaulted: %+v", c)
	}
}

func TestStorageS3DefaultsToVirtualHostsOnAWS(t *testing.T) {
	t.Parallel()
	c, err := FromLookup(lookupOf(env("STORAGE_TYPE", "s3", "S3_BUCKET_NAME", "a", "S3_LEARNER_BUCKET_NAME", "b")))
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage.ForcePathStyle || c.Storage.Endpoint != "" {
		t.Fatalf("storage = %+v", c.Storage)
	}
}

func TestParseDatabaseURIForms(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, uri, driver string
		// for mysql: the parsed go-sql-driver config must hold these
		user, pass, net, addr, db string
		params                    map[string]string
		charset, collation        string
		tls                       string
		timeout                   time.Duration
		// for sqlite: the path
		path     string
		redacted string
	}{
		{name: "original deployment mysqlconnector", uri: "mysql+mysqlconnector://itss:secret@db.example.org:3306/itss",
			driver: "mysql", user: "itss", pass: "secret", net: "tcp", addr: "db.example.org:3306", db: "itss",
			redacted: "mysql+mysqlconnector://itss:xxxxx@db.example.org:3306/itss"},
		{name: "pymysql", uri: "mysql+pymysql://u:p@localhost/d", driver: "mysql", user: "u", pass: "p", net: "tcp", addr: "localhost:3306", db: "d"},
		{name: "plain mysql default port", uri: "mysql://u:p@127.0.0.1/d", driver: "mysql", user: "u", pass: "p", net: "tcp", addr: "127.0.0.1:3306", db: "d"},
		{name: "mariadb scheme", uri: "mariadb://u@h:3307/d", driver: "mysql", user: "u", net: "tcp", addr: "h:3307", db: "d"},
		{name: "ipv6 host", uri: "mysql://u:p@[::1]:3306/d", driver: "mysql", user: "u", pass: "p", net: "tcp", addr: "[::1]:3306", db: "d"},
		{name: "percent-encoded password", uri: "mysql+mysqlconnector://u:p%40ss%3Aw%2Frd%25@h/d", driver: "mysql", user: "u", pass: "p@ss:w/rd%", net: "tcp", addr: "h:3306", db: "d",
			redacted: "mysql+mysqlconnector://u:xxxxx@h/d"},
		{name: "unix socket", uri: "mysql+pymysql://u:p@/d?unix_socket=/run/mysqld/mysqld.sock", driver: "mysql", user: "u", pass: "p", net: "unix", addr: "/run/mysqld/mysqld.sock", db: "d"},
		{name: "utf8mb4 charset keeps the unicode collation", uri: "mysql://u:p@h/d?charset=utf8mb4", driver: "mysql", user: "u", pass: "p", net: "tcp", addr: "h:3306", db: "d"},
		{name: "other charset drops the default collation", uri: "mysql://u:p@h/d?charset=latin1", driver: "mysql", user: "u", pass: "p", net: "tcp", addr: "h:3306", db: "d", charset: "latin1", collation: "-"},
		{name: "driver options kept", uri: "mysql://u:p@h/d?tls=skip-verify&sql_mode=ANSI&use_pure=True&connect_timeout=5", driver: "mysql", user: "u", pass: "p", net: "tcp", addr: "h:3306", db: "d",
			params: map[string]string{"sql_mode": "ANSI"}, tls: "skip-verify", timeout: 5 * time.Second},
		{name: "ssl_disabled maps to tls false", uri: "mysql+mysqlconnector://u:p@h/d?ssl_disabled=True", driver: "mysql", user: "u", pass: "p", net: "tcp", addr: "h:3306", db: "d", tls: "false"},
		{name: "sqlite relative", uri: "sqlite:///data/itss.db", driver: "sqlite", path: "data/itss.db", redacted: "sqlite:///data/itss.db"},
		{name: "sqlite absolute", uri: "sqlite:////var/lib/itss/itss.db", driver: "sqlite", path: "/var/lib/itss/itss.db", redacted: "sqlite:////var/lib/itss/itss.db"},
		{name: "sqlite python flag dropped", uri: "sqlite:///x.db?check_same_thread=false", driver: "sqlite", path: "x.db"},
		{name: "sqlite with driver suffix", uri: "sqlite+pysqlite:///x.db", driver: "sqlite", path: "x.db"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db, err := ParseDatabaseURI(c.uri)
			if err != nil {
				t.Fatalf("ParseDatabaseURI: %v", err)
			}
			if db.Driver != c.driver {
				t.Fatalf("driver = %q", db.Driver)
			}
			if c.redacted != "" && db.Redacted != c.redacted {
				t.Errorf("redacted = %q, want %q", db.Redacted, c.redacted)
			}
			if c.pass != "" && strings.Contains(db.Redacted, ":"+c.pass+"@") {
				t.Errorf("redacted form %q shows the password", db.Redacted)
			}
			if c.driver == "sqlite" {
				if db.DSN != c.path {
					t.Errorf("path = %q, want %q", db.DSN, c.path)
				}
				return
			}
			cfg, err := mysql.ParseDSN(db.DSN)
			if err != nil {
				t.Fatalf("DSN %q does not parse: %v", db.DSN, err)
			}
			if cfg.User != c.user || cfg.Passwd != c.pass || cfg.Net != c.net || cfg.Addr != c.addr || cfg.DBName != c.db {
				t.Errorf("cfg = user %q pass %q net %q addr %q db %q", cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName)
			}
			if !cfg.ParseTime || cfg.Loc != time.UTC {
				t.Errorf("parseTime/loc not forced: %q", db.DSN)
			}
			if cfg.Params["time_zone"] != "'+00:00'" {
				t.Errorf("time_zone = %q in %q", cfg.Params["time_zone"], db.DSN)
			}
			wantCharset, wantColl := "utf8mb4", "utf8mb4_unicode_ci"
			if c.charset != "" {
				wantCharset = c.charset
			}
			if c.collation == "-" {
				wantColl = ""
			}
			if !strings.Contains(db.DSN, "charset="+wantCharset) || cfg.Collation != wantColl {
				t.Errorf("charset/collation wrong in %q (collation %q)", db.DSN, cfg.Collation)
			}
			if cfg.TLSConfig != c.tls {
				t.Errorf("tls = %q, want %q", cfg.TLSConfig, c.tls)
			}
			if cfg.Timeout != c.timeout {
				t.Errorf("timeout = %v, want %v", cfg.Timeout, c.timeout)
			}
			for k, v := range c.params {
				if cfg.Params[k] != v {
					t.Errorf("param %s = %q, want %q", k, cfg.Params[k], v)
				}
			}
			if _, ok := cfg.Params["use_pure"]; ok {
				t.Errorf("python-only option passed on: %q", db.DSN)
			}
		})
	}
}

func TestParseDatabaseURIRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, uri, want string }{
		{"no scheme", "itss.db", "not a URI"},
		{"postgres", "postgresql://u:p@h/d", `unsupported database "postgresql"`},
		{"mysql without user", "mysql://h/d", "user name missing"},
		{"mysql without database", "mysql://u:p@h:3306/", "database name missing"},
		{"mysql without host", "mysql://u:p@/d", "host missing"},
		{"mysql bad port", "mysql://u:p@h:99999/d", "invalid port"},
		{"mysql unencoded percent", "mysql://u:p%zz@h/d", "malformed URI"},
		{"mysql python ssl files", "mysql+mysqlconnector://u:p@h/d?ssl_ca=/x.pem", "ssl_ca is not supported"},
		{"mysql removed strict option", "mysql://u:p@h/d?strict=true", "strict is not supported"},
		{"mysql bad driver option", "mysql://u:p@h/d?parseTime=maybe", "invalid query options"},
		{"mysql bad connect timeout", "mysql://u:p@h/d?connect_timeout=soon", "connect_timeout"},
		{"sqlite empty path", "sqlite://", "sqlite URI must be"},
		{"sqlite host form", "sqlite://host/x.db", "sqlite URI must be"},
		{"sqlite memory", "sqlite:///:memory:", "needs a file path"},
		{"sqlite unknown option", "sqlite:///x.db?mode=ro", "not supported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseDatabaseURI(c.uri)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "p%zz") || strings.Contains(err.Error(), ":p@") {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"missing secret", map[string]string{}, "APP_SECRET_KEY: is required"},
		{"short secret", map[string]string{"APP_SECRET_KEY": "short"}, "APP_SECRET_KEY: must be at least 32 bytes, got 5"},
		{"bad database", env("SQLALCHEMY_DATABASE_URI", "oracle://x"), "SQLALCHEMY_DATABASE_URI: unsupported database"},
		{"bad database url", env("DATABASE_URL", "mysql://u:hunter2@h/"), "DATABASE_URL: database name missing"},
		{"bad addr", env("AUTH_ADDR", "localhost"), "AUTH_ADDR:"},
		{"port out of range", env("TUTORIAL_ADDR", ":70000"), "TUTORIAL_ADDR:"},
		{"bad url", env("REACT_APP_AUTH_URL", "localhost:5001"), "REACT_APP_AUTH_URL:"},
		{"ftp url", env("REACT_APP_TUTORIAL_URL", "ftp://x"), "REACT_APP_TUTORIAL_URL:"},
		{"bad api auth", env("API_AUTH", "off"), `API_AUTH: "off" is not one of required, optional`},
		{"bad bool", env("LEGACY_HS256_TOKENS", "maybe"), "LEGACY_HS256_TOKENS:"},
		{"bad storage type", env("STORAGE_TYPE", "gcs"), "STORAGE_TYPE:"},
		{"s3 without buckets", env("STORAGE_TYPE", "s3"), "S3_BUCKET_NAME: is required when STORAGE_TYPE is s3"},
		{"auto without learner bucket", env("STORAGE_TYPE", "auto", "S3_BUCKET_NAME", "a"), "S3_LEARNER_BUCKET_NAME: is required when STORAGE_TYPE is auto"},
		{"half credentials", env("ACCESS_KEY_ID", "AK"), "ACCESS_KEY_ID: and SECRET_ACCESS_KEY must be set together"},
		{"bad endpoint", env("S3_ENDPOINT", "minio:9000"), "S3_ENDPOINT:"},
		{"wildcard origin", env("ALLOWED_ORIGINS", "*"), "ALLOWED_ORIGINS:"},
		{"origin with path", env("ALLOWED_ORIGINS", "http://a.example/app"), "ALLOWED_ORIGINS:"},
		{"bad proxy", env("TRUSTED_PROXIES", "10.0.0.0/33"), "TRUSTED_PROXIES:"},
		{"proxy hostname", env("TRUSTED_PROXIES", "proxy.local"), "TRUSTED_PROXIES:"},
		{"bad limiter", env("LIMITER_STORAGE_URI", "memcached://h"), "LIMITER_STORAGE_URI:"},
		{"limiter without host", env("LIMITER_STORAGE_URI", "redis://"), "LIMITER_STORAGE_URI:"},
		{"upload zero", env("MAX_UPLOAD_SIZE_MB", "0"), "MAX_UPLOAD_SIZE_MB:"},
		{"upload words", env("MAX_UPLOAD_SIZE_MB", "lots"), "MAX_UPLOAD_SIZE_MB:"},
		{"bad extension", env("ALLOWED_FILE_EXTENSIONS", "wav,../x"), "ALLOWED_FILE_EXTENSIONS:"},
		{"bad sample id", env("SAMPLE_TUTORIAL_ID", "sample"), "SAMPLE_TUTORIAL_ID:"},
		{"bad sandbox", env("SANDBOX", "maybe"), "SANDBOX:"},
		{"zero run timeout", env("RUN_TIMEOUT", "0"), "RUN_TIMEOUT:"},
		{"negative compile timeout", env("COMPILE_TIMEOUT", "-1s"), "COMPILE_TIMEOUT:"},
		{"garbage timeout", env("RUN_TIMEOUT", "ten"), "RUN_TIMEOUT:"},
		{"zero workers", env("RUN_WORKERS", "0"), "RUN_WORKERS:"},
		{"root sandbox uid", env("SANDBOX_UID", "0"), "SANDBOX_UID:"},
		{"negative queue", env("RUN_QUEUE", "-1"), "RUN_QUEUE:"},
		{"zero queue", env("RUN_QUEUE", "0"), "RUN_QUEUE:"},
		{"bad level", env("LOG_LEVEL", "verbose"), "LOG_LEVEL:"},
		{"bad google issuer", env("GOOGLE_ISSUER_URL", "accounts.google.com"), "GOOGLE_ISSUER_URL:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := FromLookup(lookupOf(c.env))
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "config: ") || !strings.Contains(msg, c.want) {
				t.Fatalf("err = %q, want it to contain %q", msg, c.want)
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error is not one line: %q", msg)
			}
			if strings.Contains(msg, "hunter2") {
				t.Fatalf("error shows a password: %q", msg)
			}
		})
	}
}

func TestAllProblemsReportedInOneLine(t *testing.T) {
	t.Parallel()
	_, err := FromLookup(lookupOf(map[string]string{"SANDBOX": "x", "API_AUTH": "y"}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"APP_SECRET_KEY", "SANDBOX", "API_AUTH"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q missing from %q", want, err)
		}
	}
}

func TestDotEnvIsReadAndEnvironmentWins(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	content := "APP_SECRET_KEY=" + testSecret + "\nSANDBOX=off\nAPI_AUTH=optional\n# comment\nRUN_WORKERS=\"2\"\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(path, lookupOf(map[string]string{"SANDBOX": "required"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sandbox != "required" {
		t.Errorf("environment did not win: sandbox %q", c.Sandbox)
	}
	if c.APIAuthRequired || c.RunWorkers != 2 {
		t.Errorf(".env not read: api %v workers %d", c.APIAuthRequired, c.RunWorkers)
	}
}

func TestMissingDotEnvIsFine(t *testing.T) {
	t.Parallel()
	if _, err := load(filepath.Join(t.TempDir(), ".env"), lookupOf(env())); err != nil {
		t.Fatal(err)
	}
}

func TestMalformedDotEnvIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte("APP_SECRET_KEY='unterminated\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := load(path, lookupOf(env()))
	if err == nil || !strings.HasPrefix(err.Error(), "config: ") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v", err)
	}
}

func TestMalformedDotEnvErrorShowsNoValues(t *testing.T) {
	t.Parallel()
	// The parser's own messages quote the rest of the file from the bad line
	// on, or the unterminated value: secrets must not reach the log.
	cases := []struct {
		name, content, want string
	}{
		{"bad variable name", "DATABASE_URL=mysql://u:dbpass@h/d\nBAD-NAME=1\nAPP_SECRET_KEY=" + testSecret + "\nSECRET_ACCESS_KEY=s3secret\n",
			"line 2: a variable name"},
		{"unterminated quote", "# comment\nSANDBOX=off\nAPP_SECRET_KEY='" + testSecret + "\nSECRET_ACCESS_KEY=s3secret\n",
			"line 3: a quoted value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), ".env")
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := load(path, lookupOf(env()))
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			for _, secret := range []string{"dbpass", testSecret, "s3secret"} {
				if strings.Contains(msg, secret) {
					t.Fatalf("error shows %q: %s", secret, msg)
				}
			}
			if !strings.HasPrefix(msg, "config: ") || !strings.Contains(msg, c.want) || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("err = %q, want one line containing %q", msg, c.want)
			}
		})
	}
}

func TestLoadReadsDotEnvInWorkingDirectory(t *testing.T) {
	// Not parallel: changes the working directory and the environment.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("APP_SECRET_KEY="+testSecret+"\nNODE_BIN=from-dotenv\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	t.Setenv("NODE_BIN", "from-env")
	t.Setenv("PYTHON_BIN", "")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeBin != "from-env" || c.PythonBin != "python3" {
		t.Fatalf("node %q python %q", c.NodeBin, c.PythonBin)
	}
}

func TestLogValueHidesSecrets(t *testing.T) {
	t.Parallel()
	c, err := FromLookup(lookupOf(env(
		"SQLALCHEMY_DATABASE_URI", "mysql://u:dbpass@h/d", "GOOGLE_CLIENT_SECRET", "gsecret",
		"ACCESS_KEY_ID", "AK", "SECRET_ACCESS_KEY", "s3secret", "LIMITER_STORAGE_URI", "redis://:rpass@h:6379/0")))
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	slog.New(slog.NewJSONHandler(&sb, nil)).Info("config", "config", c)
	out := sb.String()
	for _, secret := range []string{testSecret, "dbpass", "gsecret", "s3secret", "rpass"} {
		if strings.Contains(out, secret) {
			t.Errorf("log shows %q: %s", secret, out)
		}
	}
	if !strings.Contains(out, "mysql://u:xxxxx@h/d") {
		t.Errorf("log lacks the redacted database: %s", out)
	}
}
