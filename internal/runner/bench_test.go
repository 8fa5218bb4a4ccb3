package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks measure; they assert nothing about speed. Each reports p50 and
// p90 latency in milliseconds next to ns/op. Run them with
// go test -run '^$' -bench . -benchtime 30x ./internal/runner/

// latencies collects per-operation durations for percentile metrics.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	pct := func(p float64) float64 {
		return float64(l.d[min(len(l.d)-1, int(p*float64(len(l.d))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.9), "p90-ms")
}

// benchExec runs a command directly, with the sandbox's environment (the
// host's may hold variables that slow interpreters down, such as
// NODE_EXTRA_CA_CERTS), so it is the baseline the runner adds to.
func benchExec(b *testing.B, name string, args ...string) {
	b.Helper()
	var l latencies
	dir := b.TempDir()
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir, "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TMPDIR=" + dir}
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		cmd := exec.Command(name, args...)
		cmd.Env, cmd.Dir = env, dir
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v: %s", name, err, out)
		}
		l.add(time.Since(t0))
	}
	l.report(b)
}

func benchRun(b *testing.B, r *Runner, req func(i int) Request) {
	b.Helper()
	var l latencies
	i := 0
	b.ResetTimer()
	for b.Loop() {
		i++
		t0 := time.Now()
		res, err := r.Run(context.Background(), req(i))
		if err != nil || !res.OK() {
			b.Fatalf("%v %+v", err, res)
		}
		l.add(time.Since(t0))
	}
	l.report(b)
}

func benchRunner(b *testing.B) *Runner {
	b.Helper()
	return newRunner(b, Options{Workers: 2, Queue: 64, RunTimeout: 30 * time.Second, CompileTimeout: 60 * time.Second})
}

func lang(b *testing.B, r *Runner, name string) *language {
	b.Helper()
	l := r.langs[name]
	if l == nil {
		b.Skipf("%s is not installed", name)
	}
	return l
}

func BenchmarkPythonBare(b *testing.B) {
	r := benchRunner(b)
	benchExec(b, lang(b, r, Python).exe, "-B", "-s", "-E", "-c", "pass")
}

func BenchmarkPythonRunner(b *testing.B) {
	r := benchRunner(b)
	b.Logf("isolation %s", r.Isolation())
	benchRun(b, r, func(int) Request { return Request{Language: Python, Source: "pass"} })
}

func BenchmarkNodeBare(b *testing.B) {
	r := benchRunner(b)
	benchExec(b, lang(b, r, JavaScript).exe, "--max-old-space-size=128", "-e", "0")
}

func BenchmarkNodeRunner(b *testing.B) {
	r := benchRunner(b)
	benchRun(b, r, func(int) Request { return Request{Language: JavaScript, Source: "0"} })
}

const javaHello = "public class Hello { public static void main(String[] a) { System.out.println(\"hi\"); } }"

// compiledHello compiles Hello outside the sandbox for the bare baselines.
func compiledHello(b *testing.B, l *language) string {
	b.Helper()
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Hello.java"), []byte(javaHello), 0o644); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command(l.javac, "-d", dir, filepath.Join(dir, "Hello.java")).CombinedOutput(); err != nil {
		b.Fatalf("javac: %v %s", err, out)
	}
	return dir
}

func BenchmarkJavaBare(b *testing.B) {
	r := benchRunner(b)
	l := lang(b, r, Java)
	benchExec(b, l.exe, "-cp", compiledHello(b, l), "Hello")
}

// BenchmarkJavaBareRunnerFlags is the bare JVM with the runner's start-up
// flags, to separate what the flags save from what the sandbox costs.
func BenchmarkJavaBareRunnerFlags(b *testing.B) {
	r := benchRunner(b)
	l := lang(b, r, Java)
	benchExec(b, l.exe, append(r.javaArgs(os.TempDir()), "-cp", compiledHello(b, l), "Hello")...)
}

func BenchmarkJavacBare(b *testing.B) {
	r := benchRunner(b)
	l := lang(b, r, Java)
	dir := b.TempDir()
	src := filepath.Join(dir, "Hello.java")
	os.WriteFile(src, []byte(javaHello), 0o644)
	benchExec(b, l.javac, append(r.javacArgs(), "-d", dir, src)...)
}

// BenchmarkJavaRunnerCached runs the same program each time: javac is
// skipped after the first run.
func BenchmarkJavaRunnerCached(b *testing.B) {
	r := benchRunner(b)
	lang(b, r, Java)
	run(b, r, Java, javaHello, "") // fill the cache
	benchRun(b, r, func(int) Request { return Request{Language: Java, Source: javaHello} })
}

// BenchmarkJavaRunnerUncached changes the source each time (a comment), so
// every run compiles.
func BenchmarkJavaRunnerUncached(b *testing.B) {
	r := benchRunner(b)
	lang(b, r, Java)
	salt := randomName()
	benchRun(b, r, func(i int) Request {
		return Request{Language: Java, Source: fmt.Sprintf("// %s %d\n%s", salt, i, javaHello)}
	})
}

// BenchmarkPoolThroughput16Clients has 16 clients run small Python programs
// through a pool of one worker per CPU; runs/s is the figure.
func BenchmarkPoolThroughput16Clients(b *testing.B) {
	r := newRunner(b, Options{Queue: 64, RunTimeout: 30 * time.Second})
	var l latencies
	var busy atomic.Int64
	b.SetParallelism(16 / max(1, runtimeGOMAXPROCS()))
	t0 := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			start := time.Now()
			res, err := r.Run(context.Background(), Request{Language: Python, Source: "print(sum(range(1000)))"})
			if err != nil {
				busy.Add(1)
				continue
			}
			if !res.OK() {
				b.Errorf("%+v", res)
			}
			l.add(time.Since(start))
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "runs/s")
	b.ReportMetric(float64(busy.Load()), "busy")
	l.report(b)
}

func runtimeGOMAXPROCS() int { return runtime.GOMAXPROCS(0) }
