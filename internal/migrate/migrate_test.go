package migrate_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/itss-go/itss/internal/migrate"
	"github.com/itss-go/itss/internal/storage"
	"github.com/itss-go/itss/internal/storage/storagetest"
)

const (
	secA   = "67bc56ba8e8245c9aa2d8b294ed68bf9"
	secB   = "3642e21a42cf4f77a051bcc050a1285b"
	secC   = "c339a37a9fc1445a98de584b696a3d84" // on storage, not in the database
	secD   = "7c5ffd1b-9067-45e6-9495-db857bc62d03"
	secE   = "0f0e0d0c0b0a09080706050403020100" // in the database, no files
	tutOne = "858c03b2fb62409681e60fb11f373d50"
	tutTwo = "11111111111111111111111111111111"
)

// bigSize spans two S3 parts of the minimum size, so the multipart path runs.
const (
	partSize = 5 << 20
	bigSize  = partSize + 12345
)

// fixture is the content seeded into a source store.
type fixture struct {
	files   map[string]map[string][]byte // section -> name -> content
	layouts map[storage.LayoutKey][]byte
}

func newFixture() fixture {
	big := make([]byte, bigSize)
	for i := range big {
		big[i] = byte(i ^ i>>8 ^ i>>16)
	}
	return fixture{
		files: map[string]map[string][]byte{
			secA: {
				"description.md":   []byte("# Recursion\n"),
				"recording.wav":    big,
				"transcript.json":  []byte(`"[{\"text\":\"héllo\",\"timestamp\":0}]"`),
				"code_content.txt": []byte("print(1)\n"),
			},
			secB: {"description.md": []byte("B"), "question.json": []byte(`{"quizTitle":"q"}`)},
			secC: {"description.md": []byte("orphan")},
			secD: {"keystroke.json": []byte("[]")},
		},
		layouts: map[storage.LayoutKey][]byte{
			{UserID: 6, TutorialID: tutOne, Role: "learner"}: []byte(`{"dock":1}`),
			{UserID: 6, TutorialID: tutOne, Role: "author"}:  []byte(`{"dock":2}`),
			{UserID: 7, TutorialID: tutTwo, Role: "learner"}: []byte(`{"dock":3}`),
			// The original's broken save left empty files; they are copied as they are.
			{UserID: 8, TutorialID: tutTwo, Role: "author"}: {},
		},
	}
}

// The storage backends are what migrations run on.
var (
	_ migrate.Source = (*storage.Local)(nil)
	_ migrate.Source = (*storage.S3)(nil)
	_ migrate.Source = (*storage.Auto)(nil)
	_ migrate.Target = (*storage.Local)(nil)
	_ migrate.Target = (*storage.S3)(nil)
)

// nLayouts is the number of layouts in the fixture (30 bytes in all).
const nLayouts = 4

// dbSections are the sections "the database" names in these tests.
var dbSections = []string{secA, secB, secD, secE}

type store interface {
	migrate.Source
	migrate.Target
	ReadFile(ctx context.Context, sectionID, name string) ([]byte, error)
}

