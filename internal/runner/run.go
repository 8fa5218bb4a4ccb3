package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Where Java's compiled classes appear inside the sandbox.
const (
	sandboxOut     = "/out"
	sandboxClasses = "/classes"
)

// runInterpreted runs a Python or JavaScript program.
func (r *Runner) runInterpreted(ctx context.Context, l *language, req Request) (Result, error) {
	d, err := r.newRunDir(false)
	if err != nil {
		return Result{}, err
	}
	defer r.removeRunDir(d)
	name := randomName()
	ext := ".py"
	if l.name == JavaScript {
		ext = ".js"
	}
	src := filepath.Join(d.work, name+ext)
	s := execSpec{
		files:   map[string][]byte{name + ext: []byte(req.Source)},
		stdin:   []byte(req.Stdin),
		timeout: r.o.RunTimeout,
		memory:  r.lim.MemoryBytes,
		binds:   l.binds,
	}
	noMemCgroup := r.sb.cg == nil
	switch l.name {
	case Python:
		// -B: no bytecode files; -s: no user site-packages; -E: ignore
		// PYTHON* variables (the environment is cleared anyway).
		s.argv = []string{l.exe, "-B", "-s", "-E", src}
		if noMemCgroup {
			s.as = r.lim.MemoryBytes
		}
	case JavaScript:
		// Half the memory for V8's heap, so a memory bomb ends with V8's
		// own "heap out of memory" message rather than a kill.
		s.argv = []string{l.exe, fmt.Sprintf("--max-old-space-size=%d", max(r.lim.MemoryBytes/2>>20, 16)), src}
		if noMemCgroup {
			// V8 reserves about 1 GiB of address space it never touches.
			s.as = r.lim.MemoryBytes + 1<<30
		}
	}
	er, err := r.execute(ctx, d, s)
	if err != nil {
		return Result{}, err
	}
	if er.cancelled {
		return Result{}, fmt.Errorf("runner: run cancelled: %w", ctx.Err())
	}
	display := displayName(req.FileName)
	repl := r.replacer(d, src, display+ext, name, display)
	return r.result(l.name, "run", er, repl, r.o.RunTimeout), nil
}

func displayName(fileName string) string {
	if fileName == "" {
		return "script"
	}
	return fileName
}

// replacer hides the temporary file name and paths from a program's output:
// the full path becomes the display file name, the bare temporary name the
// display name, and the host run folder disappears.
func (r *Runner) replacer(d *runDir, src, displayFile, name, display string) *strings.Replacer {
	pairs := []string{src, displayFile}
	if d.host != "" {
		pairs = append(pairs, d.work+"/", "", d.host+"/", "", d.host, "")
	}
	if name != "" {
		pairs = append(pairs, name, display)
	}
	return strings.NewReplacer(pairs...)
}

func (r *Runner) result(lang, phase string, er *execResult, repl *strings.Replacer, timeout time.Duration) Result {
	return Result{
		Language:  lang,
		Phase:     phase,
		Stdout:    text(er.stdout.buf, er.stdout.truncated, repl),
		Stderr:    text(er.stderr.buf, er.stderr.truncated, repl),
		ExitCode:  er.exitCode,
		Duration:  er.duration,
		TimedOut:  er.timedOut,
		Truncated: er.stdout.truncated || er.stderr.truncated,
		Timeout:   timeout,
		LimitsHit: er.limits,
		cgDir:     er.cgDir,
		initPid:   er.initPid,
		initStart: er.initStart,
	}
}

// javacArgs are chosen for start-up time: javac is a JVM program, and a
// learner's file compiles in well under the time the JIT would need to pay
// off, so only the first compiler tier runs; serial GC starts fastest; the
// default class-data-sharing archive is used when present.
func (r *Runner) javacArgs() []string {
	return []string{
		fmt.Sprintf("-J-Xmx%dm", max(r.lim.CompileMemoryBytes/2>>20, 64)),
		"-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", "-J-XX:-UsePerfData", "-J-Xshare:auto",
		"-J-XX:ActiveProcessorCount=1", "-J-XX:CompressedClassSpaceSize=64m",
		"-encoding", "UTF-8",
		"-proc:none", // no annotation processors: nothing but javac runs
	}
}

// javaArgs size the JVM inside the memory limit: half for the heap (so a
// memory bomb ends in OutOfMemoryError, not a kill), small metaspace and
// code cache, one GC and compiler thread so thread bombs hit the process
// limit rather than the JVM's own helpers.
func (r *Runner) javaArgs(tmp string) []string {
	return []string{
		fmt.Sprintf("-Xmx%dm", max(r.lim.MemoryBytes/2>>20, 16)),
		"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData", "-Xshare:auto",
		"-XX:MaxMetaspaceSize=64m", "-XX:ReservedCodeCacheSize=32m", "-XX:ActiveProcessorCount=1",
		"-XX:CompressedClassSpaceSize=32m", // reserved up front: 1 GiB by default
		"-Dfile.encoding=UTF-8", "-Dsun.stdout.encoding=UTF-8", "-Dsun.stderr.encoding=UTF-8",
		"-Djava.io.tmpdir=" + tmp,
	}
}

