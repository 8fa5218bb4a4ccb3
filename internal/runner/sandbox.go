package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sandbox is the isolation chosen at start.
type sandbox struct {
	isolation     string
	bwrap         string   // path of bwrap; "" without bubblewrap
	disableUserns bool     // bwrap supports --disable-userns
	sizedTmpfs    bool     // bwrap supports --size
	rlimits       bool     // apply rlimits (every mode but off)
	cg            *cgroups // nil when cgroups are not used
	etc           string   // folder holding the sandbox's passwd and group
	empty         string   // an empty folder, bound over /proc folders to hide them
}

// Inside the sandbox the program runs as this unprivileged user, in a
// working folder and a /tmp that are fresh size-limited tmpfs mounts.
const (
	sandboxUID  = "1000"
	sandboxWork = "/work"
	sandboxTmp  = "/tmp"
)

// runDir is where one run's files live. With bubblewrap the working folder
// and /tmp exist only inside the sandbox (tmpfs), and host is set only when a
// run must hand files back (javac's classes). Without bubblewrap host holds
// work/ and tmp/.
type runDir struct {
	host      string
	work, tmp string // as the program sees them
}

func (r *Runner) newRunDir(needHost bool) (*runDir, error) {
	d := &runDir{work: sandboxWork, tmp: sandboxTmp}
	if r.sb.bwrap != "" && !needHost {
		return d, nil
	}
	// MkdirTemp gives a random name with mode 0700 under the private root.
	host, err := os.MkdirTemp(r.root, "run-")
	if err != nil {
		return nil, fmt.Errorf("runner: create run folder: %w", err)
	}
	d.host = host
	if r.sb.bwrap == "" {
		d.work, d.tmp = filepath.Join(host, "work"), filepath.Join(host, "tmp")
		for _, p := range []string{d.work, d.tmp} {
			if err := os.Mkdir(p, 0o700); err != nil {
				os.RemoveAll(host)
				return nil, fmt.Errorf("runner: create run folder: %w", err)
			}
		}
	}
	return d, nil
}

// remove deletes the run folder. os.RemoveAll never follows symbolic links
// (it walks with openat and O_NOFOLLOW), so a link the program planted
// pointing at a host file removes only the link.
func (r *Runner) removeRunDir(d *runDir) {
	if d.host == "" {
		return
	}
	if err := os.RemoveAll(d.host); err != nil {
		r.log.Error("runner: cannot remove run folder", "dir", d.host, "err", err)
	}
}

type mountSpec struct {
	host, inside string
	writable     bool
}

// execSpec is one process to run.
type execSpec struct {
	argv    []string
	files   map[string][]byte // placed in the working folder before start
	stdin   []byte
	timeout time.Duration
	memory  int64 // cgroup memory limit
	as      int64 // RLIMIT_AS; 0 for none
	binds   []string
	mounts  []mountSpec
	env     []string
}

type execResult struct {
	stdout, stderr *capture
	exitCode       int
	timedOut       bool
	cancelled      bool
	duration       time.Duration
	limits         []string
	cgDir          string
	// The process that held the program (namespace init or wrapper shell)
	// and its start time, so tests can prove it is gone after the run.
	initPid   int
	initStart string
}

// bwrapInfo is what bubblewrap writes on --info-fd once it has created the
// sandbox's first process (the PID namespace's init).
type bwrapInfo struct {
	ChildPid int `json:"child-pid"`
}