func newLocal(t *testing.T) *storage.Local {
	t.Helper()
	l, err := storage.NewLocal(storagetest.LocalOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func newS3(t *testing.T) *storage.S3 {
	t.Helper()
	o := storagetest.S3Options(t, storagetest.FakeS3(t))
	o.PartSize = partSize
	s, err := storage.NewS3(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seed(t *testing.T, s store, fx fixture) {
	t.Helper()
	ctx := context.Background()
	for sec, files := range fx.files {
		for name, body := range files {
			must(t, s.PutFile(ctx, sec, name, bytes.NewReader(body)))
		}
	}
	for k, body := range fx.layouts {
		must(t, s.PutLayoutStream(ctx, k, bytes.NewReader(body)))
	}
}

// wantCopied checks that dst holds exactly the fixture's objects of the
// given sections and layouts, byte for byte.
func wantCopied(t *testing.T, dst store, fx fixture, secs []string, layout func(storage.LayoutKey) bool) {
	t.Helper()
	ctx := context.Background()
	for _, sec := range secs {
		for name, body := range fx.files[sec] {
			got, err := dst.ReadFile(ctx, sec, name)
			if err != nil {
				t.Errorf("%s/%s at the destination: %v", sec, name, err)
				continue
			}
			if !bytes.Equal(got, body) {
				t.Errorf("%s/%s differs at the destination (%d bytes, want %d)", sec, name, len(got), len(body))
			}
		}
	}
	var want []storage.LayoutKey
	for k, body := range fx.layouts {
		if layout != nil && !layout(k) {
			continue
		}
		want = append(want, k)
		rc, _, err := dst.OpenLayout(ctx, k)
		if err != nil {
			t.Errorf("layout %s at the destination: %v", k, err)
			continue
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		must(t, err)
		if !bytes.Equal(got, body) {
			t.Errorf("layout %s = %q, want %q", k, got, body)
		}
	}
	have, err := dst.ListLayouts(ctx)
	must(t, err)
	if len(have) != len(want) {
		t.Errorf("destination layouts = %v, want %d of them", have, len(want))
	}
	all, err := dst.ListSections(ctx)
	must(t, err)
	for _, s := range all {
		if !slices.Contains(secs, s) {
			t.Errorf("section %s copied although not asked for", s)
		}
	}
}

func fileCount(fx fixture, secs []string) (n int, bytes int64) {
	for _, sec := range secs {
		for _, b := range fx.files[sec] {
			n++
			bytes += int64(len(b))
		}
	}
	return n, bytes
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// recorder is a Progress that keeps what it is told.
type recorder struct {
	mu      sync.Mutex
	objects int
	bytes   int64
	planned int
	events  []migrate.Event
	onDone  func(n int)
}

func (r *recorder) Planned(objects int, bytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.planned++
	r.objects, r.bytes = objects, bytes
}

func (r *recorder) Done(ev migrate.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	n := len(r.events)
	r.mu.Unlock()
	if r.onDone != nil {
		r.onDone(n)
	}
}

func (r *recorder) outcomes() map[migrate.Outcome]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[migrate.Outcome]int{}
	for _, ev := range r.events {
		m[ev.Outcome]++
	}
	return m
}

func TestLocalToS3CopiesAndVerifiesEveryObjectThenSkipsThemOnRerun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fx := newFixture()
	src, dst := newLocal(t), newS3(t)
	seed(t, src, fx)
	nFiles, nBytes := fileCount(fx, dbSections)

	prog := &recorder{}
	rep, err := migrate.Run(ctx, migrate.Options{
		From: src, To: dst, Sections: dbSections, FindUnreferenced: true, Workers: 3, Progress: prog,
	})
	must(t, err)
	wantCopied(t, dst, fx, dbSections, nil)

	if rep.From != "local" || rep.To != "s3" || rep.DryRun || rep.Interrupted {
		t.Errorf("report header = %+v", rep)
	}
	if rep.Sections != 4 || rep.EmptySections != 1 {
		t.Errorf("sections = %d (empty %d), want 4 (empty 1)", rep.Sections, rep.EmptySections)
	}
	wantFiles := migrate.Tally{Total: nFiles, Copied: nFiles, CopiedBytes: nBytes}
	if rep.Files != wantFiles {
		t.Errorf("files = %+v, want %+v", rep.Files, wantFiles)
	}
	if rep.Layouts.Total != nLayouts || rep.Layouts.Copied != nLayouts || rep.Layouts.CopiedBytes != 30 {
		t.Errorf("layouts = %+v", rep.Layouts)
	}
	if rep.Total.Copied != nFiles+nLayouts || len(rep.Failed) != 0 {
		t.Errorf("total = %+v, failed %v", rep.Total, rep.Failed)
	}
	if !slices.Equal(rep.UnreferencedSections, []string{secC}) {
		t.Errorf("unreferenced = %v, want [%s]", rep.UnreferencedSections, secC)
	}
	if prog.planned != 1 || prog.objects != nFiles+nLayouts || prog.bytes != nBytes {
		t.Errorf("Planned(%d, %d) x%d, want (%d, %d) once", prog.objects, prog.bytes, prog.planned, nFiles+nLayouts, nBytes)
	}
	if got := prog.outcomes(); got[migrate.Copied] != nFiles+nLayouts || len(got) != 1 {
		t.Errorf("progress outcomes = %v", got)
	}

	// Everything is there: a second run copies nothing.
	rep, err = migrate.Run(ctx, migrate.Options{From: src, To: dst, Sections: dbSections})
	must(t, err)
	if rep.Total.Skipped != nFiles+nLayouts || rep.Total.Copied != 0 || rep.Files.SkippedBytes != nBytes {
		t.Errorf("rerun total = %+v, want everything skipped", rep.Total)
	}
}

func TestS3ToLocalCopiesTheChosenTutorialsLayouts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fx := newFixture()
	src, dst := newS3(t), newLocal(t)
	seed(t, src, fx)
	only := func(k storage.LayoutKey) bool { return k.TutorialID == tutOne }
	secs := []string{secA, secB, secA} // duplicates are ignored

	rep, err := migrate.Run(ctx, migrate.Options{From: src, To: dst, Sections: secs, Layout: only, Workers: 1})
	must(t, err)
	wantCopied(t, dst, fx, []string{secA, secB}, only)
	n, b := fileCount(fx, []string{secA, secB})
	if rep.Sections != 2 || rep.Files.Copied != n || rep.Files.CopiedBytes != b || rep.Layouts.Copied != 2 {
		t.Errorf("report = %+v", rep)
	}
	if rep.UnreferencedSections != nil {
		t.Errorf("unreferenced listed without being asked: %v", rep.UnreferencedSections)
	}
}

// snapshot describes every entry under dir: path, mode, size, checksum and
// modification time, so any change shows.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			desc += " " + hex.EncodeToString(sum[:])
		}
		out[p] = desc
		return nil
	}))
	return out
}

func TestDryRunReportsThePlanAndTouchesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fx := newFixture()
	src := newLocal(t)
	seed(t, src, fx)
	dstOpts := storagetest.LocalOptions(t)
	dst, err := storage.NewLocal(dstOpts)
	must(t, err)
	t.Cleanup(func() { dst.Close() })
	must(t, dst.PutFile(ctx, secB, "description.md", bytes.NewReader(fx.files[secB]["description.md"]))) // identical
	must(t, dst.PutFile(ctx, secB, "question.json", strings.NewReader("stale")))                         // differs
	before := snapshot(t, filepath.Dir(dstOpts.RecordingsPath))

	nFiles, nBytes := fileCount(fx, dbSections)
	prog := &recorder{}
	rep, err := migrate.Run(ctx, migrate.Options{From: src, To: dst, Sections: dbSections, DryRun: true, Progress: prog})
	must(t, err)
	if after := snapshot(t, filepath.Dir(dstOpts.RecordingsPath)); !mapsEqual(before, after) {
		t.Fatalf("dry run changed the destination:\nbefore %v\nafter  %v", before, after)
	}
	if !rep.DryRun || rep.Files.Copied != nFiles-1 || rep.Files.Skipped != 1 || rep.Layouts.Copied != nLayouts {
		t.Errorf("dry-run report = %+v", rep)
	}
	if rep.Files.CopiedBytes != nBytes-1 || rep.Layouts.CopiedBytes != 30 {
		t.Errorf("would copy %d bytes of files and %d of layouts, want %d and 30", rep.Files.CopiedBytes, rep.Layouts.CopiedBytes, nBytes-1)
	}

	// A dry run to a destination that does not exist yet.
	rep, err = migrate.Run(ctx, migrate.Options{From: src, To: migrate.EmptyTarget("local"), Sections: dbSections, DryRun: true})
	must(t, err)
	if rep.Total.Copied != nFiles+nLayouts || rep.Total.Skipped != 0 {
		t.Errorf("dry run to an empty target = %+v", rep.Total)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestOnlyIdenticalObjectsAreSkipped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, dst := newLocal(t), newS3(t)
	put := func(s store, name, body string) {
		must(t, s.PutFile(ctx, secA, name, strings.NewReader(body)))
	}
	put(src, "description.md", "same")
	put(dst, "description.md", "same")
	put(src, "question.json", "abcd")
	put(dst, "question.json", "abce") // same size, other bytes
	put(src, "keystroke.json", "[1]")
	put(dst, "keystroke.json", "[1, 2]")
	k := storage.LayoutKey{UserID: 6, TutorialID: tutOne, Role: "author"}
	must(t, src.PutLayoutStream(ctx, k, strings.NewReader(`{"a":1}`)))
	must(t, dst.PutLayoutStream(ctx, k, strings.NewReader(`{"a":1}`)))
	k2 := storage.LayoutKey{UserID: 6, TutorialID: tutOne, Role: "learner"}
	must(t, src.PutLayoutStream(ctx, k2, strings.NewReader(`{"b":1}`)))
	must(t, dst.PutLayoutStream(ctx, k2, strings.NewReader(`{"b":2}`)))

	prog := &recorder{}
	rep, err := migrate.Run(ctx, migrate.Options{From: src, To: dst, Sections: []string{secA}, Progress: prog})
	must(t, err)
	got := map[string]migrate.Outcome{}
	for _, ev := range prog.events {
		got[ev.Key] = ev.Outcome
	}
	want := map[string]migrate.Outcome{
		"recordings/" + secA + "/description.md":       migrate.Skipped,
		"recordings/" + secA + "/question.json":        migrate.Copied,
		"recordings/" + secA + "/keystroke.json":       migrate.Copied,
		"layouts/6/" + tutOne + "/author/layout.json":  migrate.Skipped,
		"layouts/6/" + tutOne + "/learner/layout.json": migrate.Copied,
	}
	if len(got) != len(want) {
		t.Fatalf("outcomes = %v, want %v", got, want)
	}
	for key, o := range want {
		if got[key] != o {
			t.Errorf("%s: %v, want %v", key, got[key], o)
		}
	}
	for name, body := range map[string]string{"question.json": "abcd", "keystroke.json": "[1]"} {
		b, err := dst.ReadFile(ctx, secA, name)
		must(t, err)
		if string(b) != body {
			t.Errorf("%s = %q after migration, want %q", name, b, body)
		}
	}
	if rep.Files.Skipped != 1 || rep.Files.SkippedBytes != 4 || rep.Layouts.Skipped != 1 {
		t.Errorf("report = %+v", rep)
	}
}

