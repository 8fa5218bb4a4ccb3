package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/itss-go/itss/internal/itss"
)

func TestVersionsAreDetectedOnceAtStart(t *testing.T) {
	t.Parallel()
	r := shared(t)
	requireLanguage(t, r, Python, JavaScript, Java)
	for lang, prefix := range map[string]string{Python: "python 3.", JavaScript: "nodejs ", Java: "java "} {
		v := r.Version(lang)
		if v == nil {
			t.Errorf("%s: no version", lang)
			continue
		}
		if !strings.HasPrefix(*v, prefix) {
			t.Errorf("%s version = %q, want prefix %q", lang, *v, prefix)
		}
	}
	if r.Version("ruby") != nil {
		t.Error("ruby has a version")
	}
}

func TestPythonShimIsResolvedToTheRealInterpreter(t *testing.T) {
	t.Parallel()
	r := shared(t)
	l := r.langs[Python]
	if l == nil {
		t.Skip("python is not installed")
	}
	b, err := os.ReadFile(l.exe)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(string(b), "#!") {
		t.Fatalf("python executable %s is a script, not the interpreter", l.exe)
	}
}

func TestRunsPrograms(t *testing.T) {
	t.Parallel()
	r := shared(t)
	cases := []struct {
		name, lang, src, stdin string
		stdout                 string
		exit                   int
		need                   string // isolation the expected output depends on
	}{
		{"python prints", Python, "print(1)", "", "1\n", 0, ""},
		{"python input() works", Python, "x = int(input())\nprint(x * 2)", "21\n", "42\n", 0, ""},
		{"python builtins input", Python, "x = int(__builtins__.input())\nprint(x * 2)", "21\n", "42\n", 0, ""},
		{"python stdin from sys", Python, "from sys import stdin\nfor l in stdin:\n    print(l.strip().upper())", "abc\ndef\n", "ABC\nDEF\n", 0, ""},
		{"python fileinput", Python, "import fileinput\nfor l in fileinput.input():\n    print(l.strip().upper())", "abc\n", "ABC\n", 0, ""},
		{"python import os and getcwd", Python, "import os\nprint(os.getcwd())", "", "/work\n", 0, "bwrap"},
		{"python sample section code", Python, "language1 = input()\nprint('I like ' + language1)", "Go\n", "I like Go\n", 0, ""},
		{"python exit code", Python, "import sys\nprint('bye')\nsys.exit(3)", "", "bye\n", 3, ""},
		{"python no stdin reads eof", Python, "import sys\nprint(repr(sys.stdin.read()))", "", "''\n", 0, ""},
		{"javascript prints", JavaScript, "console.log(1)", "", "1\n", 0, ""},
		{"javascript reads stdin", JavaScript, "const s = require('fs').readFileSync(0, 'utf8'); console.log(s.trim().toUpperCase())", "abc\n", "ABC\n", 0, ""},
		{"javascript exit code", JavaScript, "process.exitCode = 4", "", "", 4, ""},
		{"java prints", Java, "public class Main {\n  public static void main(String[] args) {\n    System.out.println(1);\n  }\n}", "", "1\n", 0, ""},
		{"java public class named freely", Java, "public class Greeter {\n  public static void main(String[] args) {\n    System.out.println(\"hello\");\n  }\n}", "", "hello\n", 0, ""},
		{"java reads stdin", Java, "import java.util.Scanner;\npublic class Echo {\n  public static void main(String[] a) {\n    Scanner s = new Scanner(System.in);\n    System.out.println(s.nextInt() * 2);\n  }\n}", "21\n", "42\n", 0, ""},
		{"java main in second class", Java, "class Helper { static int v() { return 7; } }\npublic class App {\n  public static void main(String[] a) { System.out.println(Helper.v()); }\n}", "", "7\n", 0, ""},
		{"java no public class", Java, "class Plain {\n  public static void main(String[] a) { System.out.println(\"plain\"); }\n}", "", "plain\n", 0, ""},
		{"java package declaration", Java, "package demo.app;\npublic class Hi {\n  public static void main(String[] a) { System.out.println(\"pkg\"); }\n}", "", "pkg\n", 0, ""},
		{"java exit code", Java, "public class X { public static void main(String[] a) { System.exit(5); } }", "", "", 5, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			requireLanguage(t, r, c.lang)
			if c.need != "" {
				requireIsolation(t, r, c.need)
			}
			res := run(t, r, c.lang, c.src, c.stdin)
			if res.ExitCode != c.exit || res.Stdout != c.stdout || res.TimedOut {
				t.Fatalf("got exit %d stdout %q stderr %q timedOut %v; want exit %d stdout %q",
					res.ExitCode, res.Stdout, res.Stderr, res.TimedOut, c.exit, c.stdout)
			}
			if res.Duration <= 0 {
				t.Fatal("no duration")
			}
			assertNoLeftovers(t, res)
		})
	}
}

