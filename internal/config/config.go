// Package config reads the services' settings from the environment and an
// optional .env file, fills in safe defaults and refuses dangerous or
// malformed values. It is the only package that reads environment variables;
// everything else receives a Config or an Options struct built from it.
//
// Variable names are the original deployment's wherever it had one, so an
// existing .env keeps working. An empty value counts as unset.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
)

// MinSecretKeyBytes is the shortest APP_SECRET_KEY accepted: it signs file
// URLs and (during a cut-over) verifies HS256 tokens, so it must not be
// guessable.
const MinSecretKeyBytes = 32

// Storage selects and configures the file storage backend.
type Storage struct {
	Type            string // "local" | "s3" | "auto"
	RecordingsPath  string // LOCAL_STORAGE_RECORDINGS_PATH
	LayoutsPath     string // LOCAL_STORAGE_LAYOUTS_PATH
	AccessKeyID     string // ACCESS_KEY_ID; empty = the AWS default credential chain
	SecretAccessKey string // SECRET_ACCESS_KEY
	Bucket          string // S3_BUCKET_NAME: recordings
	LearnerBucket   string // S3_LEARNER_BUCKET_NAME: learner layouts
	Region          string // AWS_REGION
	Endpoint        string // S3_ENDPOINT: S3-compatible store; empty = AWS
	ForcePathStyle  bool   // S3_FORCE_PATH_STYLE; defaults to true when S3_ENDPOINT is set
}

// Config is every setting of both services.
type Config struct {
	Database  Database
	SecretKey []byte // APP_SECRET_KEY, at least MinSecretKeyBytes

	AuthAddr, TutorialAddr string // AUTH_ADDR, TUTORIAL_ADDR
	AuthURL, TutorialURL   string // REACT_APP_AUTH_URL, REACT_APP_TUTORIAL_URL, no trailing slash

	JWTPrivateKeyFile string // JWT_PRIVATE_KEY_FILE (auth)
	JWTPublicKeyFile  string // JWT_PUBLIC_KEY_FILE (tutorial)
	// JWTPublicKeyFileSet reports that JWT_PUBLIC_KEY_FILE was given
	// explicitly; when it was not and the default file does not exist, the
	// tutorial service uses JWKSURL instead.
	JWTPublicKeyFileSet bool
	JWKSURL             string // <AuthURL>/.well-known/jwks.json
	LegacyHS256         bool   // LEGACY_HS256_TOKENS
	APIAuthRequired     bool   // API_AUTH=required (default) or optional

	GoogleClientID, GoogleClientSecret, GoogleIssuerURL string

	Storage Storage

	AllowedOrigins []string       // ALLOWED_ORIGINS, normalised "scheme://host[:port]"
	TrustedProxies []netip.Prefix // TRUSTED_PROXIES
	LimiterURI     string         // LIMITER_STORAGE_URI: "memory://" or "redis://host:6379/0"

	MaxUploadBytes        int64    // MAX_UPLOAD_SIZE_MB in bytes
	AllowedFileExtensions []string // ALLOWED_FILE_EXTENSIONS, lower case, no dots
	SampleTutorialID      string   // SAMPLE_TUTORIAL_ID, 32 lower-case hex; "" = the built-in sample

	Sandbox string // SANDBOX: "auto" | "required" | "off"
	// SandboxUID is the host user that runs sandboxed programs when the
	// service runs as root (SANDBOX_UID; default 65534, nobody).
	SandboxUID                 int
	RunTimeout, CompileTimeout time.Duration
	RunWorkers, RunQueue       int
	PythonBin, JavaBin         string
	JavacBin, NodeBin          string

	DataDir  string // DATA_DIR: keys, compile cache, runner root
	LogLevel slog.Level
	Debug    bool
}