// faultyTarget breaks chosen writes: refuses some, corrupts others.
type faultyTarget struct {
	migrate.Target
	refuse  string // file name whose PutFile fails
	corrupt string // file name whose content is altered on the way
}

func (f *faultyTarget) PutFile(ctx context.Context, sec, name string, r io.Reader) error {
	switch name {
	case f.refuse:
		io.Copy(io.Discard, r) //nolint:errcheck // consume like a real store before failing
		return errors.New("no space left on device")
	case f.corrupt:
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		b[0] ^= 0xff
		return f.Target.PutFile(ctx, sec, name, bytes.NewReader(b))
	}
	return f.Target.PutFile(ctx, sec, name, r)
}

func TestFailuresAreRecordedWithReasonsAndTheRestIsCopied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fx := newFixture()
	src, dst := newLocal(t), newLocal(t)
	seed(t, src, fx)
	bad := "not-a-section"
	prog := &recorder{}
	rep, err := migrate.Run(ctx, migrate.Options{
		From: src, To: &faultyTarget{Target: dst, refuse: "question.json", corrupt: "transcript.json"},
		Sections: append(slices.Clone(dbSections), bad), Progress: prog,
	})
	if !errors.Is(err, migrate.ErrIncomplete) || errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrIncomplete", err)
	}
	if rep == nil {
		t.Fatal("no report with the error")
	}
	reasons := map[string]string{}
	for _, f := range rep.Failed {
		reasons[f.Key] = f.Reason
	}
	wantReason := map[string]string{
		"recordings/" + bad + "/":                 "Invalid tutorial section ID",
		"recordings/" + secB + "/question.json":   "no space left on device",
		"recordings/" + secA + "/transcript.json": "verification failed: destination SHA-256",
	}
	if len(reasons) != len(wantReason) {
		t.Fatalf("failures = %v", rep.Failed)
	}
	for key, frag := range wantReason {
		if !strings.Contains(reasons[key], frag) {
			t.Errorf("reason for %s = %q, want it to mention %q", key, reasons[key], frag)
		}
	}
	nFiles, _ := fileCount(fx, dbSections)
	if rep.Files.Failed != 2 || rep.Files.Copied != nFiles-2 || rep.Layouts.Copied != nLayouts {
		t.Errorf("report = %+v", rep)
	}
	if got := prog.outcomes(); got[migrate.Failed] != 2 {
		t.Errorf("progress outcomes = %v", got)
	}
	b, err := dst.ReadFile(ctx, secA, "description.md")
	must(t, err)
	if string(b) != "# Recursion\n" {
		t.Errorf("unaffected file = %q", b)
	}

	// With the faults gone, a second run repairs the corrupt copy and adds
	// the refused one.
	rep, err = migrate.Run(ctx, migrate.Options{From: src, To: dst, Sections: dbSections})
	must(t, err)
	if rep.Files.Copied != 2 || rep.Files.Skipped != nFiles-2 {
		t.Errorf("second run files = %+v", rep.Files)
	}
	wantCopied(t, dst, fx, dbSections, nil)
}