func TestErrorsNameTheDisplayFileNotTheTemporaryOne(t *testing.T) {
	t.Parallel()
	r := shared(t)
	cases := []struct {
		name, lang, src string
		want            []string
	}{
		{"python traceback", Python, "print(undefined_name)", []string{`File "main.py", line 1`, "NameError"}},
		{"javascript stack", JavaScript, "console.log(y)", []string{"main.js:1", "ReferenceError: y is not defined", "(main.js:1:13)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			requireLanguage(t, r, c.lang)
			res := run(t, r, c.lang, c.src, "")
			if res.ExitCode == 0 {
				t.Fatalf("want failure, got %+v", res)
			}
			for _, w := range c.want {
				if !strings.Contains(res.Stderr, w) {
					t.Errorf("stderr %q lacks %q", res.Stderr, w)
				}
			}
			if strings.Contains(res.Stderr, "/work/") || hexName.MatchString(res.Stderr) {
				t.Errorf("stderr shows temporary names or paths: %q", res.Stderr)
			}
		})
	}
}

func TestJavaCompileErrorsNameThePublicClassFile(t *testing.T) {
	t.Parallel()
	r := shared(t)
	requireLanguage(t, r, Java)
	src := "public class Greeter {\n  public static void main(String[] args) {\n    System.out.println(1)\n  }\n}"
	res := run(t, r, Java, src, "")
	if res.Phase != "compile" || res.ExitCode == 0 {
		t.Fatalf("want compile failure, got %+v", res)
	}
	if !strings.HasPrefix(res.Stderr, "Greeter.java:3: error: ';' expected") {
		t.Fatalf("stderr = %q", res.Stderr)
	}
	cres, err := r.Compile(context.Background(), Request{Language: Java, Source: src})
	if err != nil || cres.OK() || !strings.Contains(cres.Stderr, "Greeter.java:3") {
		t.Fatalf("compile: %v %+v", err, cres)
	}
}

func TestJavaSecondRunSkipsJavac(t *testing.T) {
	t.Parallel()
	r := shared(t)
	requireLanguage(t, r, Java)
	// A source no other test uses, so the first run is a cache miss.
	src := "public class CacheProbe {\n  public static void main(String[] a) { System.out.println(\"" + randomName() + "\"); }\n}"
	first := run(t, r, Java, src, "")
	if !first.OK() || first.Cached {
		t.Fatalf("first run: %+v", first)
	}
	second := run(t, r, Java, src, "")
	if !second.OK() || !second.Cached || second.Stdout != first.Stdout {
		t.Fatalf("second run not served from the cache: %+v", second)
	}
	cres, err := r.Compile(context.Background(), Request{Language: Java, Source: src})
	if err != nil || !cres.OK() || !cres.Cached {
		t.Fatalf("compile after run: %v %+v", err, cres)
	}
}

