package runner

import (
	"encoding/binary"
	"runtime"
)

// seccompFilter returns a seccomp BPF program (struct sock_filter[]) for
// bubblewrap's --seccomp: it refuses, with EPERM, the system calls that no
// interpreter needs and that have been the kernel's most exploited
// interfaces (io_uring, BPF, userfaultfd, perf events, keyrings, ptrace,
// mounting, namespaces, modules, kexec), and refuses every call made
// through another ABI (32-bit and x32 calls on a 64-bit kernel), which a
// filter keyed by syscall number would otherwise let through. Everything
// else is allowed: namespaces, dropped capabilities and limits do the
// rest. It returns nil where no table exists for the architecture.
func seccompFilter() []byte {
	t, ok := seccompTables[runtime.GOARCH]
	if !ok {
		return nil
	}
	const (
		ldAbsW = 0x20 // BPF_LD | BPF_W | BPF_ABS
		jeqK   = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
		jgeK   = 0x35 // BPF_JMP | BPF_JGE | BPF_K
		retK   = 0x06 // BPF_RET | BPF_K

		retAllow = 0x7fff0000
		retErrno = 0x00050000
		eperm    = 1
		enosys   = 38

		offNr   = 0 // offsetof(struct seccomp_data, nr)
		offArch = 4 // offsetof(struct seccomp_data, arch)
	)
	type insn struct {
		code   uint16
		jt, jf uint8
		k      uint32
	}
	n := len(t.denied)
	prog := []insn{
		{ldAbsW, 0, 0, offArch},
		{jeqK, 1, 0, t.arch},
		{retK, 0, 0, retErrno | enosys},
		{ldAbsW, 0, 0, offNr},
	}
	if t.x32Bit != 0 {
		// x32 calls carry the native arch with this bit set in nr.
		prog = append(prog, insn{jgeK, 0, 1, t.x32Bit}, insn{retK, 0, 0, retErrno | enosys})
	}
	for i, nr := range t.denied {
		// On a match, jump over the remaining tests and the allow.
		prog = append(prog, insn{jeqK, uint8(n - i), 0, nr})
	}
	prog = append(prog, insn{retK, 0, 0, retAllow}, insn{retK, 0, 0, retErrno | eperm})
	out := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		out = binary.NativeEndian.AppendUint16(out, in.code)
		out = append(out, in.jt, in.jf)
		out = binary.NativeEndian.AppendUint32(out, in.k)
	}
	return out
}

type seccompTable struct {
	arch   uint32 // AUDIT_ARCH_* of native calls
	x32Bit uint32 // __X32_SYSCALL_BIT, 0 where there is no such ABI
	denied []uint32
}

// Numbers from the kernel's syscall tables. Those from 424 up are the same
// on every architecture.
var unifiedDenied = []uint32{
	425, // io_uring_setup
	426, // io_uring_enter
	427, // io_uring_register
	428, // open_tree
	429, // move_mount
	430, // fsopen
	431, // fsconfig
	432, // fsmount
	433, // fspick
	438, // pidfd_getfd
	442, // mount_setattr
}

var seccompTables = map[string]seccompTable{
	"amd64": {arch: 0xc000003e, x32Bit: 0x40000000, denied: append([]uint32{
		101, // ptrace
		103, // syslog
		134, // uselib
		153, // vhangup
		155, // pivot_root
		156, // _sysctl
		159, // adjtimex
		161, // chroot
		163, // acct
		164, // settimeofday
		165, // mount
		166, // umount2
		167, // swapon
		168, // swapoff
		169, // reboot
		170, // sethostname
		171, // setdomainname
		172, // iopl
		173, // ioperm
		175, // init_module
		176, // delete_module
		179, // quotactl
		180, // nfsservctl
		212, // lookup_dcookie
		227, // clock_settime
		246, // kexec_load
		248, // add_key
		249, // request_key
		250, // keyctl
		272, // unshare
		298, // perf_event_open
		300, // fanotify_init
		303, // name_to_handle_at
		304, // open_by_handle_at
		305, // clock_adjtime
		308, // setns
		310, // process_vm_readv
		311, // process_vm_writev
		313, // finit_module
		320, // kexec_file_load
		321, // bpf
		323, // userfaultfd
	}, unifiedDenied...)},
	"arm64": {arch: 0xc00000b7, denied: append([]uint32{
		18,  // lookup_dcookie
		39,  // umount2
		40,  // mount
		41,  // pivot_root
		42,  // nfsservctl
		51,  // chroot
		58,  // vhangup
		60,  // quotactl
		89,  // acct
		97,  // unshare
		104, // kexec_load
		105, // init_module
		106, // delete_module
		112, // clock_settime
		116, // syslog
		117, // ptrace
		142, // reboot
		161, // sethostname
		162, // setdomainname
		170, // settimeofday
		171, // adjtimex
		217, // add_key
		218, // request_key
		219, // keyctl
		224, // swapon
		225, // swapoff
		241, // perf_event_open
		262, // fanotify_init
		264, // name_to_handle_at
		265, // open_by_handle_at
		266, // clock_adjtime
		268, // setns
		270, // process_vm_readv
		271, // process_vm_writev
		273, // finit_module
		280, // bpf
		282, // userfaultfd
		294, // kexec_file_load
	}, unifiedDenied...)},
}