func TestInterruptedRunIsCompletedByTheNextOne(t *testing.T) {
	t.Parallel()
	fx := newFixture()
	src, dst := newLocal(t), newS3(t)
	seed(t, src, fx)
	nFiles, _ := fileCount(fx, dbSections)
	total := nFiles + nLayouts

	const stopAfter = 3
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prog := &recorder{onDone: func(n int) {
		if n == stopAfter {
			cancel()
		}
	}}
	// One worker, so the cut falls exactly after stopAfter objects.
	rep, err := migrate.Run(ctx, migrate.Options{From: src, To: dst, Sections: dbSections, Workers: 1, Progress: prog})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, migrate.ErrIncomplete) {
		t.Fatalf("err = %v, want an interruption", err)
	}
	first := rep.Total
	if !rep.Interrupted || first.Copied != stopAfter || first.Failed != 0 || first.Pending != total-stopAfter {
		t.Fatalf("interrupted run: interrupted=%v %+v (total %d)", rep.Interrupted, first, total)
	}
	// Only the objects reported copied reached the destination.
	secs, err := dst.ListSections(context.Background())
	must(t, err)
	lays, err := dst.ListLayouts(context.Background())
	must(t, err)
	var present int
	for _, sec := range secs {
		files, err := dst.List(context.Background(), sec)
		must(t, err)
		present += len(files)
	}
	if present+len(lays) != stopAfter {
		t.Fatalf("destination holds %d objects after the interruption, want %d", present+len(lays), stopAfter)
	}

	prog2 := &recorder{}
	rep, err = migrate.Run(context.Background(), migrate.Options{From: src, To: dst, Sections: dbSections, Workers: 3, Progress: prog2})
	must(t, err)
	if rep.Interrupted || rep.Total.Skipped != first.Copied || rep.Total.Copied != first.Pending {
		t.Fatalf("resumed run = %+v, want %d skipped and %d copied", rep.Total, first.Copied, first.Pending)
	}
	copiedBefore := map[string]bool{}
	for _, ev := range prog.events {
		copiedBefore[ev.Key] = true
	}
	for _, ev := range prog2.events {
		if want := map[bool]migrate.Outcome{true: migrate.Skipped, false: migrate.Copied}[copiedBefore[ev.Key]]; ev.Outcome != want {
			t.Errorf("%s: %v on resume, want %v", ev.Key, ev.Outcome, want)
		}
	}
	wantCopied(t, dst, fx, dbSections, nil)
}

func TestRunRefusesBadOptions(t *testing.T) {
	t.Parallel()
	l := newLocal(t)
	for name, o := range map[string]migrate.Options{
		"no source":     {To: l},
		"no target":     {From: l},
		"workers < 1":   {From: l, To: l, Workers: -1},
		"workers > max": {From: l, To: l, Workers: migrate.MaxWorkers + 1},
	} {
		if _, err := migrate.Run(context.Background(), o); err == nil || errors.Is(err, migrate.ErrIncomplete) {
			t.Errorf("%s: err = %v, want an options error", name, err)
		}
	}
}

func TestReportIsWrittenAsJSONWithoutOverwriting(t *testing.T) {
	t.Parallel()
	l := newLocal(t)
	rep, err := migrate.Run(context.Background(), migrate.Options{From: l, To: migrate.EmptyTarget("s3"), DryRun: true})
	must(t, err)
	dir := t.TempDir()
	p1, err := rep.WriteFile(dir)
	must(t, err)
	p2, err := rep.WriteFile(dir)
	must(t, err)
	if p1 == p2 || !strings.HasPrefix(filepath.Base(p1), "migration_report_") || filepath.Ext(p1) != ".json" {
		t.Fatalf("report paths %s, %s", p1, p2)
	}
	b, err := os.ReadFile(p1)
	must(t, err)
	var got map[string]any
	must(t, json.Unmarshal(b, &got))
	for _, k := range []string{"from", "to", "dry_run", "interrupted", "started_at", "finished_at", "duration_seconds",
		"sections", "files", "layouts", "total", "failed"} {
		if _, ok := got[k]; !ok {
			t.Errorf("report lacks %q: %s", k, b)
		}
	}
	if f, ok := got["failed"].([]any); !ok || len(f) != 0 {
		t.Errorf("failed = %v, want []", got["failed"])
	}
}

func TestOutcomeNames(t *testing.T) {
	t.Parallel()
	for o, want := range map[migrate.Outcome]string{migrate.Copied: "copied", migrate.Skipped: "skipped", migrate.Failed: "failed"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q", o, o.String())
		}
	}
}
