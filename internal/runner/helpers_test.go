package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Hostile tests use short walls so the suite stays quick; javac gets more,
// since CI machines are small and shared.
const (
	testRunTimeout     = 3 * time.Second
	testCompileTimeout = 20 * time.Second
)

var (
	sharedOnce sync.Once
	sharedR    *Runner
	sharedErr  error
	sharedDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedR != nil {
		if err := sharedR.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close shared runner:", err)
			code = 1
		}
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// withoutBwrap lets a developer run the suite as a host without bubblewrap
// would (ITSS_TEST_WITHOUT_BWRAP=1): the cases that need isolation then skip
// with their reason, or fail under ITSS_REQUIRE_SANDBOX=1.
func withoutBwrap(o *Options) {
	if os.Getenv("ITSS_TEST_WITHOUT_BWRAP") == "1" && o.BwrapBin == "" {
		o.BwrapBin = "/nonexistent/bwrap"
	}
}

// shared returns the runner most tests use: real interpreters, the best
// isolation the host allows, short limits.
func shared(t testing.TB) *Runner {
	t.Helper()
	sharedOnce.Do(func() {
		sharedDir, sharedErr = os.MkdirTemp("", "itss-runner-test-")
		if sharedErr != nil {
			return
		}
		o := Options{
			DataDir:        sharedDir,
			RunTimeout:     testRunTimeout,
			CompileTimeout: testCompileTimeout,
			Workers:        2,
			Queue:          1000,
			Logger:         testLogger(),
			Limits:         Limits{CPUTime: 2 * time.Second},
		}
		withoutBwrap(&o)
		sharedR, sharedErr = New(context.Background(), o)
	})
	if sharedErr != nil {
		t.Fatalf("runner: %v", sharedErr)
	}
	return sharedR
}

// newRunner returns a private runner closed at the end of the test.
func newRunner(t testing.TB, o Options) *Runner {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.RunTimeout == 0 {
		o.RunTimeout = testRunTimeout
	}
	if o.CompileTimeout == 0 {
		o.CompileTimeout = testCompileTimeout
	}
	if o.Logger == nil {
		o.Logger = testLogger()
	}
	withoutBwrap(&o)
	r, err := New(context.Background(), o)
	if err != nil {
		t.Fatalf("runner: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return r
}

// requireIsolation skips a case that needs isolation the host lacks, with
// the reason, or fails it when ITSS_REQUIRE_SANDBOX=1 says the host must
// have it. need is "bwrap" (namespaces) or "cgroup" (bwrap + cgroups).
func requireIsolation(t testing.TB, r *Runner, need string) {
	t.Helper()
	iso := r.Isolation()
	ok := iso == IsolationBwrapCgroup || (need == "bwrap" && iso == IsolationBwrapRlimits)
	if ok {
		return
	}
	msg := fmt.Sprintf("needs %s isolation; this host provides %q (see the runner's start-up log for why)", need, iso)
	if os.Getenv("ITSS_REQUIRE_SANDBOX") == "1" {
		t.Fatal("ITSS_REQUIRE_SANDBOX=1: " + msg)
	}
	t.Skip(msg)
}

// requireLanguage skips when an interpreter is missing, with the reason, or
// fails when ITSS_REQUIRE_RUNTIMES=1 says the host must have it (CI does).
func requireLanguage(t testing.TB, r *Runner, langs ...string) {
	t.Helper()
	for _, lang := range langs {
		if r.Version(lang) != nil {
			continue
		}
		msg := lang + " is not installed on this host"
		if os.Getenv("ITSS_REQUIRE_RUNTIMES") == "1" {
			t.Fatal("ITSS_REQUIRE_RUNTIMES=1: " + msg)
		}
		t.Skip(msg)
	}
}

func run(t testing.TB, r *Runner, lang, src, stdin string) Result {
	t.Helper()
	requireLanguage(t, r, lang)
	res, err := r.Run(context.Background(), Request{Language: lang, Source: src, Stdin: stdin, FileName: "main"})
	if err != nil {
		t.Fatalf("run %s: %v", lang, err)
	}
	return res
}

// assertHealthy checks that the runner still runs a trivial program.
func assertHealthy(t testing.TB, r *Runner) {
	t.Helper()
	res := run(t, r, Python, "print(6*7)", "")
	if !res.OK() || res.Stdout != "42\n" {
		t.Fatalf("runner unhealthy after hostile program: %+v", res)
	}
}

// assertNoLeftovers checks that nothing of a run survives it: the process
// that held the program is gone (with bubblewrap it is the PID namespace's
// init, whose end the kernel makes the end of every process in the
// namespace), and its cgroup is removed.
func assertNoLeftovers(t testing.TB, res Result) {
	t.Helper()
	if res.initPid != 0 && res.initStart != "" && procStartTime(res.initPid) == res.initStart && !zombie(res.initPid) {
		t.Fatalf("process %d that held the program is still alive", res.initPid)
	}
	if res.cgDir != "" {
		if _, err := os.Stat(res.cgDir); err == nil {
			t.Fatalf("job cgroup %s still exists", res.cgDir)
		}
	}
}

// processesWithArg lists host processes whose command line contains marker.
func processesWithArg(marker string) []string {
	var out []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/cmdline")
		if err == nil && strings.Contains(string(b), marker) {
			out = append(out, filepath.Base(d)+":"+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

// eventually polls cond for a short while: killed processes take a moment
// to disappear from /proc when no PID namespace reaps them synchronously.
func eventually(cond func() bool) bool {
	for range 100 {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// zombie reports whether pid has exited and only waits to be reaped (by the
// host's init, once bubblewrap, its parent, is gone).
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}
