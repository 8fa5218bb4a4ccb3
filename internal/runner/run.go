package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Java inside the sandbox: javac writes its classes to sandboxClassDir, a
// shell hands them back as a tar stream on stdout (so no host folder is
// ever writable from a sandbox), and a run finds its program's jar at
// sandboxJar, copied in from the cache through a descriptor.
const (
	sandboxClassDir = "/tmp/classes"
	sandboxJar      = "/classes.jar"
	// javacScript runs javac (its arguments follow) with its messages on
	// stderr, then archives the classes; exit status 99 means the archive
	// failed, any other failure is javac's own status.
	javacScript = `mkdir ` + sandboxClassDir + ` || exit 99
"$@" >&2 || exit
cd ` + sandboxClassDir + ` || exit 99
tar -cf - . || exit 99`
	archiveFailed = 99
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
		cred:    l.cred,
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
	// Replacing names can lengthen the output: the limit holds after it.
	stdout, cutOut := clip(text(er.stdout.buf, er.stdout.truncated, repl), r.lim.OutputBytes)
	stderr, cutErr := clip(text(er.stderr.buf, er.stderr.truncated, repl), r.lim.OutputBytes)
	limits := er.limits
	if (cutOut || cutErr) && !slices.Contains(limits, "output") {
		limits = append(limits, "output")
	}
	return Result{
		Language:  lang,
		Phase:     phase,
		Stdout:    stdout,
		Stderr:    stderr,
		ExitCode:  er.exitCode,
		Duration:  er.duration,
		TimedOut:  er.timedOut,
		Truncated: er.stdout.truncated || er.stderr.truncated || cutOut || cutErr,
		Timeout:   timeout,
		LimitsHit: limits,
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
// jar from the cache. The returned entry is nil unless compilation
// succeeded; the caller closes it.
func (r *Runner) compileJava(ctx context.Context, l *language, req Request) (Result, *cacheEntry, error) {
	js := scanJava(req.Source)
	file := js.fileName()
	// The key covers everything that decides the jar: the format, the
	// compiler and its flags, the file name and the whole source.
	sum := sha256.Sum256([]byte("jar1\x00" + l.version + "\x00" + strings.Join(r.javacArgs(), " ") + "\x00" + file + "\x00" + req.Source))
	key := hex.EncodeToString(sum[:])
	start := time.Now()
	if len(file) > 255 {
		// javac needs the public class in a file of its name, which no
		// file system holds.
		return Result{Language: Java, Phase: "compile", ExitCode: 1, Timeout: r.o.CompileTimeout,
			Stderr: "error: class name too long: a public class needs a file of its name, at most 255 bytes\n"}, nil, nil
	}
	if e, ok := r.cache.get(key); ok {
		return Result{Language: Java, Phase: "compile", Cached: true, Duration: time.Since(start), Timeout: r.o.CompileTimeout}, e, nil
	}
	sandboxed := r.sb.bwrap != ""
	d, err := r.newRunDir(!sandboxed)
	if err != nil {
		return Result{}, nil, err
	}
	defer r.removeRunDir(d)
	s := execSpec{
		files:   map[string][]byte{file: []byte(req.Source)},
		timeout: r.o.CompileTimeout,
		memory:  r.lim.CompileMemoryBytes,
		binds:   l.binds,
		env:     []string{"MALLOC_ARENA_MAX=2"},
		cred:    l.cred,
	}
	var outHost string
	if sandboxed {
		s.argv = append(append([]string{"/bin/sh", "-c", javacScript, "sh", l.javac}, r.javacArgs()...), "-d", sandboxClassDir, file)
		s.stdoutLimit = maxClassArchive
	} else {
		outHost = filepath.Join(d.host, "out")
		if err := os.Mkdir(outHost, 0o700); err != nil {
			return Result{}, nil, fmt.Errorf("runner: create class folder: %w", err)
		}
		s.argv = append(append([]string{l.javac}, r.javacArgs()...), "-d", outHost, file)
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
	var archive []byte
	archiveTruncated := false
	if sandboxed {
		// stdout is the class archive, not something to show.
		archive, archiveTruncated = er.stdout.buf, er.stdout.truncated
		er.stdout.buf, er.stdout.truncated = nil, false
		if !er.stderr.truncated {
			er.limits = slices.DeleteFunc(er.limits, func(l string) bool { return l == "output" })
		}
		if er.exitCode == archiveFailed && !er.timedOut {
			return Result{}, nil, fmt.Errorf("runner: hand classes back from the sandbox: %s", bytes.TrimSpace(er.stderr.buf))
		}
	}
	res := r.result(Java, "compile", er, r.replacer(d, filepath.Join(d.work, file), file, "", ""), r.o.CompileTimeout)
	if !res.OK() {
		return res, nil, nil
	}
	var classes []classFile
	if sandboxed {
		classes, err = readClassArchive(archive, archiveTruncated)
	} else {
		classes, err = collectClasses(outHost)
	}
	if le := (*classLimitError)(nil); errors.As(err, &le) {
		// The program is too big to keep: a compile error for the learner.
		res.ExitCode, res.Stderr = 1, le.msg+"\n"
		return res, nil, nil
	}
	if err != nil {
		return Result{}, nil, fmt.Errorf("runner: collect classes: %w", err)
	}
	jar, err := buildJar(classes, mainClass(classes, js))
	if err != nil {
		return Result{}, nil, fmt.Errorf("runner: build jar: %w", err)
	}
	entry, err := r.cache.put(key, jar)
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
	defer entry.close()
	d, err := r.newRunDir(false)
	if err != nil {
		return Result{}, err
	}
	defer r.removeRunDir(d)
	jar := entry.path
	s := execSpec{
		stdin:   []byte(req.Stdin),
		timeout: r.o.RunTimeout,
		memory:  r.lim.MemoryBytes,
		binds:   l.binds,
		env:     []string{"MALLOC_ARENA_MAX=2"},
		cred:    l.cred,
	}
	if r.sb.bwrap != "" {
		jar = sandboxJar
		s.roFiles = []roFile{{inside: sandboxJar, f: entry.f}}
	}
	// -jar launches the class the jar's manifest names.
	s.argv = append(append([]string{l.exe}, r.javaArgs(d.tmp)...), "-jar", jar)
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
		repl = r.replacer(d, entry.path, "", "", "")
	}
	res := r.result(Java, "run", er, repl, r.o.RunTimeout)
	res.Cached, res.CompileDuration = cres.Cached, cres.Duration
	return res, nil
}
