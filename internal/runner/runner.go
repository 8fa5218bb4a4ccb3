// Package runner executes learners' programs (Python, JavaScript, Java) on the
// server. Every program is treated as hostile: it runs inside a bubblewrap
// sandbox (new user, PID, network, IPC, UTS and cgroup namespaces, a read-only
// view of only the system folders the interpreters need, size-limited scratch
// folders, a seccomp filter over the kernel's riskiest interfaces) with
// resource limits applied before any of its code runs, cgroups for memory and
// process count where the host lets us write them, and a wall clock that
// kills the whole process tree. A server running as root starts the sandboxes
// as an unprivileged host user, so a program owns nothing on the host. A
// bounded worker pool with a bounded queue keeps the server responsive when
// many runs arrive at once.
//
// Limits are put in place while bubblewrap holds the sandbox's first process
// (the PID namespace's init) on --block-fd: the runner reads its pid from
// --info-fd, applies the rlimits with prlimit(2), moves it into the job's
// cgroup, and only then lets it start the program, which inherits both.
// Nothing on the host side ever opens a path the program controls, and no
// host folder is bound into a sandbox but the read-only system and
// interpreter folders: sources, the account database and cached Java jars go
// in through descriptors, output comes out through pipes, the working folder
// and /tmp are tmpfs mounts that exist only inside the sandbox, and javac's
// classes come back as a tar stream that the runner reads as bytes.
//
// The package is Linux-only: it relies on namespaces, cgroups and prlimit(2).
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/itss-go/itss/internal/itss"
)

// Sandbox modes accepted in Options.Sandbox.
const (
	SandboxAuto     = "auto"     // bubblewrap when it works, else rlimits with a loud warning
	SandboxRequired = "required" // refuse to run code without bubblewrap
	SandboxOff      = "off"      // no isolation at all: development only
)

// Isolation levels reported by Runner.Isolation.
const (
	IsolationBwrapCgroup  = "bubblewrap+cgroup"
	IsolationBwrapRlimits = "bubblewrap+rlimits"
	IsolationRlimits      = "rlimits-only"
	IsolationOff          = "off"
	// IsolationUnavailable is reported when SANDBOX=required and the sandbox
	// does not work: the runner then refuses every run with 503.
	IsolationUnavailable = "unavailable"
)

// Languages.
const (
	Python     = "python"
	JavaScript = "javascript"
	Java       = "java"
)

// Limits bound one program. Zero fields take the defaults below.
type Limits struct {
	CPUTime       time.Duration // RLIMIT_CPU per process; default 10 s
	MemoryBytes   int64         // cgroup memory (or RLIMIT_AS); default 256 MiB
	Processes     int           // processes + threads (pids cgroup or RLIMIT_NPROC); default 64
	FileSizeBytes int64         // RLIMIT_FSIZE; default 16 MiB
	OpenFiles     int           // RLIMIT_NOFILE; default 256
	OutputBytes   int           // kept per stream (stdout, stderr); default 64 KiB
	SourceBytes   int           // largest accepted source; default 64 KiB
	StdinBytes    int           // largest accepted stdin; default 64 KiB
	ScratchBytes  int64         // size of each tmpfs: working folder, /tmp, /dev/shm; default 32 MiB
	// CompileMemoryBytes bounds javac, which needs more than a learner's
	// program; default 512 MiB.
	CompileMemoryBytes int64
}

func (l Limits) withDefaults() Limits {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.CPUTime <= 0 {
		l.CPUTime = 10 * time.Second
	}
	def(&l.MemoryBytes, 256<<20)
	defInt(&l.Processes, 64)
	def(&l.FileSizeBytes, 16<<20)
	defInt(&l.OpenFiles, 256)
	defInt(&l.OutputBytes, 64<<10)
	defInt(&l.SourceBytes, 64<<10)
	defInt(&l.StdinBytes, 64<<10)
	def(&l.ScratchBytes, 32<<20)
	def(&l.CompileMemoryBytes, 512<<20)
	return l
}

// Options configure a Runner. Zero values take defaults.
type Options struct {
	Sandbox            string        // auto (default) | required | off
	RunTimeout         time.Duration // wall clock of a program; default 10 s
	CompileTimeout     time.Duration // wall clock of javac; default 10 s
	Workers            int           // concurrent runs; default one per CPU
	Queue              int           // runs waiting for a worker; default 4 × Workers
	PythonBin, JavaBin string        // defaults python3, java
	JavacBin, NodeBin  string        // defaults javac, node
	BwrapBin           string        // default bwrap (looked up in PATH)
	DataDir            string        // default "data": runner root and Java class cache live under it
	Logger             *slog.Logger
	Limits             Limits
	JavaCacheEntries   int // compiled programs kept; default 256
	// SandboxUID is the host user (and group) that runs sandboxes when the
	// server runs as root; default 65534 (nobody). A uid no other process
	// uses is better still: processes of the same host user could reach
	// into running sandboxes.
	SandboxUID    int
	disableCgroup bool // tests: exercise bubblewrap without cgroups
}