func TestJavaCacheIsBounded(t *testing.T) {
	t.Parallel()
	r := shared(t)
	requireLanguage(t, r, Java)
	dir := t.TempDir()
	c, err := newClassCache(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	put := func(key string) {
		t.Helper()
		e, err := c.put(key, []byte("jar of "+key))
		if err != nil {
			t.Fatal(err)
		}
		e.close()
	}
	for i, key := range []string{"a", "b", "c"} {
		put(key)
		// Entries look idle (older than the one-minute protection), the
		// first the least recently used.
		stamp := old.Add(time.Duration(i) * time.Minute)
		os.Chtimes(c.file(key), stamp, stamp)
	}
	put("d")
	if _, ok := c.get("a"); ok {
		t.Error("least recently used entry a was not evicted")
	}
	if _, ok := c.get("b"); ok {
		t.Error("entry b was not evicted")
	}
	for _, k := range []string{"c", "d"} {
		e, ok := c.get(k)
		if !ok {
			t.Errorf("entry %s was evicted", k)
			continue
		}
		e.close()
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left in the cache: %v", left)
	}
}

func TestCompile(t *testing.T) {
	t.Parallel()
	r := shared(t)
	requireLanguage(t, r, Python, JavaScript, Java)
	for _, lang := range []string{Python, JavaScript} {
		res, err := r.Compile(context.Background(), Request{Language: lang, Source: "x"})
		if err != nil || !res.Interpreted || !res.OK() {
			t.Errorf("%s: %v %+v", lang, err, res)
		}
	}
	requireLanguage(t, r, Java)
	res, err := r.Compile(context.Background(), Request{Language: Java, Source: "public class Ok { }"})
	if err != nil || !res.OK() || res.Phase != "compile" {
		t.Fatalf("java: %v %+v", err, res)
	}
	res, err = r.Compile(context.Background(), Request{Language: Java, Source: "public class Bad { void f() { int x = \"s\"; } }"})
	if err != nil || res.OK() || !strings.Contains(res.Stderr, "Bad.java:1: error: incompatible types: String cannot be converted to int") {
		t.Fatalf("java error: %v %+v", err, res)
	}
}

func TestUnicodeAndInvalidUTF8Output(t *testing.T) {
	t.Parallel()
	r := shared(t)
	res := run(t, r, Python, "print('héllo ✓ 你好 🎉')\nimport sys\nsys.stdout.flush()\nsys.stdout.buffer.write(b'bad:\\xff\\xfe end\\n')", "")
	if !res.OK() {
		t.Fatalf("%+v", res)
	}
	if res.Stdout != "héllo ✓ 你好 🎉\nbad:\uFFFD end\n" {
		t.Fatalf("stdout = %q", res.Stdout)
	}
	requireLanguage(t, r, Java)
	res = run(t, r, Java, "public class U { public static void main(String[] a) { System.out.println(\"héllo ✓ 你好\"); } }", "")
	if res.Stdout != "héllo ✓ 你好\n" {
		t.Fatalf("java stdout = %q (%+v)", res.Stdout, res)
	}
}

func TestRejectsBadRequests(t *testing.T) {
	t.Parallel()
	r := shared(t)
	big := strings.Repeat("#", r.Limits().SourceBytes+1)
	cases := []struct {
		name string
		req  Request
		code itss.Code
	}{
		{"unsupported language is invalid", Request{Language: "ruby", Source: "puts 1"}, itss.CodeInvalid},
		{"empty source is invalid", Request{Language: Python, Source: ""}, itss.CodeInvalid},
		{"source over 64 KiB is too large", Request{Language: Python, Source: big}, itss.CodeTooLarge},
		{"stdin over 64 KiB is too large", Request{Language: Python, Source: "pass", Stdin: strings.Repeat("x", r.Limits().StdinBytes+1)}, itss.CodeTooLarge},
	}
	for _, c := range cases {
		_, err := r.Run(context.Background(), c.req)
		if itss.ErrorCode(err) != c.code {
			t.Errorf("%s: err = %v, want code %s", c.name, err, c.code)
		}
	}
}

func TestSandboxRequiredWithoutBwrapRefusesWith503(t *testing.T) {
	t.Parallel()
	r := newRunner(t, Options{Sandbox: SandboxRequired, BwrapBin: "/nonexistent/bwrap"})
	if r.Isolation() != IsolationUnavailable {
		t.Fatalf("isolation = %q", r.Isolation())
	}
	_, err := r.Run(context.Background(), Request{Language: Python, Source: "print(1)"})
	if itss.ErrorCode(err) != itss.CodeUnavailable {
		t.Fatalf("err = %v, want unavailable", err)
	}
	_, err = r.Compile(context.Background(), Request{Language: Java, Source: "class A {}"})
	if itss.ErrorCode(err) != itss.CodeUnavailable {
		t.Fatalf("compile err = %v, want unavailable", err)
	}
}

func TestSandboxAutoWithoutBwrapFallsBackToRlimits(t *testing.T) {
	t.Parallel()
	r := newRunner(t, Options{BwrapBin: "/nonexistent/bwrap", Workers: 1})
	if r.Isolation() != IsolationRlimits {
		t.Fatalf("isolation = %q", r.Isolation())
	}
	res := run(t, r, Python, "x = input()\nprint(x[::-1])", "abc\n")
	if !res.OK() || res.Stdout != "cba\n" {
		t.Fatalf("%+v", res)
	}
	res = run(t, r, Python, "print(undefined)", "")
	if !strings.Contains(res.Stderr, `File "main.py"`) || strings.Contains(res.Stderr, r.root) {
		t.Fatalf("temporary path not hidden: %q", res.Stderr)
	}
	res = run(t, r, Python, "import time\ntime.sleep(60)", "")
	if !res.TimedOut || res.Duration > 30*time.Second {
		t.Fatalf("sleep not stopped: %+v", res)
	}
	assertNoLeftovers(t, res)
	for _, c := range []struct{ lang, src, want string }{
		{JavaScript, "console.log(require('fs').readFileSync(0, 'utf8').trim())", "js\n"},
		{Java, "public class Rl { public static void main(String[] a) { System.out.println(new java.util.Scanner(System.in).next()); } }", "js\n"},
	} {
		if r.Version(c.lang) == nil {
			continue
		}
		if res := run(t, r, c.lang, c.src, "js\n"); !res.OK() || res.Stdout != c.want {
			t.Fatalf("%s: %+v", c.lang, res)
		}
	}
	assertRootEmpty(t, r)
}

func TestSandboxOffStillRunsWithTimeouts(t *testing.T) {
	t.Parallel()
	r := newRunner(t, Options{Sandbox: SandboxOff, Workers: 1})
	if r.Isolation() != IsolationOff {
		t.Fatalf("isolation = %q", r.Isolation())
	}
	res := run(t, r, Python, "print(input())", "hi\n")
	if !res.OK() || res.Stdout != "hi\n" {
		t.Fatalf("%+v", res)
	}
	res = run(t, r, JavaScript, "while (true) {}", "")
	if !res.TimedOut {
		t.Fatalf("spin not stopped: %+v", res)
	}
	assertRootEmpty(t, r)
}

func TestBubblewrapWithoutCgroupsUsesRlimits(t *testing.T) {
	t.Parallel()
	r := newRunner(t, Options{disableCgroup: true, Workers: 1})
	requireIsolation(t, r, "bwrap")
	if r.Isolation() != IsolationBwrapRlimits {
		t.Fatalf("isolation = %q", r.Isolation())
	}
	res := run(t, r, Python, "x = bytearray(1 << 30)\nprint('allocated')", "")
	if res.OK() || !strings.Contains(res.Stderr, "MemoryError") {
		t.Fatalf("1 GiB allocation not refused by RLIMIT_AS: %+v", res)
	}
	requireLanguage(t, r, JavaScript)
	res = run(t, r, JavaScript, "console.log('node starts under RLIMIT_AS')", "")
	if !res.OK() {
		t.Fatalf("node: %+v", res)
	}
	requireLanguage(t, r, Java)
	res = run(t, r, Java, "public class M { public static void main(String[] a) { System.out.println(\"jvm ok\"); } }", "")
	if !res.OK() || res.Stdout != "jvm ok\n" {
		t.Fatalf("java: %+v", res)
	}
}

func TestFullQueueAnswersBusyAtOnce(t *testing.T) {
	t.Parallel()
	r := newRunner(t, Options{Workers: 1, Queue: 1, RunTimeout: 10 * time.Second})
	requireLanguage(t, r, Python)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{}, 2)
	done := make(chan error, 2)
	for range 2 {
		go func() {
			started <- struct{}{}
			_, err := r.Run(ctx, Request{Language: Python, Source: "import time\ntime.sleep(30)"})
			done <- err
		}()
	}
	<-started
	<-started
	// Wait until one runs and one waits.
	if !eventually(func() bool { running, queued := r.Busy(); return running == 1 && queued == 1 }) {
		t.Fatal("pool never filled")
	}
	t0 := time.Now()
	_, err := r.Run(context.Background(), Request{Language: Python, Source: "print(1)"})
	if itss.ErrorCode(err) != itss.CodeRateLimited || !errors.Is(err, ErrBusy) {
		t.Fatalf("err = %v, want busy", err)
	}
	if time.Since(t0) > time.Second {
		t.Fatal("busy answer was not immediate")
	}
	// Cancelling the callers ends both the queued and the running job.
	cancel()
	for range 2 {
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled job err = %v", err)
		}
	}
	if running, queued := r.Busy(); running != 0 || queued != 0 {
		t.Fatalf("busy after cancel: %d running, %d queued", running, queued)
	}
}

