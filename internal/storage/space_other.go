//go:build !(linux || darwin)

package storage

import (
	"errors"
	"os"
)

func rootSpace(*os.Root) (free, total uint64, err error) {
	return 0, 0, errors.New("free space is not reported on this platform")
}