// Request is one program to run or compile.
type Request struct {
	Language string // python | javascript | java
	Source   string
	Stdin    string
	// FileName is the name shown in messages in place of the temporary file
	// name ("script" when empty). Java ignores it: its file is named after
	// the public class.
	FileName string
}

// Result is what a program did. Stdout and Stderr are valid UTF-8 with
// temporary names replaced by the request's file name.
type Result struct {
	Language string
	// Phase is "run" when the program ran, "compile" when Java compilation
	// failed or timed out (Stderr then holds javac's messages) or when the
	// result is of Compile.
	Phase     string
	Stdout    string
	Stderr    string
	ExitCode  int           // 128+n when killed by signal n
	Duration  time.Duration // wall time of the phase
	TimedOut  bool
	Truncated bool // stdout or stderr exceeded Limits.OutputBytes
	// Timeout is the wall limit of Phase, for messages ("after 10 seconds").
	Timeout time.Duration
	// Interpreted is set by Compile for languages with nothing to compile.
	Interpreted bool
	// Cached reports that Java classes came from the cache (javac skipped).
	Cached          bool
	CompileDuration time.Duration
	// LimitsHit names the limits the program ran into: wall, cpu, memory,
	// processes, file_size, output.
	LimitsHit []string

	// For leak tests: the run's cgroup, and the process that held the
	// program (the PID namespace's init) with its start time.
	cgDir     string
	initPid   int
	initStart string
}

// OK reports whether the program finished in time with exit status 0.
func (r Result) OK() bool { return !r.TimedOut && r.ExitCode == 0 }

// Runner runs programs. It is safe for concurrent use.
type Runner struct {
	o      Options
	lim    Limits
	log    *slog.Logger
	langs  map[string]*language
	sb     sandbox
	cache  *classCache
	root   string // private runner root of this instance (0700)
	unlock func()

	slots   chan struct{}
	waiting atomic.Int64
	queue   int64

	mu     sync.Mutex
	closed bool
	jobs   sync.WaitGroup
	// stopCtx is cancelled by Close, which kills every running program.
	stopCtx context.Context
	stop    context.CancelFunc

	metrics atomic.Pointer[runMetrics] // set by RegisterMetrics
}

// New detects interpreters and the isolation the host allows, prepares the
// runner root and returns a Runner. With SANDBOX=required and no working
// sandbox it still returns a Runner, one that refuses every run with 503, so
// the rest of the service keeps working.
func New(ctx context.Context, o Options) (*Runner, error) {
	if o.Sandbox == "" {
		o.Sandbox = SandboxAuto
	}
	switch o.Sandbox {
	case SandboxAuto, SandboxRequired, SandboxOff:
	default:
		return nil, fmt.Errorf("runner: unknown sandbox mode %q (auto, required, off)", o.Sandbox)
	}
	if o.RunTimeout <= 0 {
		o.RunTimeout = 10 * time.Second
	}
	if o.CompileTimeout <= 0 {
		o.CompileTimeout = 10 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.Queue <= 0 {
		o.Queue = 4 * o.Workers
	}
	if o.DataDir == "" {
		o.DataDir = "data"
	}
	if o.JavaCacheEntries <= 0 {
		o.JavaCacheEntries = 256
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	// Before the interpreters are probed: nothing the server inherited
	// reaches any child.
	closeInheritedOnExec()
	stopCtx, stop := context.WithCancel(context.Background())
	r := &Runner{
		stopCtx: stopCtx,
		stop:    stop,
		o:       o,
		lim:     o.Limits.withDefaults(),
		log:     o.Logger.With("component", "runner"),
		slots:   make(chan struct{}, o.Workers),
		queue:   int64(o.Queue),
	}
	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("runner: data dir: %w", err)
	}
	if r.root, r.unlock, err = prepareRoot(filepath.Join(dataDir, "runner"), r.log); err != nil {
		return nil, err
	}
	if r.cache, err = newClassCache(filepath.Join(dataDir, "java-cache"), o.JavaCacheEntries); err != nil {
		r.unlock()
		return nil, err
	}
	r.langs = detectLanguages(ctx, o, r.log)
	if err := r.chooseSandbox(ctx); err != nil {
		r.unlock()
		return nil, err
	}
	return r, nil
}

// Version returns the interpreter version of language ("python 3.11.7",
// "java 17.0.15", "nodejs 20.20.2"), or nil when it is not installed.
func (r *Runner) Version(language string) *string {
	l := r.langs[language]
	if l == nil || l.version == "" {
		return nil
	}
	v := l.version
	return &v
}

// Isolation reports the isolation in force.
func (r *Runner) Isolation() string { return r.sb.isolation }

// Limits returns the limits in force.
func (r *Runner) Limits() Limits { return r.lim }

// Close kills every running program (their callers get 503), waits for the
// runs to end, then removes this instance's runner root and cgroups.
func (r *Runner) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.stop()
	r.jobs.Wait()
	var errs []error
	if r.sb.cg != nil {
		errs = append(errs, r.sb.cg.close())
	}
	if err := os.RemoveAll(r.root); err != nil {
		errs = append(errs, fmt.Errorf("runner: remove root: %w", err))
	}
	r.unlock()
	return errors.Join(errs...)
}

