//go:build linux || darwin

package storage

import (
	"os"
	"syscall"
)

// rootSpace runs fstatfs on the root's own directory handle.
func rootSpace(r *os.Root) (free, total uint64, err error) {
	d, err := r.Open(".")
	if err != nil {
		return 0, 0, err
	}
	defer d.Close()
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(int(d.Fd()), &st); err != nil {
		return 0, 0, err
	}
	bs := uint64(st.Bsize) //nolint:gosec // a block size is positive
	return st.Bavail * bs, st.Blocks * bs, nil
}