// assertRootEmpty checks that no run folder is left in the runner's root.
func assertRootEmpty(t testing.TB, r *Runner) {
	t.Helper()
	var left []string
	entries, _ := os.ReadDir(r.root)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if len(left) > 0 {
		t.Fatalf("run folders left behind: %v", left)
	}
}

func TestCloseKillsRunningProgramsWith503(t *testing.T) {
	t.Parallel()
	r, err := New(context.Background(), Options{DataDir: t.TempDir(), RunTimeout: 30 * time.Second, Workers: 1, Queue: 4, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	requireLanguage(t, r, Python)
	done := make(chan error, 2)
	for range 2 { // one running, one queued
		go func() {
			_, err := r.Run(context.Background(), Request{Language: Python, Source: "import time\ntime.sleep(60)"})
			done <- err
		}()
	}
	if !eventually(func() bool { running, queued := r.Busy(); return running == 1 && queued == 1 }) {
		t.Fatal("jobs did not start")
	}
	t0 := time.Now()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-done; itss.ErrorCode(err) != itss.CodeUnavailable {
			t.Fatalf("err = %v, want unavailable", err)
		}
	}
	if time.Since(t0) > 20*time.Second {
		t.Fatal("Close waited for the programs instead of killing them")
	}
	if _, err := os.Stat(r.root); !os.IsNotExist(err) {
		t.Fatalf("runner root left behind: %v", err)
	}
	if _, err := r.Run(context.Background(), Request{Language: Python, Source: "print(1)"}); itss.ErrorCode(err) != itss.CodeUnavailable {
		t.Fatalf("run after close: %v", err)
	}
}
