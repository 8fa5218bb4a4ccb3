package runner

import (
	"fmt"
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
