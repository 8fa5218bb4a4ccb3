package runner

import (
	"encoding/binary"
	"runtime"
	"testing"
)

// runSeccomp interprets the filter's BPF (the few instructions it uses)
// for one system call, returning the action.
func runSeccomp(t *testing.T, prog []byte, arch, nr uint32) uint32 {
	t.Helper()
	var acc uint32
	for pc := 0; pc*8 < len(prog); pc++ {
		in := prog[pc*8:]
		code, jt, jf, k := binary.NativeEndian.Uint16(in), in[2], in[3], binary.NativeEndian.Uint32(in[4:])
		switch code {
		case 0x20: // ld [k]
			switch k {
			case 0:
				acc = nr
			case 4:
				acc = arch
			default:
				t.Fatalf("load of offset %d", k)
			}
		case 0x15: // jeq
			if acc == k {
				pc += int(jt)
			} else {
				pc += int(jf)
			}
		case 0x35: // jge
			if acc >= k {
				pc += int(jt)
			} else {
				pc += int(jf)
			}
		case 0x06: // ret
			return k
		default:
			t.Fatalf("unexpected instruction %#x", code)
		}
	}
	t.Fatal("filter ran off its end")
	return 0
}

func TestSeccompFilterRefusesRiskyCallsAndForeignABIs(t *testing.T) {
	t.Parallel()
	prog := seccompFilter()
	table, ok := seccompTables[runtime.GOARCH]
	if !ok {
		if prog != nil {
			t.Fatal("a filter without a table")
		}
		t.Skipf("no seccomp table for %s", runtime.GOARCH)
	}
	if len(prog)%8 != 0 || len(prog)/8 > 255 {
		t.Fatalf("program of %d bytes", len(prog))
	}
	const allow, eperm, enosys = 0x7fff0000, 0x00050001, 0x00050026
	for name, nr := range riskySyscalls[runtime.GOARCH] {
		if got := runSeccomp(t, prog, table.arch, uint32(nr)); got != eperm {
			t.Errorf("%s (%d): action %#x, want EPERM", name, nr, got)
		}
	}
	for _, nr := range table.denied {
		if got := runSeccomp(t, prog, table.arch, nr); got != eperm {
			t.Errorf("denied %d: action %#x, want EPERM", nr, got)
		}
	}
	// read, write, openat, clone, execve, exit_group... must pass.
	allowed := map[string][]uint32{"amd64": {0, 1, 257, 56, 59, 231, 435}, "arm64": {63, 64, 56, 220, 221, 94, 435}}
	for _, nr := range allowed[runtime.GOARCH] {
		if got := runSeccomp(t, prog, table.arch, nr); got != allow {
			t.Errorf("call %d: action %#x, want allow", nr, got)
		}
	}
	// 32-bit calls on a 64-bit kernel have their own numbers: all refused.
	if got := runSeccomp(t, prog, 0x40000003, 0); got != enosys {
		t.Errorf("i386 call: action %#x, want ENOSYS", got)
	}
	if table.x32Bit != 0 {
		// x32 read(2): the native arch with the x32 bit set in the number.
		if got := runSeccomp(t, prog, table.arch, table.x32Bit); got != enosys {
			t.Errorf("x32 call: action %#x, want ENOSYS", got)
		}
	}
}
