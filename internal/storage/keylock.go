package storage

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
)

// keyLocks serialises writers of one key (a section or a layout) inside this
// process while leaving other keys free, so two uploads to different sections
// run in parallel but a commit and a delete of the same section do not
// interleave. Entries are dropped when unused, so the map stays small.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

func (k *keyLocks) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[string]*keyLock)
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()

	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

// token returns a random name part for temp files, staging folders and
// prefixes; collisions are retried by callers that create with O_EXCL.
func token() string {
	var b [8]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