// compileJava compiles req's source with javac in the sandbox, or takes the
// classes from the cache. The returned entry is nil unless compilation
// succeeded.
func (r *Runner) compileJava(ctx context.Context, l *language, req Request) (Result, *cacheEntry, error) {
	js := scanJava(req.Source)
	file := js.fileName()
	sum := sha256.Sum256([]byte(l.version + "\x00" + strings.Join(r.javacArgs(), " ") + "\x00" + file + "\x00" + req.Source))
	key := hex.EncodeToString(sum[:])
	start := time.Now()
	if e, ok := r.cache.get(key); ok && validClassName(e.main) {
		return Result{Language: Java, Phase: "compile", Cached: true, Duration: time.Since(start), Timeout: r.o.CompileTimeout}, e, nil
	}
	d, err := r.newRunDir(true)
	if err != nil {
		return Result{}, nil, err
	}
	defer r.removeRunDir(d)
	outHost := filepath.Join(d.host, "out")
	if err := os.Mkdir(outHost, 0o700); err != nil {
		return Result{}, nil, fmt.Errorf("runner: create class folder: %w", err)
	}
	out := outHost
	var mounts []mountSpec
	if r.sb.bwrap != "" {
		out = sandboxOut
		mounts = []mountSpec{{host: outHost, inside: sandboxOut, writable: true}}
	}
	s := execSpec{
		argv:    append(append([]string{l.javac}, r.javacArgs()...), "-d", out, file),
		files:   map[string][]byte{file: []byte(req.Source)},
		timeout: r.o.CompileTimeout,
		memory:  r.lim.CompileMemoryBytes,
		binds:   l.binds,
		mounts:  mounts,
		env:     []string{"MALLOC_ARENA_MAX=2"},
	}
	if r.sb.cg == nil {
		s.as = r.lim.CompileMemoryBytes + 512<<20
	}
	er, err := r.execute(ctx, d, s)
	if err != nil {
		return Result{}, nil, err
	}
	if er.cancelled {
		return Result{}, nil, fmt.Errorf("runner: compile cancelled: %w", ctx.Err())
	}
	res := r.result(Java, "compile", er, r.replacer(d, filepath.Join(d.work, file), file, "", ""), r.o.CompileTimeout)
	if !res.OK() {
		return res, nil, nil
	}
	tmp, err := r.cache.tempDir()
	if err != nil {
		return Result{}, nil, fmt.Errorf("runner: java cache: %w", err)
	}
	main, err := collectClasses(outHost, tmp, js)
	if err != nil {
		os.RemoveAll(tmp)
		return Result{}, nil, fmt.Errorf("runner: collect classes: %w", err)
	}
	entry, err := r.cache.put(key, tmp, main)
	if err != nil {
		return Result{}, nil, fmt.Errorf("runner: java cache: %w", err)
	}
	return res, entry, nil
}

// runJava compiles (or finds in the cache) and runs a Java program. When
// compilation fails the compile result is returned (Phase "compile").
func (r *Runner) runJava(ctx context.Context, l *language, req Request) (Result, error) {
	cres, entry, err := r.compileJava(ctx, l, req)
	if err != nil || entry == nil {
		return cres, err
	}
	d, err := r.newRunDir(false)
	if err != nil {
		return Result{}, err
	}
	defer r.removeRunDir(d)
	classes := entry.dir
	var mounts []mountSpec
	if r.sb.bwrap != "" {
		classes = sandboxClasses
		mounts = []mountSpec{{host: entry.dir, inside: sandboxClasses}}
	}
	s := execSpec{
		argv:    append(append([]string{l.exe}, r.javaArgs(d.tmp)...), "-cp", classes, entry.main),
		stdin:   []byte(req.Stdin),
		timeout: r.o.RunTimeout,
		memory:  r.lim.MemoryBytes,
		binds:   l.binds,
		mounts:  mounts,
		env:     []string{"MALLOC_ARENA_MAX=2"},
	}
	if r.sb.cg == nil {
		s.as = r.lim.MemoryBytes + 512<<20
	}
	er, err := r.execute(ctx, d, s)
	if err != nil {
		return Result{}, err
	}
	if er.cancelled {
		return Result{}, fmt.Errorf("runner: run cancelled: %w", ctx.Err())
	}
	var repl *strings.Replacer
	if d.host != "" {
		repl = r.replacer(d, entry.dir+"/", "", "", "")
	}
	res := r.result(Java, "run", er, repl, r.o.RunTimeout)
	res.Cached, res.CompileDuration = cres.Cached, cres.Duration
	return res, nil
}
