package runner

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

// language is an interpreter found on the host at start.
type language struct {
	name    string
	ok      bool
	version string // "python 3.11.7"
	exe     string // real executable (symlinks and shims resolved)
	javac   string // Java only
	tar     bool   // Java only: tar found in the system folders
	// binds are host folders outside the system folders that the
	// interpreter needs (a pyenv installation, a JDK's /etc config), made
	// visible read-only at the same path inside the sandbox.
	binds []string
	// cred is the unprivileged host user its sandboxes run as; nil when
	// they run as the server's user (see Runner.chooseHostUser).
	cred *syscall.Credential
}

// systemDirs are bound read-only in every sandbox. Anything an interpreter
// needs outside them is found at start and added to its language's binds.
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

func underSystemDirs(p string) bool {
	for _, d := range systemDirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// detectLanguages resolves each interpreter once at start: its real
// executable, its version and the folders it needs. Versions are served from
// here, never by forking an interpreter per request.
func detectLanguages(ctx context.Context, o Options, log *slog.Logger) map[string]*language {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	langs := map[string]*language{}
	orDefault := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	for _, f := range []func() (*language, error){
		func() (*language, error) { return detectPython(ctx, orDefault(o.PythonBin, "python3")) },
		func() (*language, error) { return detectNode(ctx, orDefault(o.NodeBin, "node")) },
		func() (*language, error) {
			return detectJava(ctx, orDefault(o.JavaBin, "java"), orDefault(o.JavacBin, "javac"))
		},
	} {
		l, err := f()
		if err != nil {
			log.Warn("runner: interpreter unavailable", "language", l.name, "err", err)
			continue
		}
		l.ok = true
		langs[l.name] = l
		log.Info("runner: interpreter", "language", l.name, "version", l.version, "exe", l.exe)
	}
	return langs
}

func probeOutput(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s: %w: %.200s", name, err, out.String())
	}
	return out.String(), nil
}

func realExecutable(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", err
	}
	if p, err = filepath.Abs(p); err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(p)
}

// prefixBind returns the installation prefix of an executable at
// <prefix>/bin/<exe> when it lies outside the system folders.
func prefixBind(exe string) []string {
	if underSystemDirs(exe) {
		return nil
	}
	return []string{filepath.Dir(filepath.Dir(exe))}
}

func detectPython(ctx context.Context, bin string) (*language, error) {
	l := &language{name: Python}
	p, err := exec.LookPath(bin)
	if err != nil {
		return l, err
	}
	// "python3" on PATH may be a shim script (pyenv, asdf) that cannot run
	// in the sandbox: ask the interpreter for its real executable instead.
	out, err := probeOutput(ctx, p, "-c",
		"import sys;print(sys.executable);print(sys.prefix);print(sys.base_prefix);print('%d.%d.%d'%sys.version_info[:3])")
	if err != nil {
		return l, err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 4 {
		return l, fmt.Errorf("python: unexpected probe output %q", out)
	}
	if l.exe, err = filepath.EvalSymlinks(strings.TrimSpace(lines[0])); err != nil {
		return l, fmt.Errorf("python: resolve executable: %w", err)
	}
	for _, prefix := range lines[1:3] {
		if prefix = strings.TrimSpace(prefix); prefix != "" && !underSystemDirs(prefix) {
			if real, err := filepath.EvalSymlinks(prefix); err == nil && !slices.Contains(l.binds, real) {
				l.binds = append(l.binds, real)
			}
		}
	}
	l.binds = append(l.binds, prefixBind(l.exe)...)
	l.binds = dedupeDirs(l.binds)
	l.version = "python " + strings.TrimSpace(lines[3])
	return l, nil
}

func detectNode(ctx context.Context, bin string) (*language, error) {
	l := &language{name: JavaScript}
	var err error
	if l.exe, err = realExecutable(bin); err != nil {
		return l, err
	}
	out, err := probeOutput(ctx, l.exe, "-p", "process.versions.node")
	if err != nil {
		return l, err
	}
	l.version = "nodejs " + strings.TrimSpace(out)
	l.binds = prefixBind(l.exe)
	return l, nil
}

var javaVersionRe = regexp.MustCompile(`version "([^"]+)"`)

func detectJava(ctx context.Context, javaBin, javacBin string) (*language, error) {
	l := &language{name: Java}
	var err error
	if l.exe, err = realExecutable(javaBin); err != nil {
		return l, err
	}
	if l.javac, err = realExecutable(javacBin); err != nil {
		return l, fmt.Errorf("javac: %w", err)
	}
	out, err := probeOutput(ctx, l.exe, "-version")
	if err != nil {
		return l, err
	}
	m := javaVersionRe.FindStringSubmatch(out)
	if m == nil {
		return l, fmt.Errorf("java: unexpected -version output %q", out)
	}
	l.version = "java " + m[1]
	// The sandbox hands javac's classes back as a tar stream.
	if tar, err := realExecutable("tar"); err == nil && underSystemDirs(tar) {
		l.tar = true
	}
	for _, exe := range []string{l.exe, l.javac} {
		home := filepath.Dir(filepath.Dir(exe))
		l.binds = append(l.binds, prefixBind(exe)...)
		l.binds = append(l.binds, jdkConfigDirs(home)...)
	}
	l.binds = dedupeDirs(l.binds)
	return l, nil
}

// jdkConfigDirs finds the folders that a JDK's conf and lib symlinks point
// into outside the system folders (Debian keeps jvm.cfg and java.security in
// /etc/java-17-openjdk). Only the targets' own folders are bound, never a
// broader parent like /etc.
func jdkConfigDirs(home string) []string {
	var dirs []string
	for _, sub := range []string{"conf", "lib"} {
		root := filepath.Join(home, sub)
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() && strings.Count(strings.TrimPrefix(p, root), "/") > 2 {
				return filepath.SkipDir
			}
			if d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			target, err := filepath.EvalSymlinks(p)
			if err != nil || underSystemDirs(target) {
				return nil
			}
			dirs = append(dirs, filepath.Dir(target))
			return nil
		})
	}
	return dirs
}

// dedupeDirs drops duplicates and folders nested in another listed folder.
func dedupeDirs(dirs []string) []string {
	slices.Sort(dirs)
	dirs = slices.Compact(dirs)
	var out []string
	for _, d := range dirs {
		if len(out) > 0 {
			last := out[len(out)-1]
			if d == last || strings.HasPrefix(d, last+"/") {
				continue
			}
		}
		out = append(out, d)
	}
	return out
}

// fileExists reports whether p exists (without following a final symlink).
func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