// Defaults not derived from other settings.
const (
	DefaultDatabaseURI     = "sqlite:///data/itss.db"
	DefaultAllowedOrigins  = "http://localhost:3000"
	DefaultFileExtensions  = "wav,mp3,ogg,json,txt,md"
	DefaultMaxUploadSizeMB = 300
	maxUploadSizeMB        = 100 * 1024 // beyond this a setting is a typo, not a plan
)

// Load reads .env in the working directory when it exists (variables of the
// real environment win over it) and builds the Config. The error, if any, is
// one line naming every bad setting; the binaries print it and exit 2.
func Load() (*Config, error) {
	return load(".env", os.LookupEnv)
}

func load(dotenvPath string, env func(string) (string, bool)) (*Config, error) {
	file, err := godotenv.Read(dotenvPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("config: %s: %s", dotenvPath, dotenvProblem(dotenvPath, err))
	}
	return FromLookup(func(k string) (string, bool) {
		if v, ok := env(k); ok {
			return v, true
		}
		v, ok := file[k]
		return v, ok
	})
}

// dotenvProblem says why godotenv refused a file without quoting the file:
// the parser's own messages carry the rest of the file from the bad line on,
// or the unterminated value, which would print APP_SECRET_KEY and the
// database password to the log. The line number is recovered from them.
func dotenvProblem(path string, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return oneLine(err.Error()) // cannot open or read: names the file only
	}
	data, _ := os.ReadFile(path)
	msg := err.Error()
	what, offset := "cannot be parsed", -1
	switch {
	case strings.Contains(msg, " in variable name near "):
		what = "a variable name has a character other than letters, digits, _ and ."
		// "near" quotes the file from the offending statement to its end.
		_, near, _ := strings.Cut(msg, " in variable name near ")
		if rest, uerr := strconv.Unquote(near); uerr == nil && rest != "" && strings.HasSuffix(string(data), rest) {
			offset = len(data) - len(rest)
		}
	case strings.HasPrefix(msg, "unterminated quoted value "):
		what = "a quoted value is not closed"
		// The message holds the value from its opening quote to the end of its line.
		if frag := strings.TrimPrefix(msg, "unterminated quoted value "); frag != "" {
			offset = strings.Index(string(data), frag)
		}
	}
	if offset < 0 {
		return what + " (the parser's message is withheld: it quotes the file's values)"
	}
	line := 1 + strings.Count(string(data[:offset]), "\n")
	return fmt.Sprintf("line %d: %s (the line is not shown: it may hold a secret)", line, what)
}