// Run runs req's program with req.Stdin as standard input. Java is compiled
// first (or taken from the class cache). Errors are *itss.Error values for
// anything a client caused or may retry: invalid input (400), too large
// (413), pool full (429), sandbox unavailable (503).
func (r *Runner) Run(ctx context.Context, req Request) (res Result, err error) {
	defer func(start time.Time) { r.record("run", req.Language, start, res, err) }(time.Now())
	l, err := r.admit(req, true)
	if err != nil {
		return Result{}, err
	}
	ctx, done := r.jobContext(ctx)
	defer done()
	release, err := r.acquire(ctx)
	if err != nil {
		return Result{}, r.stopped(err)
	}
	defer release()
	if l.name == Java {
		res, err = r.runJava(ctx, l, req)
	} else {
		res, err = r.runInterpreted(ctx, l, req)
	}
	return res, r.stopped(err)
}

// jobContext ends when ctx does or when Close is called.
func (r *Runner) jobContext(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	unregister := context.AfterFunc(r.stopCtx, cancel)
	return ctx, func() { unregister(); cancel() }
}

// stopped turns the cancellation caused by Close into a 503 for the caller,
// whose own context is still alive.
func (r *Runner) stopped(err error) error {
	if err != nil && r.stopCtx.Err() != nil && errors.Is(err, context.Canceled) {
		return itss.Wrap(itss.CodeUnavailable, err, "Code execution is shutting down")
	}
	return err
}

// Compile compiles req's program without running it. Python and JavaScript
// have nothing to compile: the result is Interpreted and OK at once.
func (r *Runner) Compile(ctx context.Context, req Request) (res Result, err error) {
	defer func(start time.Time) { r.record("compile", req.Language, start, res, err) }(time.Now())
	l, err := r.admit(req, false)
	if err != nil {
		return Result{}, err
	}
	if l.name != Java {
		return Result{Language: l.name, Phase: "compile", Interpreted: true}, nil
	}
	ctx, done := r.jobContext(ctx)
	defer done()
	release, err := r.acquire(ctx)
	if err != nil {
		return Result{}, r.stopped(err)
	}
	defer release()
	res, entry, err := r.compileJava(ctx, l, req)
	if entry != nil {
		entry.close()
	}
	return res, r.stopped(err)
}

// admit validates a request before it takes a worker.
func (r *Runner) admit(req Request, checkStdin bool) (*language, error) {
	switch req.Language {
	case Python, JavaScript, Java:
	default:
		return nil, itss.Errorf(itss.CodeInvalid, "Unsupported language")
	}
	if strings.TrimSpace(req.Source) == "" {
		return nil, itss.Errorf(itss.CodeInvalid, "Script content is empty")
	}
	if len(req.Source) > r.lim.SourceBytes {
		return nil, itss.Errorf(itss.CodeTooLarge, "Script exceeds the maximum size of %d bytes", r.lim.SourceBytes)
	}
	if checkStdin && len(req.Stdin) > r.lim.StdinBytes {
		return nil, itss.Errorf(itss.CodeTooLarge, "Input exceeds the maximum size of %d bytes", r.lim.StdinBytes)
	}
	if !ValidFileName(req.FileName) {
		return nil, itss.Errorf(itss.CodeInvalid, "Invalid filename")
	}
	if r.sb.isolation == IsolationUnavailable {
		return nil, itss.Errorf(itss.CodeUnavailable, "Code execution is unavailable: the sandbox does not work on this server")
	}
	l := r.langs[req.Language]
	if l == nil || !l.ok {
		return nil, itss.Errorf(itss.CodeUnavailable, "%s is not available on this server", req.Language)
	}
	return l, nil
}

