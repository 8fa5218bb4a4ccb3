package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/itss-go/itss/internal/itss"
)

// TestAutoKeepsWorkingWhileS3IsDown stops the S3 server mid-test: writes
// land on local disk, reads of them work, health says degraded, and once S3
// is back Sync pushes everything so that S3 alone holds the latest state.
func TestAutoKeepsWorkingWhileS3IsDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := startFakeS3(t)
	a := newTestAuto(t, f)

	// Before the outage: everything goes to S3, nothing stays on disk.
	stageSet(t, a, secA, map[string]string{"description.md": "v1", "recording.wav": "audio v1", "transcript.json": "t1"})
	stageSet(t, a, secC, map[string]string{"description.md": "to be deleted"})
	put(t, a, secDashed, "description.md", "untouched")
	must(t, a.PutLayout(ctx, 6, tutID, "learner", []byte(`{"v":1}`)))
	if n, m, _ := a.pending(); n+m != 0 {
		t.Fatalf("local copies while S3 is up: %d sections, %d layouts", n, m)
	}
	must(t, a.Health(ctx))

	f.Stop()

	// Re-record section A without audio: the new set replaces the old one.
	stageSet(t, a, secA, map[string]string{"description.md": "v2", "keystroke.json": "[2]"})
	put(t, a, secB, "question.json", `{"quizTitle":"q"}`)
	must(t, a.PutLayout(ctx, 6, tutID, "learner", []byte(`{"v":2}`)))
	must(t, a.DeleteSection(ctx, secC))

	if got := read(t, a, secA, "description.md"); got != "v2" {
		t.Fatalf("description during outage = %q", got)
	}
	_, err := a.ReadFile(ctx, secA, "recording.wav")
	wantCode(t, err, itss.CodeNotFound) // dropped by the new set, although S3 still has it
	files, err := a.List(ctx, secA)
	must(t, err)
	if want := []string{"description.md", "keystroke.json"}; !slices.Equal(names(files), want) {
		t.Fatalf("List during outage = %v, want %v", names(files), want)
	}
	if got := read(t, a, secB, "question.json"); got != `{"quizTitle":"q"}` {
		t.Fatalf("question during outage = %q", got)
	}
	lay, err := a.GetLayout(ctx, 6, tutID, "learner")
	must(t, err)
	if string(lay) != `{"v":2}` {
		t.Fatalf("layout during outage = %s", lay)
	}
	_, err = a.Stat(ctx, secC, "description.md")
	wantCode(t, err, itss.CodeNotFound)
	// Files only on S3 cannot be read while it is down: that is Unavailable,
	// not a silent NotFound.
	_, err = a.ReadFile(ctx, secDashed, "description.md")
	wantCode(t, err, itss.CodeUnavailable)
	// Locally held files are served locally.
	if u, err := a.PresignURL(ctx, secA, "description.md", 0); err != nil || u != "" {
		t.Fatalf("PresignURL of a local copy = %q, %v", u, err)
	}

	err = a.Health(ctx)
	if !errors.Is(err, ErrDegraded) {
		t.Fatalf("Health during outage = %v, want ErrDegraded", err)
	}
	if st := a.Info(ctx)["status"]; st != "degraded" {
		t.Fatalf("Info status = %v", st)
	}
	if _, err := a.Sync(ctx); err == nil {
		t.Fatal("Sync succeeded with S3 down")
	}

	f.Start()

	if err := a.Health(ctx); !errors.Is(err, ErrDegraded) {
		t.Fatalf("Health with local copies pending = %v, want ErrDegraded", err)
	}
	n, err := a.Sync(ctx)
	must(t, err)
	if n != 4 { // sections A, B, C (tombstone) and one layout
		t.Fatalf("Sync pushed %d, want 4", n)
	}
	must(t, a.Health(ctx))
	if st := a.Info(ctx)["status"]; st != "healthy" {
		t.Fatalf("Info status after sync = %v", st)
	}

	// Nothing lost: S3 alone now holds the latest state.
	s := a.s3
	files, err = s.List(ctx, secA)
	must(t, err)
	if want := []string{"description.md", "keystroke.json"}; !slices.Equal(names(files), want) {
		t.Fatalf("S3 section A = %v, want %v", names(files), want)
	}
	if got := read(t, s, secA, "description.md"); got != "v2" {
		t.Fatalf("S3 description = %q", got)
	}
	if got := read(t, s, secB, "question.json"); got != `{"quizTitle":"q"}` {
		t.Fatalf("S3 question = %q", got)
	}
	if files, _ := s.List(ctx, secC); len(files) != 0 {
		t.Fatalf("deleted section still on S3: %v", names(files))
	}
	lay, err = s.GetLayout(ctx, 6, tutID, "learner")
	must(t, err)
	if string(lay) != `{"v":2}` {
		t.Fatalf("S3 layout = %s", lay)
	}
	if got := read(t, s, secDashed, "description.md"); got != "untouched" {
		t.Fatalf("untouched section = %q", got)
	}
	if secs, _ := a.local.sections(); len(secs) != 0 {
		t.Fatalf("local copies left after sync: %v", secs)
	}
}

