package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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
	// hostUser is the unprivileged host account bubblewrap runs as when
	// the server runs as root; nil when the server is not root (bubblewrap
	// then runs as the server's own user) or when that account cannot run
	// a sandbox at all.
	hostUser *syscall.Credential
	// seccomp is the BPF program loaded before the program starts; nil on
	// architectures without a filter.
	seccomp []byte
}

// Inside the sandbox the program runs as this unprivileged user, in a
// working folder and a /tmp that are fresh size-limited tmpfs mounts.
const (
	sandboxUID  = "1000"
	sandboxWork = "/work"
	sandboxTmp  = "/tmp"
	// defaultSandboxHostUID is the host account of sandboxes started by a
	// root server: "nobody" unless Options.SandboxUID names another.
	defaultSandboxHostUID = 65534
)

// The sandbox's account database, handed to bubblewrap through pipes: the
// host's lists users and services, and a file in the runner's folders
// would have to be readable by the sandbox's host account.
const (
	sandboxPasswd = "sandbox:x:" + sandboxUID + ":" + sandboxUID + ":sandbox:" + sandboxWork + ":/usr/sbin/nologin\n"
	sandboxGroup  = "sandbox:x:" + sandboxUID + ":\n"
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

// roFile is a host file copied into the sandbox, read-only, from an open
// descriptor: bubblewrap never resolves a host path for it, so it needs no
// access to the runner's folders, and the sandbox's mount table names none.
type roFile struct {
	inside string
	f      *os.File
}

// execSpec is one process to run.
type execSpec struct {
	argv    []string
	files   map[string][]byte // placed in the working folder before start
	roFiles []roFile          // bubblewrap only
	stdin   []byte
	timeout time.Duration
	memory  int64 // cgroup memory limit
	as      int64 // RLIMIT_AS; 0 for none
	binds   []string
	env     []string
	// cred is the host user bubblewrap runs as; nil for the server's own.
	cred *syscall.Credential
	// stdoutLimit replaces Limits.OutputBytes for stdout when set.
	stdoutLimit int
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
	// dataPipe hands bubblewrap a small constant file: written whole
	// before start (it fits the pipe's buffer), read by bubblewrap.
	dataPipe := func(data []byte) (*os.File, error) {
		pr, pw, err := pipe()
		if err != nil {
			return nil, err
		}
		pipes = append(pipes, pr)
		toClose = append(toClose, pr)
		_, err = pw.Write(data)
		pw.Close()
		return pr, err
	}

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
		pass := func(f *os.File) string {
			extra = append(extra, f)
			return strconv.Itoa(2 + len(extra))
		}
		var rootArgs []string
		for _, c := range []struct{ inside, data string }{{"/etc/passwd", sandboxPasswd}, {"/etc/group", sandboxGroup}} {
			pr, err := dataPipe([]byte(c.data))
			if err != nil {
				return fail(err)
			}
			rootArgs = append(rootArgs, "--perms", "0444", "--file", pass(pr), c.inside)
		}
		for _, f := range s.roFiles {
			rootArgs = append(rootArgs, "--perms", "0444", "--file", pass(f.f), f.inside)
		}
		if r.sb.seccomp != nil {
			pr, err := dataPipe(r.sb.seccomp)
			if err != nil {
				return fail(err)
			}
			rootArgs = append(rootArgs, "--seccomp", pass(pr))
		}
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
			fileArgs = append(fileArgs, "--perms", "0644", "--file", pass(pr), filepath.Join(sandboxWork, name))
			feeds = append(feeds, pending{pw, s.files[name]})
		}
		cmd = exec.Command(r.sb.bwrap, r.bwrapArgs(s, env, rootArgs, fileArgs)...)
		cmd.ExtraFiles = extra
		cmd.Env = []string{}
		// bubblewrap's own process stays in the host's mount namespace:
		// it keeps no reference to the server's working folder.
		cmd.Dir = "/"
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
	if r.sb.bwrap != "" && s.cred != nil {
		// The sandbox's user namespace maps its user to this host account,
		// so the program owns nothing on the host (a sandbox started by
		// root would map it to root: owner of every root file it can see,
		// exempt from RLIMIT_NPROC). Go sets the parent-death signal after
		// switching user, so it survives the switch.
		cmd.SysProcAttr.Credential = s.cred
	}
	// Only the descriptors listed above may reach the child.
	closeInheritedOnExec()
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
	stdoutLimit := r.lim.OutputBytes
	if s.stdoutLimit > 0 {
		stdoutLimit = s.stdoutLimit
	}
	res.stdout = startCapture(stdoutR, stdoutLimit)
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
		apply := setRlimits
		if r.sb.bwrap != "" && s.cred != nil {
			apply = func(pid int, l []rlimit) error { return setRlimitsAs(pid, l, s.cred) }
		}
		if err := apply(target, r.rlimits(s)); err != nil {
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
		// (a root-mapped sandbox, see chooseHostUser): the pids cgroup is
		// what holds there. It holds for the unprivileged sandbox user.
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
func (r *Runner) bwrapArgs(s execSpec, env, rootArgs, fileArgs []string) []string {
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
	a = append(a, hiddenSystemDirs(s.binds)...)
	a = append(a,
		"--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
		"--ro-bind-try", "/etc/localtime", "/etc/localtime",
	)
	a = append(a, rootArgs...)
	a = append(a, "--proc", "/proc", "--dev", "/dev")
	a = append(a, procMasks()...)
	size := strconv.FormatInt(r.lim.ScratchBytes, 10)
	for _, t := range []struct{ dir, perms string }{{"/dev/shm", "1777"}, {sandboxTmp, "1777"}, {sandboxWork, "0755"}} {
		a = append(a, "--perms", t.perms)
		if r.sb.sizedTmpfs {
			a = append(a, "--size", size)
		}
		a = append(a, "--tmpfs", t.dir)
	}
	a = append(a, fileArgs...)
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
		r.chooseHostUser(ctx)
		if l := r.langs[Java]; l != nil && l.ok && !l.tar {
			l.ok = false
			r.log.Warn("runner: java disabled: tar, which hands compiled classes back from the sandbox, is not installed in the system folders")
		}
		r.log.Info("runner: sandbox ready", "isolation", r.sb.isolation, "bwrap", r.sb.bwrap, "seccomp", r.sb.seccomp != nil)
		if r.sb.cg == nil {
			r.log.Warn("runner: no cgroups: memory is bounded per process by RLIMIT_AS only; kernel memory a program " +
				"spends on files in its scratch folders, pipes and sockets is not counted, and root-mapped sandboxes " +
				"are not held by the process-count limit")
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
	r.sb = sandbox{
		bwrap:         path,
		disableUserns: bytes.Contains(help, []byte("--disable-userns")),
		sizedTmpfs:    bytes.Contains(help, []byte("--size")),
		rlimits:       true,
		cg:            cg,
		isolation:     IsolationBwrapRlimits,
	}
	if bytes.Contains(help, []byte("--seccomp")) {
		r.sb.seccomp = seccompFilter()
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

// chooseHostUser decides which host user each language's sandboxes run
// as. bubblewrap maps the sandbox's user to the user that starts it, so a
// root server would give programs host uid 0: owner of every root file in
// their read-only view, exempt from RLIMIT_NPROC, and one kernel bug away
// from acting as root. A root server therefore starts them as
// Options.SandboxUID (nobody unless configured), for each language whose
// interpreter that user can reach; a language it cannot (a pyenv install
// under /root) keeps the root-mapped sandbox, with a loud warning.
func (r *Runner) chooseHostUser(ctx context.Context) {
	if os.Geteuid() != 0 {
		r.log.Info("runner: sandboxes run as the server's own unprivileged user", "uid", os.Geteuid())
		return
	}
	uid := r.o.SandboxUID
	if uid <= 0 {
		uid = defaultSandboxHostUID
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: []uint32{}}
	if err := r.probeAs(ctx, cred, nil, nil); err != nil {
		r.log.Warn("runner: SANDBOXES RUN AS HOST ROOT: the unprivileged sandbox user cannot start bubblewrap "+
			"(are unprivileged user namespaces disabled?); programs are isolated but map to uid 0 on the host",
			"uid", uid, "reason", err)
		return
	}
	r.sb.hostUser = cred
	for _, name := range slices.Sorted(maps.Keys(r.langs)) {
		l := r.langs[name]
		if l == nil || !l.ok {
			continue
		}
		exes := []string{l.exe}
		if l.javac != "" {
			exes = append(exes, l.javac)
		}
		err := r.probeAs(ctx, cred, l.binds, exes)
		if err != nil && name == Python && r.o.PythonBin == "" {
			// python3 on PATH is often a per-user install (pyenv under
			// /root); the distribution's own interpreter serves the
			// default setting without running programs as host root.
			if sys := r.systemPython(ctx, cred, l.exe); sys != nil {
				r.log.Info("runner: python3 on PATH is out of the sandbox user's reach; using the system's "+
					"(set PYTHON_BIN to choose)", "unreachable", l.exe, "exe", sys.exe, "version", sys.version)
				r.langs[Python], l, err = sys, sys, nil
			}
		}
		if err != nil {
			r.log.Warn("runner: "+strings.ToUpper(name)+" PROGRAMS RUN AS HOST ROOT inside their sandbox: the "+
				"unprivileged sandbox user cannot reach the interpreter; install it where other users can read it "+
				"(e.g. the distribution's package) or make its folders world-readable",
				"language", name, "uid", uid, "exe", l.exe, "folders", l.binds, "reason", err)
			continue
		}
		l.cred = cred
		r.log.Info("runner: sandboxes run as an unprivileged host user", "language", name, "uid", uid)
	}
}

// systemPythons are the distributions' python3 locations, tried when the
// default python3 is one the sandbox user cannot reach.
var systemPythons = []string{"/usr/bin/python3", "/usr/local/bin/python3"}

// systemPython returns a Python from systemPythons other than skip that a
// sandbox started as cred can run, or nil.
func (r *Runner) systemPython(ctx context.Context, cred *syscall.Credential, skip string) *language {
	for _, bin := range systemPythons {
		l, err := detectPython(ctx, bin)
		if err != nil || l.exe == skip {
			continue
		}
		if r.probeAs(ctx, cred, l.binds, []string{l.exe}) == nil {
			l.ok = true
			return l
		}
	}
	return nil
}

// probe runs a trivial program through the full machinery.
func (r *Runner) probe(ctx context.Context) error {
	return r.probeAs(ctx, nil, nil, nil)
}

// probeAs proves that a sandbox started as cred, with binds, can run:
// it checks that every file of exes is readable and executable inside.
func (r *Runner) probeAs(ctx context.Context, cred *syscall.Credential, binds, exes []string) error {
	d, err := r.newRunDir(false)
	if err != nil {
		return err
	}
	defer r.removeRunDir(d)
	res, err := r.execute(ctx, d, execSpec{
		argv:    append([]string{"/bin/sh", "-c", `for f; do test -r "$f" && test -x "$f" || { echo "cannot run $f" >&2; exit 3; }; done`, "probe"}, exes...),
		timeout: 10 * time.Second,
		memory:  r.lim.MemoryBytes,
		binds:   binds,
		cred:    cred,
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
// write or read. Host root (a root server without an unprivileged sandbox
// account) is checked by procfs against its uid alone for sysctl and sysrq
// writes, so /proc/sys is made read-only (bubblewrap covers only irq and
// bus); files that show host-wide state (keys, timers, kernel symbols) are
// covered with a device node on a nodev mount, which cannot be opened; and
// folders are covered with an empty read-only tmpfs, which needs no host
// folder the sandbox's account could not reach.
func procMasks() []string {
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
			a = append(a, emptyDir("/proc/"+d)...)
		}
	}
	return a
}

// emptyDir covers a folder with an empty, read-only tmpfs.
func emptyDir(dir string) []string {
	return []string{"--perms", "0555", "--tmpfs", dir, "--remount-ro", dir}
}

// hiddenFolders are folders inside the bound system folders that hold
// local configuration rather than anything an interpreter runs
// (/usr/local/etc keeps npmrc and pip.conf, where registry tokens live).
var hiddenFolders = []string{"/usr/local/etc"}

// hiddenSystemDirs covers hiddenFolders with empty folders, unless an
// interpreter's own folders lie inside one.
func hiddenSystemDirs(binds []string) []string {
	var a []string
	for _, d := range hiddenFolders {
		fi, err := os.Lstat(d)
		if err != nil || !fi.IsDir() || !underSystemDirs(d) {
			continue
		}
		needed := false
		for _, b := range binds {
			if b == d || strings.HasPrefix(b, d+"/") || strings.HasPrefix(d, b+"/") {
				needed = true
			}
		}
		if !needed {
			a = append(a, emptyDir(d)...)
		}
	}
	return a
}
