package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/itss-go/itss/internal/itss"
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

// TestLocalDeleteStaysDeletedAfterAnInterruptedRemoval leaves a deleted
// section's folder behind, as a crash (or an NFS "busy" file) between the
// rename and the recursive removal would. The next start must finish the
// delete, not mistake the folder for one an interrupted commit moved aside
// and bring the section back (under auto, a restored copy would even shadow
// newer files on S3).
func TestLocalDeleteStaysDeletedAfterAnInterruptedRemoval(t *testing.T) {
	// Not parallel: it replaces the package's removeTree.
	opts := testOptions(t, "")
	l, err := NewLocal(opts)
	must(t, err)
	ctx := context.Background()
	put(t, l, secA, "recording.wav", "deleted audio")
	put(t, l, secB, "description.md", "kept")

	removeTree = func(*os.Root, string) error { return errors.New("simulated crash") }
	err = l.DeleteSection(ctx, secA)
	removeTree = (*os.Root).RemoveAll
	must(t, err)
	_, err = l.Stat(ctx, secA, "recording.wav")
	wantCode(t, err, itss.CodeNotFound)
	l.Close()

	l, err = NewLocal(opts)
	must(t, err)
	defer l.Close()
	_, err = l.Stat(ctx, secA, "recording.wav")
	wantCode(t, err, itss.CodeNotFound)
	if got := read(t, l, secB, "description.md"); got != "kept" {
		t.Fatalf("other section = %q", got)
	}
	entries, err := os.ReadDir(opts.RecordingsPath)
	must(t, err)
	if len(entries) != 1 || entries[0].Name() != secB {
		var left []string
		for _, e := range entries {
			left = append(left, e.Name())
		}
		t.Fatalf("recordings root holds %v, want only %s", left, secB)
	}
}

// TestLocalWritesSyncTheFoldersTheyCreate checks durability, not atomicity:
// a file committed into a folder that the same write created survives a
// power cut only if the folder's own entry was synced in its parent too.
func TestLocalWritesSyncTheFoldersTheyCreate(t *testing.T) {
	// Not parallel: it replaces the package's syncDir.
	l := newTestLocal(t)
	ctx := context.Background()
	var mu sync.Mutex
	synced := map[string]bool{}
	syncDir = func(root *os.Root, dir string) {
		mu.Lock()
		synced[filepath.Base(root.Name())+":"+dir] = true
		mu.Unlock()
		fsyncDir(root, dir)
	}
	defer func() { syncDir = fsyncDir }()

	put(t, l, secA, "description.md", "x")
	must(t, l.PutLayout(ctx, 6, tutID, "learner", []byte("{}")))
	must(t, l.PutLayoutStream(ctx, LayoutKey{7, tutID, "author"}, strings.NewReader("{}")))
	for _, want := range []string{
		"recordings:.", "recordings:" + secA,
		"layouts:.", "layouts:6", "layouts:6/" + tutID, "layouts:6/" + tutID + "/learner",
		"layouts:7", "layouts:7/" + tutID, "layouts:7/" + tutID + "/author",
	} {
		if !synced[want] {
			t.Errorf("folder %s not synced after a write created what it holds", want)
		}
	}
}