// stopAfter stops the fake S3 once n bytes have been read from the body,
// i.e. in the middle of a multipart upload.
type stopAfter struct {
	r    io.Reader
	n    int64
	once sync.Once
	stop func()
}

func (s *stopAfter) Read(p []byte) (int, error) {
	k, err := s.r.Read(p)
	if s.n -= int64(k); s.n <= 0 {
		s.once.Do(s.stop)
	}
	return k, err
}

// TestAutoFallsBackWhenS3StopsMidUpload stops S3 while a large body is being
// streamed to it; the rest of the body goes to disk and nothing is lost.
func TestAutoFallsBackWhenS3StopsMidUpload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const size = 1 << 20
	want := sha256.New()
	io.Copy(want, &patternReader{n: size})

	check := func(t *testing.T, a *Auto, sec string) {
		t.Helper()
		rc, _, err := a.Open(ctx, sec, "recording.wav")
		must(t, err)
		got := sha256.New()
		n, _ := io.Copy(got, rc)
		rc.Close()
		if n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
			t.Fatalf("read back %d bytes, content match %v", n, bytes.Equal(got.Sum(nil), want.Sum(nil)))
		}
		if !errors.Is(a.Health(ctx), ErrDegraded) {
			t.Fatal("Health not degraded after a fallback")
		}
	}

	t.Run("PutFile", func(t *testing.T) {
		t.Parallel()
		f := startFakeS3(t)
		a := newTestAuto(t, f)
		put(t, a, secA, "description.md", "on S3")
		must(t, a.PutFile(ctx, secA, "recording.wav", &stopAfter{r: &patternReader{n: size}, n: 3 * testPartSize, stop: f.Stop}))
		check(t, a, secA)
		f.Start()
		// The section's other file is still read from S3 (per-file override).
		if got := read(t, a, secA, "description.md"); got != "on S3" {
			t.Fatalf("description = %q", got)
		}
		// The next write of the section pushes the local copy first.
		put(t, a, secA, "code_content.txt", "print(1)")
		must(t, a.Health(ctx))
		if got, err := a.s3.Stat(ctx, secA, "recording.wav"); err != nil || got.Size != size {
			t.Fatalf("S3 recording after heal = %+v, %v", got, err)
		}
	})

	t.Run("Stage", func(t *testing.T) {
		t.Parallel()
		f := startFakeS3(t)
		a := newTestAuto(t, f)
		stageSet(t, a, secB, map[string]string{"recording.wav": "old", "transcript.json": "old"})
		st, err := a.Stage(ctx, secB)
		must(t, err)
		must(t, st.Put(ctx, "description.md", strings.NewReader("new")))
		must(t, st.Put(ctx, "recording.wav", &stopAfter{r: &patternReader{n: size}, n: 2 * testPartSize, stop: f.Stop}))
		must(t, st.Put(ctx, "keystroke.json", strings.NewReader("[]")))
		must(t, st.Commit(ctx))
		check(t, a, secB)
		files, err := a.List(ctx, secB)
		must(t, err)
		if want := []string{"description.md", "keystroke.json", "recording.wav"}; !slices.Equal(names(files), want) {
			t.Fatalf("List = %v, want %v", names(files), want)
		}
	})
}