// MaxFileName bounds Request.FileName. The name replaces every occurrence
// of the temporary file name in the program's output, which the program
// controls: a long one would multiply the output's size.
const MaxFileName = 255

// ValidFileName reports whether name may be a Request.FileName: empty, or
// up to MaxFileName letters, digits, '.', '_' and '-' (the original's rule).
func ValidFileName(name string) bool {
	if len(name) > MaxFileName {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ErrBusy is the cause of the 429 answered when every worker is busy and the
// queue is full.
var ErrBusy = errors.New("runner: all workers busy and queue full")

// acquire takes a worker slot, waiting in the bounded queue when all are
// busy. A full queue fails at once so callers can answer 429 instead of
// piling up; a cancelled ctx leaves the queue.
func (r *Runner) acquire(ctx context.Context) (func(), error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, itss.Errorf(itss.CodeUnavailable, "Code execution is shutting down")
	}
	r.jobs.Add(1)
	r.mu.Unlock()
	release := func() {
		<-r.slots
		r.jobs.Done()
	}
	select {
	case r.slots <- struct{}{}:
		return release, nil
	default:
	}
	if r.waiting.Add(1) > r.queue {
		r.waiting.Add(-1)
		r.jobs.Done()
		return nil, itss.Wrap(itss.CodeRateLimited, ErrBusy, "Too many programs are running; try again in a moment")
	}
	defer r.waiting.Add(-1)
	select {
	case r.slots <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		r.jobs.Done()
		return nil, fmt.Errorf("runner: waiting for a worker: %w", ctx.Err())
	}
}

// Busy reports how many runs hold a worker and how many wait in the queue.
func (r *Runner) Busy() (running, queued int) {
	return len(r.slots), int(r.waiting.Load())
}

// prepareRoot creates the private runner root (0700) and this instance's
// folder inside it, locked with flock so that a later start can tell the
// folders of crashed instances (removable) from those of live ones.
func prepareRoot(base string, log *slog.Logger) (string, func(), error) {
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", nil, fmt.Errorf("runner: create root: %w", err)
	}
	fi, err := os.Lstat(base)
	if err != nil {
		return "", nil, fmt.Errorf("runner: stat root: %w", err)
	}
	if !fi.IsDir() {
		return "", nil, fmt.Errorf("runner: root %s is not a directory", base)
	}
	// The root is ours alone: no program ever writes into it directly, so
	// tightening its mode is safe.
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(base, 0o700); err != nil {
			return "", nil, fmt.Errorf("runner: chmod root: %w", err)
		}
	}
	removeStaleInstances(base, log)
	// The lock comes first and the folder second, so a folder without a lock
	// file can only be a crashed instance's.
	lock, err := os.CreateTemp(base, "inst-*.lock")
	if err != nil {
		return "", nil, fmt.Errorf("runner: create lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return "", nil, fmt.Errorf("runner: lock instance dir: %w", err)
	}
	dir := strings.TrimSuffix(lock.Name(), ".lock")
	if err := os.Mkdir(dir, 0o700); err != nil {
		os.Remove(lock.Name())
		lock.Close()
		return "", nil, fmt.Errorf("runner: create instance dir: %w", err)
	}
	unlock := func() {
		os.Remove(lock.Name())
		lock.Close()
	}
	return dir, unlock, nil
}

// removeStaleInstances removes instance folders whose lock nobody holds:
// they belong to runners that died without Close. Locks younger than a
// minute are skipped: their owner may be between creating and locking them.
func removeStaleInstances(base string, log *slog.Logger) {
	locks, _ := filepath.Glob(filepath.Join(base, "inst-*.lock"))
	for _, name := range locks {
		fi, err := os.Lstat(name)
		if err != nil || !fi.Mode().IsRegular() || time.Since(fi.ModTime()) < time.Minute {
			continue
		}
		f, err := os.OpenFile(name, os.O_RDWR|syscall.O_NOFOLLOW, 0)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			dir := strings.TrimSuffix(name, ".lock")
			if err := os.RemoveAll(dir); err != nil {
				log.Warn("runner: cannot remove stale instance folder", "dir", dir, "err", err)
			}
			os.Remove(name)
		}
		f.Close()
	}
	dirs, _ := filepath.Glob(filepath.Join(base, "inst-*"))
	for _, dir := range dirs {
		if strings.HasSuffix(dir, ".lock") {
			continue
		}
		if _, err := os.Lstat(dir + ".lock"); errors.Is(err, os.ErrNotExist) {
			os.RemoveAll(dir)
		}
	}
}
