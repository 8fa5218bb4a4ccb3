package runner

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// cgroups puts each job in its own cgroup with a memory and a process-count
// limit. It works on cgroup v2 and on v1 hierarchies (memory and pids
// mounted separately, as on this project's CI machines). The runner's
// cgroups are created below the server's own cgroup, so the host's limits on
// the server still cover every program it starts.
type cgroups struct {
	v2         bool
	memBase    string // instance folder in the memory hierarchy (v2: the only one)
	pidsBase   string // instance folder in the pids hierarchy (v2: same as memBase)
	memswLimit bool   // v1 memory.memsw.limit_in_bytes exists (swap accounting)
	seq        atomic.Uint64
}

// jobCgroup is the cgroup of one run.
type jobCgroup struct {
	cg        *cgroups
	mem, pids string
}

// cgroupMount is one cgroup mount from /proc/self/mountinfo.
type cgroupMount struct {
	root, point string
	v2          bool
	controllers []string
}

func newCgroups() (*cgroups, error) {
	mounts, err := readCgroupMounts()
	if err != nil {
		return nil, err
	}
	own, err := readOwnCgroups()
	if err != nil {
		return nil, err
	}
	find := func(controller string) string {
		for _, m := range mounts {
			if m.v2 {
				continue
			}
			for _, c := range m.controllers {
				if c == controller {
					if p, ok := own[controller]; ok {
						return joinCgroup(m, p)
					}
				}
			}
		}
		return ""
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	name := fmt.Sprintf("itss-runner-%d-%s", os.Getpid(), hex.EncodeToString(suffix))
	mem, pids := find("memory"), find("pids")
	if mem != "" && pids != "" {
		c := &cgroups{memBase: filepath.Join(mem, name), pidsBase: filepath.Join(pids, name)}
		removeStaleCgroups(mem)
		removeStaleCgroups(pids)
		if err := os.Mkdir(c.memBase, 0o700); err != nil {
			return nil, fmt.Errorf("cgroup v1 memory: %w", err)
		}
		if err := os.Mkdir(c.pidsBase, 0o700); err != nil {
			os.Remove(c.memBase)
			return nil, fmt.Errorf("cgroup v1 pids: %w", err)
		}
		c.memswLimit = fileExists(filepath.Join(c.memBase, "memory.memsw.limit_in_bytes"))
		return c, nil
	}
	for _, m := range mounts {
		if !m.v2 {
			continue
		}
		p, ok := own[""]
		if !ok {
			break
		}
		parent := joinCgroup(m, p)
		ctrl, err := os.ReadFile(filepath.Join(parent, "cgroup.controllers"))
		if err != nil {
			return nil, fmt.Errorf("cgroup v2: %w", err)
		}
		if !hasWords(string(ctrl), "memory", "pids") {
			return nil, fmt.Errorf("cgroup v2: memory and pids controllers not delegated (have %q)", strings.TrimSpace(string(ctrl)))
		}
		// Children get the controllers only if the parent enables them for
		// its subtree, which v2 refuses while the parent holds processes
		// (the "no internal processes" rule) unless it is the root.
		if err := writeFile(filepath.Join(parent, "cgroup.subtree_control"), "+memory +pids"); err != nil {
			return nil, fmt.Errorf("cgroup v2: enable controllers in %s: %w", parent, err)
		}
		removeStaleCgroups(parent)
		base := filepath.Join(parent, name)
		if err := os.Mkdir(base, 0o700); err != nil {
			return nil, fmt.Errorf("cgroup v2: %w", err)
		}
		if err := writeFile(filepath.Join(base, "cgroup.subtree_control"), "+memory +pids"); err != nil {
			os.Remove(base)
			return nil, fmt.Errorf("cgroup v2: enable controllers: %w", err)
		}
		return &cgroups{v2: true, memBase: base, pidsBase: base}, nil
	}
	return nil, errors.New("no writable memory and pids cgroup controllers")
}

func joinCgroup(m cgroupMount, path string) string {
	rel := path
	if m.root != "/" {
		rel = strings.TrimPrefix(path, m.root)
	}
	return filepath.Join(m.point, rel)
}

func hasWords(s string, words ...string) bool {
	f := strings.Fields(s)
	for _, w := range words {
		found := false
		for _, x := range f {
			if x == w {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func readCgroupMounts() ([]cgroupMount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []cgroupMount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, x := range fields {
			if x == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+3 > len(fields) || len(fields) < 5 {
			continue
		}
		switch fields[sep+1] {
		case "cgroup2":
			out = append(out, cgroupMount{root: fields[3], point: unescapeMount(fields[4]), v2: true})
		case "cgroup":
			out = append(out, cgroupMount{root: fields[3], point: unescapeMount(fields[4]),
				controllers: strings.Split(fields[sep+3], ",")})
		}
	}
	return out, sc.Err()
}

// unescapeMount undoes the octal escapes of mountinfo (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// readOwnCgroups maps each v1 controller (and "" for v2) to the server's
// cgroup path.
func readOwnCgroups() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

// removeStaleCgroups removes the empty cgroups of runners that died without
// closing (rmdir fails harmlessly on a cgroup that still has processes).
func removeStaleCgroups(parent string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, "itss-runner-*"))
	for _, d := range dirs {
		parts := strings.Split(filepath.Base(d), "-")
		if len(parts) >= 3 {
			if pid, err := strconv.Atoi(parts[2]); err == nil && (pid == os.Getpid() || syscall.Kill(pid, 0) == nil) {
				continue // owner alive (possibly another runner of this process)
			}
		}
		jobs, _ := filepath.Glob(filepath.Join(d, "job-*"))
		for _, j := range jobs {
			syscall.Rmdir(j)
		}
		syscall.Rmdir(d)
	}
}

func writeFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// create makes the cgroup of one job with its limits.
func (c *cgroups) create(memory int64, pids int) (*jobCgroup, error) {
	name := fmt.Sprintf("job-%d", c.seq.Add(1))
	j := &jobCgroup{cg: c, mem: filepath.Join(c.memBase, name), pids: filepath.Join(c.pidsBase, name)}
	if err := os.Mkdir(j.mem, 0o700); err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	if !c.v2 {
		if err := os.Mkdir(j.pids, 0o700); err != nil {
			os.Remove(j.mem)
			return nil, fmt.Errorf("cgroup: %w", err)
		}
	}
	if err := j.limit(memory, pids); err != nil {
		j.remove()
		return nil, err
	}
	return j, nil
}

func (j *jobCgroup) limit(memory int64, pids int) error {
	mem := strconv.FormatInt(memory, 10)
	if j.cg.v2 {
		if err := writeFile(filepath.Join(j.mem, "memory.max"), mem); err != nil {
			return fmt.Errorf("cgroup memory.max: %w", err)
		}
		// Swap would let a program exceed its memory limit on disk.
		if fileExists(filepath.Join(j.mem, "memory.swap.max")) {
			if err := writeFile(filepath.Join(j.mem, "memory.swap.max"), "0"); err != nil {
				return fmt.Errorf("cgroup memory.swap.max: %w", err)
			}
		}
	} else {
		if err := writeFile(filepath.Join(j.mem, "memory.limit_in_bytes"), mem); err != nil {
			return fmt.Errorf("cgroup memory.limit_in_bytes: %w", err)
		}
		if j.cg.memswLimit {
			if err := writeFile(filepath.Join(j.mem, "memory.memsw.limit_in_bytes"), mem); err != nil {
				return fmt.Errorf("cgroup memory.memsw.limit_in_bytes: %w", err)
			}
		}
	}
	if err := writeFile(filepath.Join(j.pids, "pids.max"), strconv.Itoa(pids)); err != nil {
		return fmt.Errorf("cgroup pids.max: %w", err)
	}
	return nil
}

// startIn calls start, which forks the job's first process, so that the
// process is born inside the job's cgroups and never has to be moved.
//
// Moving a process into a v1 cgroup takes the kernel's global threadgroup
// lock and waits for an RCU grace period, about 10 ms on small machines:
// more than the sandbox itself costs. A thread moving only itself ("0"
// written to tasks) skips that lock. So the forking goroutine is pinned to
// its OS thread, the thread moves itself into the job's cgroups, forks (the
// child inherits the thread's cgroups), and moves itself back. The Go
// runtime charges no memory to the thread's cgroup (v1 charges the process's
// memory to its owner thread's cgroup), and the thread runs nothing else
// while pinned.
//
// It reports whether the child was born inside; if not, the caller moves it
// with add. On v2, add is used (CLONE_INTO_CGROUP would do the same there).
func (j *jobCgroup) startIn(start func() error) (inside bool, err error) {
	if j.cg.v2 {
		return false, start()
	}
	runtime.LockOSThread()
	if err := j.moveThread(j.mem, j.pids); err != nil {
		if j.moveThread(filepath.Dir(j.cg.memBase), filepath.Dir(j.cg.pidsBase)) != nil {
			// Stuck half-way: let the thread end with this goroutine
			// rather than run other goroutines from a job's cgroup.
			return false, fmt.Errorf("cgroup: thread cannot leave the job: %w", err)
		}
		runtime.UnlockOSThread()
		return false, start()
	}
	err = start()
	if back := j.moveThread(filepath.Dir(j.cg.memBase), filepath.Dir(j.cg.pidsBase)); back != nil {
		return true, errors.Join(err, fmt.Errorf("cgroup: thread cannot leave the job: %w", back))
	}
	runtime.UnlockOSThread()
	return true, err
}

// moveThread moves the calling OS thread into the given v1 cgroups.
func (j *jobCgroup) moveThread(mem, pids string) error {
	if err := writeFile(filepath.Join(mem, "tasks"), "0"); err != nil {
		return err
	}
	return writeFile(filepath.Join(pids, "tasks"), "0")
}

// add moves process pid (and, as it has not forked yet, everything it will
// start) into the job's cgroup.
func (j *jobCgroup) add(pid int) error {
	p := strconv.Itoa(pid)
	if err := writeFile(filepath.Join(j.mem, "cgroup.procs"), p); err != nil {
		return fmt.Errorf("cgroup add to memory: %w", err)
	}
	if !j.cg.v2 {
		if err := writeFile(filepath.Join(j.pids, "cgroup.procs"), p); err != nil {
			return fmt.Errorf("cgroup add to pids: %w", err)
		}
	}
	return nil
}

// hits reports which of the cgroup's limits the job ran into.
func (j *jobCgroup) hits() (memory, pids bool) {
	if j.cg.v2 {
		memory = eventCount(filepath.Join(j.mem, "memory.events"), "oom_kill") > 0
	} else {
		memory = eventCount(filepath.Join(j.mem, "memory.oom_control"), "oom_kill") > 0
	}
	pids = eventCount(filepath.Join(j.pids, "pids.events"), "max") > 0
	return memory, pids
}

func eventCount(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == key {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// procs lists the processes still in the job's cgroup.
func (j *jobCgroup) procs() []int {
	var out []int
	for _, dir := range []string{j.mem, j.pids} {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				out = append(out, pid)
			}
		}
	}
	return out
}

// killAll kills every process left in the job's cgroup: the last line of
// defence for anything that escaped the process group and the PID
// namespace. A process forking while we kill is caught by the next pass;
// the pids limit bounds how many there can be.
func (j *jobCgroup) killAll() {
	if j.cg.v2 && writeFile(filepath.Join(j.mem, "cgroup.kill"), "1") == nil {
		return
	}
	for range 100 {
		pids := j.procs()
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(time.Millisecond)
	}
}

// remove deletes the job's cgroup, waiting for killed processes to be
// reaped (rmdir fails with EBUSY until the cgroup is empty). The wait is
// long enough for a loaded machine, where an exiting process may take a
// while to leave; it only runs when the first rmdir fails.
func (j *jobCgroup) remove() error {
	var err error
	for i := range 1000 {
		err = nil
		for _, dir := range []string{j.mem, j.pids} {
			if e := syscall.Rmdir(dir); e != nil && e != syscall.ENOENT {
				err = fmt.Errorf("cgroup rmdir %s: %w", dir, e)
			}
		}
		if err == nil {
			return nil
		}
		if i%20 == 19 {
			j.killAll()
		}
		time.Sleep(5 * time.Millisecond)
	}
	return err
}

func (c *cgroups) close() error {
	var errs []error
	for _, d := range []string{c.memBase, c.pidsBase} {
		if e := syscall.Rmdir(d); e != nil && e != syscall.ENOENT {
			errs = append(errs, fmt.Errorf("cgroup rmdir %s: %w", d, e))
		}
	}
	return errors.Join(errs...)
}
