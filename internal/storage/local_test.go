package storage

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLocalRepairsAnInterruptedCommit simulates a crash between the two
// renames of a commit (the live folder moved aside, the staged one not yet
// in place) and a crash during an upload (a stale staging folder): the next
// start restores the previous recording and clears the leftovers.
func TestLocalRepairsAnInterruptedCommit(t *testing.T) {
	t.Parallel()
	opts := testOptions(t, "")
	rec := opts.RecordingsPath
	aside := filepath.Join(rec, trashPrefix+secA+"-0123456789abcdef")
	must(t, os.MkdirAll(aside, 0o755))
	must(t, os.WriteFile(filepath.Join(aside, "recording.wav"), []byte("previous"), 0o644))
	// A replaced section whose trash was not yet removed: trash goes.
	must(t, os.MkdirAll(filepath.Join(rec, secB), 0o755))
	must(t, os.WriteFile(filepath.Join(rec, secB, "description.md"), []byte("current"), 0o644))
	oldB := filepath.Join(rec, trashPrefix+secB+"-0123456789abcdef")
	must(t, os.MkdirAll(oldB, 0o755))
	// Staging folders: an old one from a crashed upload, a fresh one that
	// another process may still be writing.
	stale := filepath.Join(rec, stagingPrefix+secC+"-0123456789abcdef")
	fresh := filepath.Join(rec, stagingPrefix+secC+"-fedcba9876543210")
	must(t, os.MkdirAll(stale, 0o755))
	must(t, os.MkdirAll(fresh, 0o755))
	old := time.Now().Add(-48 * time.Hour)
	must(t, os.Chtimes(stale, old, old))

	l, err := NewLocal(opts)
	must(t, err)
	defer l.Close()
	ctx := context.Background()
	if got := read(t, l, secA, "recording.wav"); got != "previous" {
		t.Fatalf("restored recording = %q", got)
	}
	if got := read(t, l, secB, "description.md"); got != "current" {
		t.Fatalf("current section = %q", got)
	}
	for _, p := range []string{aside, oldB, stale} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind", filepath.Base(p))
		}
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh staging folder removed: %v", err)
	}
	must(t, l.Health(ctx))
}

// TestLocalWritesLeaveNoTempFiles checks that successful and failed writes
// leave only the named files behind.
func TestLocalWritesLeaveNoTempFiles(t *testing.T) {
	t.Parallel()
	l := newTestLocal(t)
	ctx := context.Background()
	put(t, l, secA, "description.md", "x")
	l.PutFile(ctx, secA, "recording.wav", &failingReader{n: 10, err: errClientGone})
	stageSet(t, l, secB, map[string]string{"keystroke.json": "[]"})
	st, err := l.Stage(ctx, secC)
	must(t, err)
	must(t, st.Put(ctx, "keystroke.json", &patternReader{n: 10}))
	must(t, st.Abort(ctx))
	var got []string
	filepath.WalkDir(l.rec.Name(), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(l.rec.Name(), p)
			got = append(got, rel)
		}
		return nil
	})
	want := []string{filepath.Join(secB, "keystroke.json"), filepath.Join(secA, "description.md")}
	if len(got) != 2 || !(got[0] == want[0] && got[1] == want[1] || got[0] == want[1] && got[1] == want[0]) {
		t.Fatalf("files on disk = %v, want %v", got, want)
	}
}