// execute runs one process in the sandbox and waits for it, the wall clock,
// or ctx. Whatever happens, nothing the program started outlives the call
// when a PID namespace or a cgroup holds it.
func (r *Runner) execute(ctx context.Context, d *runDir, s execSpec) (*execResult, error) {
	res := &execResult{}
	var cg *jobCgroup
	if r.sb.cg != nil {
		var err error
		if cg, err = r.sb.cg.create(s.memory, r.lim.Processes); err != nil {
			return nil, fmt.Errorf("runner: %w", err)
		}
		res.cgDir = cg.mem
		defer func() {
			cg.killAll()
			if err := cg.remove(); err != nil {
				r.log.Error("runner: cannot remove job cgroup", "err", err)
			}
		}()
	}

	var toClose []*os.File // parent's copies of the child's ends, closed after start
	pipe := func() (*os.File, *os.File, error) {
		pr, pw, err := os.Pipe()
		return pr, pw, err
	}
	var pipes []*os.File
	fail := func(err error) (*execResult, error) {
		for _, f := range pipes {
			f.Close()
		}
		return nil, fmt.Errorf("runner: %w", err)
	}
	stdoutR, stdoutW, err := pipe()
	if err != nil {
		return fail(err)
	}
	pipes = append(pipes, stdoutR, stdoutW)
	stderrR, stderrW, err := pipe()
	if err != nil {
		return fail(err)
	}
	pipes = append(pipes, stderrR, stderrW)
	stdinR, stdinW, err := pipe()
	if err != nil {
		return fail(err)
	}
	pipes = append(pipes, stdinR, stdinW)
	blockR, blockW, err := pipe()
	if err != nil {
		return fail(err)
	}
	pipes = append(pipes, blockR, blockW)
	toClose = append(toClose, stdoutW, stderrW, stdinR, blockR)

	env := append([]string{
		"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + d.work, "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TMPDIR=" + d.tmp,
	}, s.env...)

	var cmd *exec.Cmd
	var infoR *os.File
	type pending struct {
		w    *os.File
		data []byte
	}
	var feeds []pending
	if r.sb.bwrap != "" {
		var infoW *os.File
		if infoR, infoW, err = pipe(); err != nil {
			return fail(err)
		}
		pipes = append(pipes, infoR, infoW)
		toClose = append(toClose, infoW)
		extra := []*os.File{infoW, blockR} // fds 3 and 4
		var fileArgs []string
		names := make([]string, 0, len(s.files))
		for name := range s.files {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			pr, pw, err := pipe()
			if err != nil {
				return fail(err)
			}
			pipes = append(pipes, pr, pw)
			toClose = append(toClose, pr)
			fileArgs = append(fileArgs, "--perms", "0644", "--file", strconv.Itoa(3+len(extra)), filepath.Join(sandboxWork, name))
			extra = append(extra, pr)
			feeds = append(feeds, pending{pw, s.files[name]})
		}
		cmd = exec.Command(r.sb.bwrap, r.bwrapArgs(s, env, fileArgs)...)
		cmd.ExtraFiles = extra
		cmd.Env = []string{}
	} else {
		for name, data := range s.files {
			if err := writeNew(filepath.Join(d.work, name), data); err != nil {
				return fail(err)
			}
		}
		// Without bubblewrap nothing can hold a new process before exec, so
		// a shell waits on fd 3 while the runner applies rlimits and the
		// cgroup to it, then execs the program with them in force.
		cmd = exec.Command("/bin/sh", append([]string{"-c", `read -r _ <&3; exec 3<&-; exec "$@"`, "itss-run"}, s.argv...)...)
		cmd.ExtraFiles = []*os.File{blockR}
		cmd.Dir = d.work
		cmd.Env = env
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdinR, stdoutW, stderrW
	// Own process group to kill stragglers; SIGKILL if the server dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	bornInside := false
	if cg != nil {
		bornInside, err = cg.startIn(cmd.Start)
	} else {
		err = cmd.Start()
	}
	if err != nil {
		if cmd.Process != nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		return fail(fmt.Errorf("start: %w", err))
	}
	for _, f := range toClose {
		f.Close()
	}
	res.stdout = startCapture(stdoutR, r.lim.OutputBytes)
	res.stderr = startCapture(stderrR, r.lim.OutputBytes)
	fed := []chan struct{}{feed(stdinW, s.stdin)}
	for _, p := range feeds {
		fed = append(fed, feed(p.w, p.data))
	}
	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()

	// finish reaps everything and releases the pipes; it runs on every path.
	pgid := cmd.Process.Pid
	var pidfd = -1
	finish := func() {
		// Without a PID namespace, background children of the program may
		// remain in its process group. (With bubblewrap the namespace is
		// already empty once bubblewrap has exited.)
		if r.sb.bwrap == "" {
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
		if cg != nil {
			cg.killAll()
		}
		if pidfd >= 0 {
			// bubblewrap exits as soon as the program does, while its
			// namespace init is still being killed (--die-with-parent):
			// wait for the init, so that when execute returns, nothing the
			// program started is alive.
			if r.sb.bwrap != "" {
				pidfdKill(pidfd)
				if !pidfdWait(pidfd, 10*time.Second) {
					r.log.Error("runner: sandbox init did not exit", "pid", res.initPid)
				}
			}
			syscall.Close(pidfd)
		}
		res.stdout.wait(250 * time.Millisecond)
		res.stderr.wait(250 * time.Millisecond)
		stdinW.SetWriteDeadline(time.Now())
		for _, p := range feeds {
			p.w.SetWriteDeadline(time.Now())
		}
		for _, c := range fed {
			<-c
		}
		blockW.Close()
		if infoR != nil {
			infoR.Close()
		}
	}
	abort := func(err error) (*execResult, error) {
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-waitDone
		finish()
		return nil, fmt.Errorf("runner: %w", err)
	}

	// The process that will become the program: bubblewrap's namespace init
	// (blocked on --block-fd), or the waiting shell.
	target := cmd.Process.Pid
	if infoR != nil {
		infoR.SetReadDeadline(time.Now().Add(10 * time.Second))
		var info bwrapInfo
		if err := json.NewDecoder(infoR).Decode(&info); err != nil || info.ChildPid <= 0 {
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-waitDone
			finish()
			return nil, fmt.Errorf("runner: bubblewrap did not start (%v): %s", err, bytes.TrimSpace(res.stderr.buf))
		}
		target = info.ChildPid
	}
	res.initPid, res.initStart = target, procStartTime(target)
	if pidfd, err = pidfdOpen(target); err != nil {
		return abort(fmt.Errorf("pidfd_open: %w", err))
	}
	if r.sb.rlimits {
		if err := setRlimits(target, r.rlimits(s)); err != nil {
			return abort(err)
		}
	}
	if cg != nil && !bornInside {
		if err := cg.add(target); err != nil {
			return abort(err)
		}
	}
	start := time.Now()
	if _, err := blockW.Write([]byte("\n")); err != nil {
		return abort(fmt.Errorf("release: %w", err))
	}
	blockW.Close()

	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	var waitErr error
	select {
	case waitErr = <-waitDone:
	case <-timer.C:
		res.timedOut = true
	case <-ctx.Done():
		res.cancelled = true
	}
	if res.timedOut || res.cancelled {
		// Killing the namespace's init makes the kernel kill everything in
		// the namespace; bubblewrap then reaps it and exits.
		pidfdKill(pidfd)
		if r.sb.bwrap == "" {
			syscall.Kill(-pgid, syscall.SIGKILL)
			if cg != nil {
				cg.killAll()
			}
		}
		select {
		case waitErr = <-waitDone:
		case <-time.After(5 * time.Second):
			syscall.Kill(-pgid, syscall.SIGKILL)
			waitErr = <-waitDone
		}
	}
	res.duration = time.Since(start)
	finish()

	res.exitCode = exitCode(cmd.ProcessState, waitErr)
	if res.timedOut {
		res.limits = append(res.limits, "wall")
	}
	switch res.exitCode {
	case 128 + int(syscall.SIGXCPU):
		res.limits = append(res.limits, "cpu")
	case 128 + int(syscall.SIGXFSZ):
		res.limits = append(res.limits, "file_size")
	}
	if cg != nil {
		mem, pids := cg.hits()
		if mem {
			res.limits = append(res.limits, "memory")
		}
		if pids {
			res.limits = append(res.limits, "processes")
		}
	}
	if res.stdout.truncated || res.stderr.truncated {
		res.limits = append(res.limits, "output")
	}
	return res, nil
}

// exitCode maps a process state to a shell-style code: 128+n for signal n.
// bubblewrap already reports its program's death by signal that way.
func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return -1
	}
	return ps.ExitCode()
}

