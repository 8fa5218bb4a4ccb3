package runner

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// rlimit is one resource limit applied with prlimit(2).
type rlimit struct {
	resource int
	cur, max uint64
}

// Resources not named by package syscall on every architecture.
const (
	rlimitNPROC = 6 // RLIMIT_NPROC
	rlimitCORE  = 4 // RLIMIT_CORE
)

// setRlimits applies limits to another process with prlimit(2). The runner
// calls it while the target is blocked before exec (bubblewrap's --block-fd,
// or the wrapper shell's read), so the limits are in force before any of the
// program's code runs, and the program cannot raise the hard limits back.
func setRlimits(pid int, limits []rlimit) error {
	for _, l := range limits {
		v := syscall.Rlimit{Cur: l.cur, Max: l.max}
		_, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(l.resource),
			uintptr(unsafe.Pointer(&v)), 0, 0, 0)
		if errno != 0 {
			return fmt.Errorf("prlimit(%d, resource %d): %w", pid, l.resource, errno)
		}
	}
	return nil
}

// setRlimitsAs applies limits to pid, a process of the unprivileged host
// user cred. Without CAP_SYS_RESOURCE (root in a container usually lacks
// it) prlimit(2) limits only processes with the caller's real user and
// group, so the call is made from a thread that takes cred's ids for the
// moment. Credentials belong to threads in the kernel, and the raw system
// calls (unlike syscall.Setresuid) change only the calling one; the Go
// runtime never clones a new thread from a locked one. A thread that could
// not take its ids back is never reused: its goroutine ends still locked to
// it, and the runtime then ends the thread.
func setRlimitsAs(pid int, limits []rlimit, cred *syscall.Credential) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		uid, gid := syscall.Getuid(), syscall.Getgid()
		restore := func() error {
			if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
				return e
			}
			if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); e != 0 {
				return e
			}
			return nil
		}
		keep := ^uintptr(0) // -1: leave the saved id as it is, so the thread can return to it
		var err error
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESGID, uintptr(cred.Gid), uintptr(cred.Gid), keep); e != 0 {
			err = fmt.Errorf("take sandbox group: %w", e)
		} else if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESUID, uintptr(cred.Uid), uintptr(cred.Uid), keep); e != 0 {
			err = fmt.Errorf("take sandbox user: %w", e)
		} else {
			err = setRlimits(pid, limits)
		}
		if rerr := restore(); rerr != nil {
			done <- errors.Join(err, fmt.Errorf("thread cannot take back the server's ids: %w", rerr))
			return // still locked: the thread ends with this goroutine
		}
		runtime.UnlockOSThread()
		done <- err
	}()
	return <-done
}

// closeInheritedOnExec marks every descriptor from 3 up close-on-exec.
// Descriptors Go opens are close-on-exec already, and os/exec passes a child
// only those it is given; but one the server inherited without the flag (from
// a shell, a supervisor, a start script's "exec 3>file") or made with
// syscall.Dup stays open across exec, and bubblewrap does not close strays:
// it would reach every sandbox. Setting the flag changes nothing for the
// server itself. close_range(2) does it in one call (Linux 5.11); older
// kernels get fcntl per descriptor.
func closeInheritedOnExec() {
	const sysCloseRange, closeRangeCloexec = 436, 1 << 2
	if _, _, e := syscall.RawSyscall(sysCloseRange, 3, uintptr(^uint32(0)), closeRangeCloexec); e == 0 {
		return
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_SETFD, syscall.FD_CLOEXEC)
		}
	}
}

// Syscall numbers of pidfd_open and pidfd_send_signal; they are the same on
// every architecture (added after the syscall tables were unified).
const (
	sysPidfdOpen       = 434
	sysPidfdSendSignal = 424
)

// pidfdOpen returns a file descriptor that refers to process pid for as long
// as it is held, so that a later kill cannot hit a recycled pid.
func pidfdOpen(pid int) (int, error) {
	fd, _, errno := syscall.RawSyscall(sysPidfdOpen, uintptr(pid), 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

func pidfdKill(fd int) error {
	_, _, errno := syscall.RawSyscall6(sysPidfdSendSignal, uintptr(fd), uintptr(syscall.SIGKILL), 0, 0, 0, 0)
	if errno != 0 && errno != syscall.ESRCH {
		return errno
	}
	return nil
}

// pidfdWait waits until the process behind a pidfd has exited (the pidfd
// becomes readable), or timeout passes. For a PID namespace's init, exit
// completes only after the kernel has killed and reaped every other process
// in the namespace, so a true return means the namespace is empty.
func pidfdWait(fd int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left < 0 {
			left = 0
		}
		ts := syscall.NsecToTimespec(int64(left))
		pfd := struct {
			fd             int32
			events, revent int16
		}{fd: int32(fd), events: 0x1} // POLLIN
		n, _, errno := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		switch {
		case errno == syscall.EINTR && left > 0:
			continue
		case errno != 0:
			return false
		}
		return n == 1
	}
}
