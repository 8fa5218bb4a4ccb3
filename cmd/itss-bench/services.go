package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mysqlDSNEnv names the go-sql-driver DSN of a MySQL/MariaDB server the
// harness may create a database on (the same variable the tests use).
const mysqlDSNEnv = "ITSS_TEST_MYSQL_DSN"

// configVars are the settings the services read. The harness removes them
// from its own environment before starting the services, so that a
// developer's shell cannot change what is measured; --service-env adds back
// what a run needs.
var configVars = []string{
	"SQLALCHEMY_DATABASE_URI", "DATABASE_URL", "APP_SECRET_KEY", "AUTH_ADDR", "TUTORIAL_ADDR",
	"REACT_APP_AUTH_URL", "REACT_APP_TUTORIAL_URL", "JWT_PRIVATE_KEY_FILE", "JWT_PUBLIC_KEY_FILE",
	"LEGACY_HS256_TOKENS", "API_AUTH", "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET", "GOOGLE_ISSUER_URL",
	"STORAGE_TYPE", "LOCAL_STORAGE_RECORDINGS_PATH", "LOCAL_STORAGE_LAYOUTS_PATH", "ACCESS_KEY_ID",
	"SECRET_ACCESS_KEY", "S3_BUCKET_NAME", "S3_LEARNER_BUCKET_NAME", "AWS_REGION", "S3_ENDPOINT",
	"S3_FORCE_PATH_STYLE", "ALLOWED_ORIGINS", "TRUSTED_PROXIES", "LIMITER_STORAGE_URI",
	"MAX_UPLOAD_SIZE_MB", "ALLOWED_FILE_EXTENSIONS", "SAMPLE_TUTORIAL_ID", "SANDBOX", "RUN_TIMEOUT",
	"COMPILE_TIMEOUT", "RUN_WORKERS", "RUN_QUEUE", "PYTHON_BIN", "JAVA_BIN", "JAVAC_BIN", "NODE_BIN",
	"SANDBOX_UID", "DATA_DIR", "LOG_LEVEL", "DEBUG",
}

type binPaths struct{ auth, tutorial string }

// binaries returns the service binaries: prebuilt ones from --bin-dir, or a
// fresh `go build` of the module into the temporary folder, so the numbers
// are always those of the sources at hand.
func binaries(ctx context.Context, o *options, tmp string, log *slog.Logger) (binPaths, error) {
	if o.binDir != "" {
		b := binPaths{auth: filepath.Join(o.binDir, "auth"), tutorial: filepath.Join(o.binDir, "tutorial")}
		for _, p := range []string{b.auth, b.tutorial} {
			if fi, err := os.Stat(p); err != nil || fi.IsDir() {
				return b, fmt.Errorf("--bin-dir: %s is not a binary", p)
			}
		}
		return b, nil
	}
	root := o.repo
	if root == "" {
		var err error
		if root, err = moduleRoot(); err != nil {
			return binPaths{}, err
		}
	}
	out := filepath.Join(tmp, "bin")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return binPaths{}, err
	}
	log.Info("building the services", "module", root)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out+string(filepath.Separator), "./cmd/auth", "./cmd/tutorial")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return binPaths{}, fmt.Errorf("go build ./cmd/auth ./cmd/tutorial: %w\n%s", err, b)
	}
	return binPaths{auth: filepath.Join(out, "auth"), tutorial: filepath.Join(out, "tutorial")}, nil
}

// moduleRoot walks up from the working directory to this module's go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/itss-go/itss\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the github.com/itss-go/itss module: use --repo or --bin-dir")
		}
		dir = parent
	}
}