// rlimits lists the limits applied to the program before it starts.
func (r *Runner) rlimits(s execSpec) []rlimit {
	cpu := uint64((r.lim.CPUTime + time.Second - 1) / time.Second)
	l := []rlimit{
		// SIGXCPU at the soft limit, SIGKILL a second later.
		{syscall.RLIMIT_CPU, cpu, cpu + 1},
		{syscall.RLIMIT_FSIZE, uint64(r.lim.FileSizeBytes), uint64(r.lim.FileSizeBytes)},
		{syscall.RLIMIT_NOFILE, uint64(r.lim.OpenFiles), uint64(r.lim.OpenFiles)},
		{rlimitCORE, 0, 0},
		// The kernel does not apply RLIMIT_NPROC to processes of host root
		// (a bubblewrap sandbox started by root maps its user to root): the
		// pids cgroup is what holds there.
		{rlimitNPROC, uint64(r.lim.Processes), uint64(r.lim.Processes)},
	}
	if s.as > 0 {
		l = append(l, rlimit{syscall.RLIMIT_AS, uint64(s.as), uint64(s.as)})
	}
	return l
}

// bwrapArgs builds bubblewrap's command line: every namespace unshared (the
// network one leaves not even loopback), only the system folders and the
// interpreter's own folders visible and read-only, fresh size-limited tmpfs
// for the working folder, /tmp and /dev/shm, a cleared environment, an
// unprivileged user with no capabilities, and the root remounted read-only.
func (r *Runner) bwrapArgs(s execSpec, env, fileArgs []string) []string {
	a := []string{
		"--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup",
	}
	if r.sb.disableUserns {
		a = append(a, "--disable-userns")
	}
	a = append(a,
		"--die-with-parent", "--new-session",
		"--uid", sandboxUID, "--gid", sandboxUID, "--hostname", "sandbox",
		"--cap-drop", "ALL", "--clearenv",
	)
	for _, kv := range env {
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				a = append(a, "--setenv", kv[:i], kv[i+1:])
				break
			}
		}
	}
	for _, dir := range systemDirs {
		fi, err := os.Lstat(dir)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			if target, err := os.Readlink(dir); err == nil {
				a = append(a, "--symlink", target, dir)
			}
		case fi.IsDir():
			a = append(a, "--ro-bind", dir, dir)
		}
	}
	for _, b := range s.binds {
		a = append(a, "--ro-bind", b, b)
	}
	a = append(a,
		"--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
		"--ro-bind-try", "/etc/localtime", "/etc/localtime",
		"--ro-bind", filepath.Join(r.sb.etc, "passwd"), "/etc/passwd",
		"--ro-bind", filepath.Join(r.sb.etc, "group"), "/etc/group",
		"--proc", "/proc", "--dev", "/dev",
	)
	a = append(a, procMasks(r.sb.empty)...)
	size := strconv.FormatInt(r.lim.ScratchBytes, 10)
	for _, t := range []struct{ dir, perms string }{{"/dev/shm", "1777"}, {sandboxTmp, "1777"}, {sandboxWork, "0755"}} {
		a = append(a, "--perms", t.perms)
		if r.sb.sizedTmpfs {
			a = append(a, "--size", size)
		}
		a = append(a, "--tmpfs", t.dir)
	}
	a = append(a, fileArgs...)
	for _, m := range s.mounts {
		if m.writable {
			a = append(a, "--bind", m.host, m.inside)
		} else {
			a = append(a, "--ro-bind", m.host, m.inside)
		}
	}
	a = append(a,
		"--remount-ro", "/dev",
		"--remount-ro", "/",
		"--chdir", sandboxWork,
		"--info-fd", "3", "--block-fd", "4",
		"--",
	)
	return append(a, s.argv...)
}