// FromLookup builds the Config from lookup (os.LookupEnv, or a map in tests).
func FromLookup(lookup func(string) (string, bool)) (*Config, error) {
	r := &reader{lookup: lookup}
	c := &Config{}

	dbURI := r.str("SQLALCHEMY_DATABASE_URI", "")
	dbVar := "SQLALCHEMY_DATABASE_URI"
	if dbURI == "" {
		dbURI, dbVar = r.str("DATABASE_URL", DefaultDatabaseURI), "DATABASE_URL"
	}
	if db, err := ParseDatabaseURI(dbURI); err != nil {
		r.fail(dbVar, err.Error())
	} else {
		c.Database = db
	}

	switch key := r.str("APP_SECRET_KEY", ""); {
	case key == "":
		r.fail("APP_SECRET_KEY", fmt.Sprintf("is required (at least %d bytes; generate one with: openssl rand -hex 32)", MinSecretKeyBytes))
	case len(key) < MinSecretKeyBytes:
		r.fail("APP_SECRET_KEY", fmt.Sprintf("must be at least %d bytes, got %d (generate one with: openssl rand -hex 32)", MinSecretKeyBytes, len(key)))
	default:
		c.SecretKey = []byte(key)
	}

	c.AuthAddr = r.addr("AUTH_ADDR", ":5001")
	c.TutorialAddr = r.addr("TUTORIAL_ADDR", ":5002")
	c.AuthURL = r.baseURL("REACT_APP_AUTH_URL", "http://localhost:5001")
	c.TutorialURL = r.baseURL("REACT_APP_TUTORIAL_URL", "http://localhost:5002")

	c.DataDir = filepath.Clean(r.str("DATA_DIR", "data"))
	c.JWTPrivateKeyFile = r.str("JWT_PRIVATE_KEY_FILE", filepath.Join(c.DataDir, "keys", "jwt-ed25519.pem"))
	c.JWTPublicKeyFile = r.str("JWT_PUBLIC_KEY_FILE", "")
	c.JWTPublicKeyFileSet = c.JWTPublicKeyFile != ""
	if !c.JWTPublicKeyFileSet {
		c.JWTPublicKeyFile = filepath.Join(c.DataDir, "keys", "jwt-ed25519.pub.pem")
	}
	c.JWKSURL = c.AuthURL + "/.well-known/jwks.json"
	c.LegacyHS256 = r.boolean("LEGACY_HS256_TOKENS", false)
	c.APIAuthRequired = r.enum("API_AUTH", "required", "required", "optional") == "required"

	c.GoogleClientID = r.str("GOOGLE_CLIENT_ID", "")
	c.GoogleClientSecret = r.str("GOOGLE_CLIENT_SECRET", "")
	c.GoogleIssuerURL = r.url("GOOGLE_ISSUER_URL", "https://accounts.google.com")

	c.Storage = Storage{
		Type:            r.enum("STORAGE_TYPE", "local", "local", "s3", "auto"),
		RecordingsPath:  r.str("LOCAL_STORAGE_RECORDINGS_PATH", filepath.Join("storage", "recordings")),
		LayoutsPath:     r.str("LOCAL_STORAGE_LAYOUTS_PATH", filepath.Join("storage", "layouts")),
		AccessKeyID:     r.str("ACCESS_KEY_ID", ""),
		SecretAccessKey: r.str("SECRET_ACCESS_KEY", ""),
		Bucket:          r.str("S3_BUCKET_NAME", ""),
		LearnerBucket:   r.str("S3_LEARNER_BUCKET_NAME", ""),
		Region:          r.str("AWS_REGION", "us-east-1"),
		Endpoint:        r.url("S3_ENDPOINT", ""),
	}
	// S3-compatible stores (MinIO, gofakes3, …) rarely serve virtual-host
	// style buckets; AWS itself prefers them.
	c.Storage.ForcePathStyle = r.boolean("S3_FORCE_PATH_STYLE", c.Storage.Endpoint != "")
	if c.Storage.Type != "local" {
		if c.Storage.Bucket == "" {
			r.fail("S3_BUCKET_NAME", "is required when STORAGE_TYPE is "+c.Storage.Type)
		}
		if c.Storage.LearnerBucket == "" {
			r.fail("S3_LEARNER_BUCKET_NAME", "is required when STORAGE_TYPE is "+c.Storage.Type)
		}
	}
	if (c.Storage.AccessKeyID == "") != (c.Storage.SecretAccessKey == "") {
		r.fail("ACCESS_KEY_ID", "and SECRET_ACCESS_KEY must be set together")
	}

	c.AllowedOrigins = r.origins("ALLOWED_ORIGINS", DefaultAllowedOrigins)
	c.TrustedProxies = r.prefixes("TRUSTED_PROXIES")
	c.LimiterURI = r.limiterURI("LIMITER_STORAGE_URI", "memory://")

	c.MaxUploadBytes = int64(r.integer("MAX_UPLOAD_SIZE_MB", DefaultMaxUploadSizeMB, 1, maxUploadSizeMB)) << 20
	c.AllowedFileExtensions = r.extensions("ALLOWED_FILE_EXTENSIONS", DefaultFileExtensions)
	c.SampleTutorialID = r.tutorialID("SAMPLE_TUTORIAL_ID")

	c.Sandbox = r.enum("SANDBOX", "auto", "auto", "required", "off")
	c.RunTimeout = r.duration("RUN_TIMEOUT", 10*time.Second, 10*time.Minute)
	c.CompileTimeout = r.duration("COMPILE_TIMEOUT", 10*time.Second, 10*time.Minute)
	c.SandboxUID = r.integer("SANDBOX_UID", 65534, 1, 1<<31-2)
	c.RunWorkers = r.integer("RUN_WORKERS", runtime.NumCPU(), 1, 1024)
	c.RunQueue = r.integer("RUN_QUEUE", 4*c.RunWorkers, 1, 1<<20)
	c.PythonBin = r.str("PYTHON_BIN", "python3")
	c.JavaBin = r.str("JAVA_BIN", "java")
	c.JavacBin = r.str("JAVAC_BIN", "javac")
	c.NodeBin = r.str("NODE_BIN", "node")

	c.Debug = r.boolean("DEBUG", false)
	defLevel := "info"
	if c.Debug {
		defLevel = "debug" // DEBUG=true alone should make the logs verbose
	}
	c.LogLevel = r.level("LOG_LEVEL", defLevel)

	if len(r.errs) > 0 {
		return nil, errors.New("config: " + strings.Join(r.errs, "; "))
	}
	return c, nil
}