// TestAutoWriteReachingNeitherIsAnError breaks the local fallback while S3
// is down: writes must fail, never report success.
func TestAutoWriteReachingNeitherIsAnError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := startFakeS3(t)
	a := newTestAuto(t, f)
	f.Stop()
	// Files where the fallback needs folders (permission bits would not stop
	// a test running as root).
	rec, lay := a.local.rec.Name(), a.local.lay.Name()
	must(t, os.WriteFile(filepath.Join(rec, spoolDir), []byte("not a folder"), 0o644))
	must(t, os.WriteFile(filepath.Join(lay, "6"), []byte("not a folder"), 0o644))

	if err := a.PutFile(ctx, secA, "description.md", strings.NewReader("x")); err == nil {
		t.Fatal("PutFile reached neither store but returned nil")
	}
	if err := a.PutLayout(ctx, 6, tutID, "learner", []byte("{}")); err == nil {
		t.Fatal("PutLayout reached neither store but returned nil")
	}
	st, err := a.Stage(ctx, secA)
	must(t, err)
	must(t, st.Put(ctx, "description.md", strings.NewReader("x")))
	staging, err := filepath.Glob(filepath.Join(rec, stagingPrefix+"*"))
	must(t, err)
	for _, d := range staging {
		must(t, os.RemoveAll(d))
	}
	if err := st.Commit(ctx); err == nil {
		t.Fatal("Commit reached neither store but returned nil")
	}
	if _, err := a.Stat(ctx, secA, "description.md"); err == nil {
		t.Fatal("a failed commit left a file behind")
	}
}

// TestAutoIgnoresNonCanonicalLayoutFolders plants layout files under folder
// names no request can reach ("007" and "+7" for user 7). They cannot be
// synced, so counting them as pending would report degraded health forever.
func TestAutoIgnoresNonCanonicalLayoutFolders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := newTestAuto(t, startFakeS3(t))
	lay := a.local.lay.Name()
	for _, uid := range []string{"007", "+7"} {
		dir := filepath.Join(lay, uid, tutID, "learner")
		must(t, os.MkdirAll(dir, 0o755))
		must(t, os.WriteFile(filepath.Join(dir, layoutFile), []byte(`{"stray":1}`), 0o644))
	}
	if n, m, err := a.pending(); err != nil || n+m != 0 {
		t.Fatalf("pending = %d sections, %d layouts, %v; want none", n, m, err)
	}
	must(t, a.Health(ctx))
	if n, err := a.Sync(ctx); err != nil || n != 0 {
		t.Fatalf("Sync = %d, %v; want 0, nil", n, err)
	}
	must(t, a.Health(ctx))
	if _, err := a.s3.GetLayout(ctx, 7, tutID, "learner"); !itss.IsCode(err, itss.CodeNotFound) {
		t.Fatalf("stray layout reached S3 as user 7's: %v", err)
	}
}

// TestAutoStageCommitPushesTheLocalCopyBeforeReplacingIt covers a recording
// upload after an outage left a local copy of the section. That copy is
// newer than S3's until the upload commits; if it were still on disk once S3
// held the new set, a crash at that moment would leave an older local copy
// in front of S3 (served first, then pushed over the new set). So, as for
// PutFile, the local copy must reach S3 and leave disk before the commit.
func TestAutoStageCommitPushesTheLocalCopyBeforeReplacingIt(t *testing.T) {
	// Not parallel: it replaces the package's removeTree.
	ctx := context.Background()
	f := startFakeS3(t)
	a := newTestAuto(t, f)
	stageSet(t, a, secA, map[string]string{"description.md": "old"})
	f.Stop()
	stageSet(t, a, secA, map[string]string{"description.md": "fallback"})
	f.Start()

	var onS3 []string
	removeTree = func(r *os.Root, name string) error {
		if strings.HasPrefix(name, deletedPrefix+secA) {
			b, err := a.s3.ReadFile(ctx, secA, "description.md")
			onS3 = append(onS3, string(b))
			if err != nil {
				onS3 = append(onS3, err.Error())
			}
		}
		return r.RemoveAll(name)
	}
	defer func() { removeTree = (*os.Root).RemoveAll }()
	stageSet(t, a, secA, map[string]string{"description.md": "new", "keystroke.json": "[]"})

	if !slices.Equal(onS3, []string{"fallback"}) {
		t.Fatalf("S3 held %q when the local copy was removed, want it to hold that copy", onS3)
	}
	if got := read(t, a, secA, "description.md"); got != "new" {
		t.Fatalf("description = %q", got)
	}
	must(t, a.Health(ctx))
}