// writeNew creates a file that must not exist yet, refusing symlinks.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// chooseSandbox picks the strongest isolation that works on this host,
// proving each candidate with a real run before trusting it.
func (r *Runner) chooseSandbox(ctx context.Context) error {
	if r.o.Sandbox == SandboxOff {
		r.sb = sandbox{isolation: IsolationOff}
		r.log.Warn("runner: SANDBOX=off: learners' programs run WITHOUT ISOLATION or limits as the server's user; use only for development")
		return nil
	}
	var cg *cgroups
	if !r.o.disableCgroup {
		var err error
		if cg, err = newCgroups(); err != nil {
			r.log.Info("runner: cgroups unavailable, memory and process limits fall back to rlimits", "reason", err)
		}
	}
	bwrapErr := r.tryBwrap(ctx, cg)
	if bwrapErr == nil {
		r.log.Info("runner: sandbox ready", "isolation", r.sb.isolation, "bwrap", r.sb.bwrap)
		if r.sb.cg == nil && os.Geteuid() == 0 {
			r.log.Warn("runner: no cgroups and running as root: the kernel does not enforce the process-count limit on root-mapped sandboxes; a fork bomb is stopped only by the wall clock")
		}
		return nil
	}
	if r.o.Sandbox == SandboxRequired {
		if cg != nil {
			cg.close()
		}
		r.sb = sandbox{isolation: IsolationUnavailable}
		r.log.Error("runner: SANDBOX=required but bubblewrap does not work: code execution is refused (503)", "reason", bwrapErr)
		return nil
	}
	r.sb = sandbox{isolation: IsolationRlimits, rlimits: true, cg: cg}
	if cg != nil {
		if err := r.probe(ctx); err != nil {
			r.log.Info("runner: cgroups unusable", "reason", err)
			cg.close()
			r.sb.cg = nil
		}
	}
	if err := r.probe(ctx); err != nil {
		return fmt.Errorf("runner: cannot run programs at all: %w", err)
	}
	r.log.Warn("runner: BUBBLEWRAP UNAVAILABLE: learners' programs run with rlimits only, as the server's user, "+
		"with network access and a view of the server's files; install bubblewrap or set SANDBOX=required",
		"reason", bwrapErr, "cgroups", r.sb.cg != nil)
	return nil
}