// LogValue lets a Config be logged whole without its secrets.
func (c *Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("database", c.Database.Redacted),
		slog.String("auth_addr", c.AuthAddr),
		slog.String("tutorial_addr", c.TutorialAddr),
		slog.String("auth_url", c.AuthURL),
		slog.String("tutorial_url", c.TutorialURL),
		slog.Bool("api_auth_required", c.APIAuthRequired),
		slog.Bool("legacy_hs256", c.LegacyHS256),
		slog.Bool("google", c.GoogleClientID != ""),
		slog.String("storage", c.Storage.Type),
		slog.Any("allowed_origins", c.AllowedOrigins),
		slog.Int("trusted_proxies", len(c.TrustedProxies)),
		slog.String("limiter", redactURI(c.LimiterURI)),
		slog.Int64("max_upload_bytes", c.MaxUploadBytes),
		slog.String("sandbox", c.Sandbox),
		slog.Int("run_workers", c.RunWorkers),
		slog.Int("run_queue", c.RunQueue),
		slog.String("data_dir", c.DataDir),
		slog.String("log_level", c.LogLevel.String()),
	)
}

func redactURI(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

// reader collects every problem instead of stopping at the first, so one
// start-up attempt reports all bad settings at once.
type reader struct {
	lookup func(string) (string, bool)
	errs   []string
}

func (r *reader) fail(name, msg string) {
	r.errs = append(r.errs, name+": "+oneLine(msg))
}

// raw returns the trimmed value, or "" when unset or blank.
func (r *reader) raw(name string) string {
	v, ok := r.lookup(name)
	if !ok {
		return ""
	}
	return strings.TrimSpace(v)
}

func (r *reader) str(name, def string) string {
	if v := r.raw(name); v != "" {
		return v
	}
	return def
}

func (r *reader) boolean(name string, def bool) bool {
	v := r.raw(name)
	if v == "" {
		return def
	}
	b, err := parseBool(v)
	if err != nil {
		r.fail(name, err.Error())
		return def
	}
	return b
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (true/false, 1/0, yes/no)", v)
}

func (r *reader) enum(name, def string, allowed ...string) string {
	v := strings.ToLower(r.raw(name))
	if v == "" {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(name, fmt.Sprintf("%q is not one of %s", v, strings.Join(allowed, ", ")))
	return def
}

func (r *reader) integer(name string, def, minVal, maxVal int) int {
	v := r.raw(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < minVal || n > maxVal {
		r.fail(name, fmt.Sprintf("%q is not an integer between %d and %d", v, minVal, maxVal))
		return def
	}
	return n
}

// duration accepts Go durations ("10s", "1m30s") and plain seconds ("10",
// "2.5"), the latter being what an operator used to the original types.
func (r *reader) duration(name string, def, maxVal time.Duration) time.Duration {
	v := r.raw(name)
	if v == "" {
		return def
	}
	d, err := parseDuration(v)
	if err != nil {
		r.fail(name, err.Error())
		return def
	}
	if d <= 0 || d > maxVal {
		r.fail(name, fmt.Sprintf("%q must be positive and at most %s", v, maxVal))
		return def
	}
	return d
}

func parseDuration(v string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 || f > 1e6 {
			return 0, fmt.Errorf("%q seconds is out of range", v)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. 10s, 1m, or plain seconds)", v)
	}
	return d, nil
}

func (r *reader) level(name, def string) slog.Level {
	v := strings.ToLower(r.raw(name))
	if v == "" {
		v = def
	}
	switch v {
	case "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	r.fail(name, fmt.Sprintf("%q is not one of debug, info, warn, error", v))
	return slog.LevelInfo
}

// addr accepts "host:port", ":port" or a bare port.
func (r *reader) addr(name, def string) string {
	v := r.str(name, def)
	if _, err := strconv.Atoi(v); err == nil {
		v = ":" + v
	}
	_, port, err := net.SplitHostPort(v)
	if p, perr := strconv.Atoi(port); err != nil || perr != nil || p < 0 || p > 65535 {
		r.fail(name, fmt.Sprintf("%q is not a listen address (host:port or :port)", v))
		return def
	}
	return v
}

// url checks an absolute http(s) URL; "" stays "" when def is "".
func (r *reader) url(name, def string) string {
	v := r.str(name, def)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		r.fail(name, fmt.Sprintf("%q is not an http(s) URL", redactURI(v)))
		return def
	}
	return v
}

// baseURL is url without a trailing slash, since callers append "/path".
func (r *reader) baseURL(name, def string) string {
	return strings.TrimRight(r.url(name, def), "/")
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// origins normalises each origin to what a browser sends in Origin:
// lower-case scheme and host, no path. "*" is refused: with credentials it
// is either ignored by browsers or, reflected, lets every site in.
func (r *reader) origins(name, def string) []string {
	var out []string
	for _, o := range splitList(r.str(name, def)) {
		u, err := url.Parse(o)
		if o == "*" || o == "null" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			r.fail(name, fmt.Sprintf("%q is not an origin (scheme://host[:port], no wildcard)", o))
			continue
		}
		out = append(out, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	return out
}

func (r *reader) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range splitList(r.raw(name)) {
		if p, err := netip.ParsePrefix(s); err == nil {
			if p.Addr().Is4In6() {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		r.fail(name, fmt.Sprintf("%q is not an IP address or CIDR", s))
	}
	return out
}

func (r *reader) limiterURI(name, def string) string {
	v := r.str(name, def)
	if v == "memory://" || v == "memory" {
		return "memory://"
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		r.fail(name, fmt.Sprintf("%q is neither memory:// nor redis://host:port/db", redactURI(v)))
		return def
	}
	return v
}

var extPattern = regexp.MustCompile(`^[a-z0-9]{1,16}$`)

func (r *reader) extensions(name, def string) []string {
	var out []string
	for _, e := range splitList(r.str(name, def)) {
		e = strings.ToLower(strings.TrimPrefix(e, "."))
		if !extPattern.MatchString(e) {
			r.fail(name, fmt.Sprintf("%q is not a file extension", e))
			continue
		}
		out = append(out, e)
	}
	return out
}

// tutorialID accepts the 32-hex form the system generates or the dashed
// form, and returns the stored (32 lower-case hex) form.
func (r *reader) tutorialID(name string) string {
	v := r.raw(name)
	if v == "" {
		return ""
	}
	id := strings.ToLower(v)
	if len(id) == 36 && id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-' {
		id = strings.ReplaceAll(id, "-", "")
	}
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		r.fail(name, fmt.Sprintf("%q is not a tutorial id (32 hex digits)", v))
		return ""
	}
	return id
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