// prepareDatabase returns the SQLALCHEMY_DATABASE_URI for one run and a
// cleanup. MySQL gets a database of its own, dropped afterwards.
func prepareDatabase(ctx context.Context, db, dir string, keep bool, log *slog.Logger) (string, func(), error) {
	if db == "sqlite" {
		// Four slashes: an absolute path.
		return "sqlite:///" + filepath.Join(dir, "itss.db"), func() {}, nil
	}
	admin, uri, name, err := mysqlTarget(os.Getenv(mysqlDSNEnv), "itss_bench_"+randomHex(4))
	if err != nil {
		return "", nil, err
	}
	conn, err := sql.Open("mysql", admin)
	if err != nil {
		return "", nil, fmt.Errorf("mysql: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		conn.Close()
		return "", nil, fmt.Errorf("mysql: create database %s: %w", name, err)
	}
	log.Info("created MySQL database", "name", name)
	return uri, func() {
		defer conn.Close()
		if keep {
			log.Info("keeping MySQL database", "name", name)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ctx, "DROP DATABASE `"+name+"`"); err != nil {
			log.Warn("could not drop the MySQL database", "name", name, "err", err)
		}
	}, nil
}

// mysqlTarget turns a go-sql-driver DSN into an admin DSN without a
// database, and the mysql:// URI the services accept for database name.
func mysqlTarget(dsn, name string) (admin, uri, dbName string, err error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", "", "", fmt.Errorf("%s: %w", mysqlDSNEnv, err)
	}
	if cfg.Net != "tcp" {
		return "", "", "", fmt.Errorf("%s: only tcp(host:port) addresses can be handed to the services", mysqlDSNEnv)
	}
	cfg.DBName = ""
	admin = cfg.FormatDSN()
	u := url.URL{Scheme: "mysql", Host: cfg.Addr, Path: "/" + name}
	if cfg.Passwd != "" {
		u.User = url.UserPassword(cfg.User, cfg.Passwd)
	} else {
		u.User = url.User(cfg.User)
	}
	return admin, u.String(), name, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before the service binds it; the health wait then reports that.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// service is one started service process.
type service struct {
	name, url, logPath string
	cmd                *exec.Cmd
	done               chan struct{} // closed when the process exited
	exitErr            error
}

type services struct{ auth, tutorial *service }

func startServices(ctx context.Context, o *options, bins binPaths, dir, dbURI string, log *slog.Logger) (*services, error) {
	authPort, err := freePort()
	if err != nil {
		return nil, err
	}
	tutPort, err := freePort()
	if err != nil {
		return nil, err
	}
	authURL := "http://127.0.0.1:" + strconv.Itoa(authPort)
	tutURL := "http://127.0.0.1:" + strconv.Itoa(tutPort)
	data := filepath.Join(dir, "data")
	for _, d := range []string{data, filepath.Join(dir, "storage", "recordings"), filepath.Join(dir, "storage", "layouts")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	env := map[string]string{
		"SQLALCHEMY_DATABASE_URI":       dbURI,
		"APP_SECRET_KEY":                randomHex(32),
		"AUTH_ADDR":                     "127.0.0.1:" + strconv.Itoa(authPort),
		"TUTORIAL_ADDR":                 "127.0.0.1:" + strconv.Itoa(tutPort),
		"REACT_APP_AUTH_URL":            authURL,
		"REACT_APP_TUTORIAL_URL":        tutURL,
		"DATA_DIR":                      data,
		"JWT_PRIVATE_KEY_FILE":          filepath.Join(data, "keys", "jwt-ed25519.pem"),
		"JWT_PUBLIC_KEY_FILE":           filepath.Join(data, "keys", "jwt-ed25519.pub.pem"),
		"API_AUTH":                      "required",
		"STORAGE_TYPE":                  "local",
		"LOCAL_STORAGE_RECORDINGS_PATH": filepath.Join(dir, "storage", "recordings"),
		"LOCAL_STORAGE_LAYOUTS_PATH":    filepath.Join(dir, "storage", "layouts"),
		// Every simulated person arrives with its own X-Forwarded-For address.
		"TRUSTED_PROXIES":     "127.0.0.1/32,::1/128",
		"LIMITER_STORAGE_URI": "memory://",
		"LOG_LEVEL":           o.serviceLogs,
	}
	for _, kv := range o.serviceEnv {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	s := &services{}
	// The auth service creates the key pair the tutorial service reads: it
	// goes first and must answer before the tutorial service starts.
	if s.auth, err = startService("auth", bins.auth, dir, authURL, env, log); err != nil {
		return nil, err
	}
	if err := s.auth.waitHealthy(ctx, 60*time.Second); err != nil {
		_ = s.stop(log)
		return nil, err
	}
	if s.tutorial, err = startService("tutorial", bins.tutorial, dir, tutURL, env, log); err != nil {
		_ = s.stop(log)
		return nil, err
	}
	if err := s.tutorial.waitHealthy(ctx, 60*time.Second); err != nil {
		_ = s.stop(log)
		return nil, err
	}
	return s, nil
}

func startService(name, bin, dir, baseURL string, env map[string]string, log *slog.Logger) (*service, error) {
	logPath := filepath.Join(dir, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	// The working folder has no .env, so only the environment below counts.
	cmd.Dir = dir
	cmd.Env = serviceEnviron(os.Environ(), env)
	cmd.Stdout, cmd.Stderr = lf, lf
	// A group of its own: Ctrl-C on the terminal reaches the harness only,
	// which then stops the services in order; the group also lets a final
	// SIGKILL take any sandboxed program with the service.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &service{name: name, url: baseURL, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		s.exitErr = cmd.Wait()
		lf.Close()
		close(s.done)
	}()
	log.Info("started", "service", name, "pid", cmd.Process.Pid, "url", baseURL, "log", logPath)
	return s, nil
}

// serviceEnviron keeps the harness's environment (PATH, HOME, ...) minus the
// service settings, then adds env.
func serviceEnviron(base []string, env map[string]string) []string {
	drop := map[string]bool{}
	for _, k := range configVars {
		drop[k] = true
	}
	var out []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] && env[k] == "" {
			out = append(out, kv)
		}
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func (s *service) pid() int { return s.cmd.Process.Pid }

func (s *service) waitHealthy(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/health", nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("%s exited during start-up (%v); last log lines:\n%s", s.name, s.exitErr, tail(s.logPath, 30))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer %s/health within %s; last log lines:\n%s", s.name, s.url, limit, tail(s.logPath, 30))
		}
	}
}

// stop sends SIGTERM (graceful shutdown: in-flight requests finish, running
// sandboxes are killed) and SIGKILLs the process group after 30 s.
func (s *service) stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return nil
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-s.pid(), syscall.SIGKILL)
		<-s.done
		return fmt.Errorf("%s did not stop within 30 s of SIGTERM; killed", s.name)
	}
}

func (ss *services) stop(log *slog.Logger) error {
	var errs []error
	for _, s := range []*service{ss.tutorial, ss.auth} {
		if s == nil {
			continue
		}
		if err := s.stop(); err != nil {
			errs = append(errs, err)
		}
		log.Info("stopped", "service", s.name)
	}
	return errors.Join(errs...)
}

// tail returns the last n lines of a file, for start-up failures.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// resetPeakRSS clears the kernel's high-water mark of the resident set
// (VmHWM), so the next reading is the peak of one scenario. Writing "5" to
// clear_refs needs Linux 4.0 and the same user; false means the reading will
// be the peak since start.
func resetPeakRSS(pid int) bool {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
}

// peakRSS reads VmHWM (KiB) from /proc/<pid>/status.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmHWM(b)
}

func parseVmHWM(status []byte) (int64, error) {
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) < 1 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, errors.New("no VmHWM line")
}