func (r *Runner) tryBwrap(ctx context.Context, cg *cgroups) error {
	name := r.o.BwrapBin
	if name == "" {
		name = "bwrap"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return err
	}
	help, _ := exec.CommandContext(ctx, path, "--help").CombinedOutput()
	etc := filepath.Join(r.root, "etc")
	if err := os.Mkdir(etc, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("sandbox etc: %w", err)
	}
	// A minimal account database: the host's lists users and services.
	for name, content := range map[string]string{
		"passwd": "sandbox:x:" + sandboxUID + ":" + sandboxUID + ":sandbox:" + sandboxWork + ":/usr/sbin/nologin\n",
		"group":  "sandbox:x:" + sandboxUID + ":\n",
	} {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("sandbox etc: %w", err)
		}
	}
	empty := filepath.Join(r.root, "empty")
	if err := os.Mkdir(empty, 0o555); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("sandbox: %w", err)
	}
	r.sb = sandbox{
		empty:         empty,
		bwrap:         path,
		disableUserns: bytes.Contains(help, []byte("--disable-userns")),
		sizedTmpfs:    bytes.Contains(help, []byte("--size")),
		rlimits:       true,
		cg:            cg,
		etc:           etc,
		isolation:     IsolationBwrapRlimits,
	}
	if cg != nil {
		r.sb.isolation = IsolationBwrapCgroup
		if err := r.probe(ctx); err == nil {
			return nil
		} else {
			r.log.Info("runner: cgroups unusable with bubblewrap", "reason", err)
		}
		cg.close()
		r.sb.cg, r.sb.isolation = nil, IsolationBwrapRlimits
	}
	if err := r.probe(ctx); err != nil {
		r.sb = sandbox{}
		return err
	}
	return nil
}

// probe runs a trivial program through the full machinery.
func (r *Runner) probe(ctx context.Context) error {
	d, err := r.newRunDir(false)
	if err != nil {
		return err
	}
	defer r.removeRunDir(d)
	res, err := r.execute(ctx, d, execSpec{
		argv:    []string{"/bin/sh", "-c", "exit 0"},
		timeout: 10 * time.Second,
		memory:  r.lim.MemoryBytes,
	})
	if err != nil {
		return err
	}
	if res.exitCode != 0 || res.timedOut {
		return fmt.Errorf("probe exited %d (timed out %v): %s", res.exitCode, res.timedOut, bytes.TrimSpace(res.stderr.buf))
	}
	return nil
}

// procStartTime returns a process's start time in clock ticks (field 22 of
// /proc/<pid>/stat), which with the pid identifies the process uniquely.
func procStartTime(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// procMasks hides the parts of the sandbox's /proc that a program must not
// write or read. A sandbox started by root maps its user to host root, and
// procfs checks sysctl and sysrq writes against that uid alone, so
// /proc/sys is made read-only (bubblewrap covers only irq and bus); files
// that show host-wide state (root's keys, timers) are covered with a
// device node on a nodev mount, which cannot be opened.
func procMasks(empty string) []string {
	var a []string
	if fileExists("/proc/sys") {
		a = append(a, "--ro-bind", "/proc/sys", "/proc/sys")
	}
	for _, f := range []string{"sysrq-trigger", "keys", "key-users", "timer_list", "sched_debug", "latency_stats", "kcore", "kallsyms", "kmsg"} {
		if fileExists("/proc/" + f) {
			a = append(a, "--ro-bind", "/dev/null", "/proc/"+f)
		}
	}
	for _, d := range []string{"acpi", "scsi", "fs", "tty", "driver"} {
		if fi, err := os.Stat("/proc/" + d); err == nil && fi.IsDir() {
			a = append(a, "--ro-bind", empty, "/proc/"+d)
		}
	}
	return a
}
