// Package migrate copies the files of an ITSS deployment from one storage
// backend to another: the files of the sections the caller names and every
// saved layout (or those of chosen tutorials). It is the engine behind
// "itssctl storage migrate", kept apart from the command line so that it can
// be tested against real backends.
//
// Every object is streamed, never held in memory: the copy is hashed
// (SHA-256) as it passes, and the destination is read back and hashed to
// verify it. An object already present at the destination with the same
// size and checksum is skipped, so a run that was interrupted, or that failed
// on some objects, is completed by running it again.
package migrate

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/storage"
)

// Source is what a migration reads: storage.Local, storage.S3 and
// storage.Auto all qualify.
type Source interface {
	Name() string
	List(ctx context.Context, sectionID string) ([]storage.Info, error)
	Open(ctx context.Context, sectionID, name string) (io.ReadCloser, storage.Info, error)
	ListSections(ctx context.Context) ([]string, error)
	ListLayouts(ctx context.Context) ([]storage.LayoutKey, error)
	OpenLayout(ctx context.Context, k storage.LayoutKey) (io.ReadCloser, storage.Info, error)
}

// Target is what a migration writes to (and reads back to verify):
// storage.Local and storage.S3 qualify.
type Target interface {
	Name() string
	Stat(ctx context.Context, sectionID, name string) (storage.Info, error)
	Open(ctx context.Context, sectionID, name string) (io.ReadCloser, storage.Info, error)
	PutFile(ctx context.Context, sectionID, name string, r io.Reader) error
	StatLayout(ctx context.Context, k storage.LayoutKey) (storage.Info, error)
	OpenLayout(ctx context.Context, k storage.LayoutKey) (io.ReadCloser, storage.Info, error)
	PutLayoutStream(ctx context.Context, k storage.LayoutKey, r io.Reader) error
}

// Options configures Run.
type Options struct {
	From Source
	To   Target
	// Sections whose files are copied (all the files the source lists for
	// each). Duplicates are ignored.
	Sections []string
	// Layout selects the layouts to copy; nil copies every layout.
	Layout func(storage.LayoutKey) bool
	// FindUnreferenced lists the source's sections and reports those not in
	// Sections (they are not copied).
	FindUnreferenced bool
	// DryRun reads both sides and reports what would be copied, writing
	// nothing.
	DryRun bool
	// Workers is the number of objects handled at once; default 4.
	Workers int
	// Progress, if set, is told of the plan and of every object handled.
	Progress Progress
}

// DefaultWorkers is the concurrency when Options.Workers is 0.
const DefaultWorkers = 4

// MaxWorkers bounds Options.Workers.
const MaxWorkers = 64

// Outcome is what happened to one object.
type Outcome int

const (
	Copied  Outcome = iota // copied and verified (in a dry run: would be copied)
	Skipped                // already at the destination with the same size and checksum
	Failed                 // see Event.Err
)

func (o Outcome) String() string {
	switch o {
	case Copied:
		return "copied"
	case Skipped:
		return "skipped"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Event reports one object handled.
type Event struct {
	// Key is "recordings/<section_id>/<file>" or
	// "layouts/<user_id>/<tutorial_id>/<role>/layout.json", the object's
	// path under the local storage folder (and, without the first segment,
	// its S3 key).
	Key     string
	Layout  bool
	Size    int64 // bytes of the source object; -1 when it could not be read
	Outcome Outcome
	Err     error // the reason, when Failed
}

// Progress follows a migration. Calls are serialised; they come from the
// worker goroutines, so they should return quickly.
type Progress interface {
	// Planned is called once, after the source was listed, with the number
	// of objects to handle and the bytes of the section files among them
	// (layout sizes are known only as each is handled).
	Planned(objects int, bytes int64)
	// Done is called once per object handled. Objects left when the run is
	// interrupted are not reported.
	Done(Event)
}

// Tally counts the objects of one kind.
type Tally struct {
	Total        int   `json:"total"`   // found in the source
	Copied       int   `json:"copied"`  // in a dry run: would be copied
	Skipped      int   `json:"skipped"` // already present and identical
	Failed       int   `json:"failed"`
	Pending      int   `json:"pending"` // not handled: the run was interrupted
	CopiedBytes  int64 `json:"copied_bytes"`
	SkippedBytes int64 `json:"skipped_bytes"`
}

func (t *Tally) add(ev Event) {
	switch ev.Outcome {
	case Copied:
		t.Copied++
		t.CopiedBytes += max(ev.Size, 0)
	case Skipped:
		t.Skipped++
		t.SkippedBytes += max(ev.Size, 0)
	case Failed:
		t.Failed++
	}
}

func (t Tally) plus(u Tally) Tally {
	return Tally{
		Total: t.Total + u.Total, Copied: t.Copied + u.Copied, Skipped: t.Skipped + u.Skipped,
		Failed: t.Failed + u.Failed, Pending: t.Pending + u.Pending,
		CopiedBytes: t.CopiedBytes + u.CopiedBytes, SkippedBytes: t.SkippedBytes + u.SkippedBytes,
	}
}

// Failure is one object (or listing) that failed, with the reason.
type Failure struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// Report is the outcome of a run, written as the JSON migration report.
type Report struct {
	From            string    `json:"from"`
	To              string    `json:"to"`
	DryRun          bool      `json:"dry_run"`
	Interrupted     bool      `json:"interrupted"`
	StartedAt       time.Time `json:"started_at"`
	FinishedAt      time.Time `json:"finished_at"`
	DurationSeconds float64   `json:"duration_seconds"`
	// Sections is the number of sections whose files were looked for;
	// EmptySections of them have no file in the source.
	Sections      int `json:"sections"`
	EmptySections int `json:"empty_sections"`
	// Files counts section files, Layouts saved layouts, Total both.
	Files   Tally `json:"files"`
	Layouts Tally `json:"layouts"`
	Total   Tally `json:"total"`
	// Failed lists every failure with its reason, sorted by key: those of
	// objects (counted in the tallies) and those of listing a section or the
	// layouts (keys ending in "/").
	Failed []Failure `json:"failed"`
	// UnreferencedSections are sections the source holds but the caller did
	// not name (Options.FindUnreferenced); they were not copied.
	UnreferencedSections []string `json:"unreferenced_sections,omitempty"`
	Warnings             []string `json:"warnings,omitempty"`
}

// ErrIncomplete is wrapped by Run's error when some object failed or the
// run was interrupted; the report says which.
var ErrIncomplete = errors.New("migration incomplete")

// Run performs the migration. The report is returned even with an error;
// the error wraps ErrIncomplete (and the context's error when interrupted)
// unless the options themselves are wrong.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.From == nil || o.To == nil {
		return nil, errors.New("migrate: source and target are required")
	}
	if o.Workers == 0 {
		o.Workers = DefaultWorkers
	}
	if o.Workers < 1 || o.Workers > MaxWorkers {
		return nil, fmt.Errorf("migrate: workers must be between 1 and %d", MaxWorkers)
	}
	r := &run{o: o, rep: &Report{
		From: o.From.Name(), To: o.To.Name(), DryRun: o.DryRun,
		StartedAt: time.Now().UTC(), Failed: []Failure{},
	}}
	objs := r.plan(ctx)
	if ctx.Err() == nil {
		if o.Progress != nil {
			var bytes int64
			for _, ob := range objs {
				bytes += max(ob.size, 0)
			}
			o.Progress.Planned(len(objs), bytes)
		}
		r.copyAll(ctx, objs)
	}
	return r.finish(ctx)
}

// object is one file or layout to migrate.
type object struct {
	key    string
	layout bool
	size   int64 // from the source listing; -1 when unknown (layouts)
	sec    string
	name   string
	lk     storage.LayoutKey
}

type run struct {
	o   Options
	mu  sync.Mutex // guards rep and serialises Progress
	rep *Report
}

func (r *run) fail(key string, err error) {
	r.mu.Lock()
	r.rep.Failed = append(r.rep.Failed, Failure{Key: key, Reason: err.Error()})
	r.mu.Unlock()
}

// plan lists the source: each section's files (in parallel) and the layouts.
func (r *run) plan(ctx context.Context) []object {
	secs := slices.Clone(r.o.Sections)
	slices.Sort(secs)
	secs = slices.Compact(secs)
	r.rep.Sections = len(secs)

	lists := make([][]storage.Info, len(secs))
	errs := make([]error, len(secs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(r.o.Workers, max(len(secs), 1)) {
		wg.Go(func() {
			for i := range next {
				lists[i], errs[i] = r.o.From.List(ctx, secs[i])
			}
		})
	}
	for i := range secs {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}

	var objs []object
	for i, sec := range secs {
		if errs[i] != nil {
			r.fail("recordings/"+sec+"/", fmt.Errorf("list source section: %w", errs[i]))
			continue
		}
		if len(lists[i]) == 0 {
			r.rep.EmptySections++
		}
		for _, f := range lists[i] {
			objs = append(objs, object{key: "recordings/" + sec + "/" + f.Name, sec: sec, name: f.Name, size: f.Size})
			r.rep.Files.Total++
		}
	}

	lays, err := r.o.From.ListLayouts(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		r.fail("layouts/", fmt.Errorf("list source layouts: %w", err))
	}
	for _, k := range lays {
		if r.o.Layout != nil && !r.o.Layout(k) {
			continue
		}
		objs = append(objs, object{key: "layouts/" + k.String(), layout: true, lk: k, size: -1})
		r.rep.Layouts.Total++
	}

	if r.o.FindUnreferenced {
		all, err := r.o.From.ListSections(ctx)
		if err != nil {
			r.rep.Warnings = append(r.rep.Warnings, "could not list the source's sections to find unreferenced ones: "+err.Error())
		}
		for _, s := range all {
			if _, found := slices.BinarySearch(secs, s); !found {
				r.rep.UnreferencedSections = append(r.rep.UnreferencedSections, s)
			}
		}
	}
	return objs
}

// copyAll hands the objects to the workers. Once ctx is done, the objects
// not yet started are left pending.
func (r *run) copyAll(ctx context.Context, objs []object) {
	next := make(chan object)
	var wg sync.WaitGroup
	for range min(r.o.Workers, max(len(objs), 1)) {
		wg.Go(func() {
			for ob := range next {
				if ctx.Err() != nil {
					r.pending(ob)
					continue
				}
				ev := r.migrate(ctx, ob)
				if ctx.Err() != nil && ev.Outcome == Failed {
					// Cut short by the interruption, not a fault of the
					// object: it is pending, and the next run redoes it.
					r.pending(ob)
					continue
				}
				r.done(ev)
			}
		})
	}
	for _, ob := range objs {
		if ctx.Err() != nil {
			r.pending(ob)
			continue
		}
		next <- ob
	}
	close(next)
	wg.Wait()
}

func (r *run) pending(ob object) {
	r.mu.Lock()
	if ob.layout {
		r.rep.Layouts.Pending++
	} else {
		r.rep.Files.Pending++
	}
	r.mu.Unlock()
}

func (r *run) done(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev.Layout {
		r.rep.Layouts.add(ev)
	} else {
		r.rep.Files.add(ev)
	}
	if ev.Outcome == Failed {
		r.rep.Failed = append(r.rep.Failed, Failure{Key: ev.Key, Reason: ev.Err.Error()})
	}
	if r.o.Progress != nil {
		r.o.Progress.Done(ev)
	}
}

func (r *run) finish(ctx context.Context) (*Report, error) {
	rep := r.rep
	rep.FinishedAt = time.Now().UTC()
	rep.DurationSeconds = rep.FinishedAt.Sub(rep.StartedAt).Seconds()
	rep.Total = rep.Files.plus(rep.Layouts)
	slices.SortStableFunc(rep.Failed, func(a, b Failure) int { return cmp.Compare(a.Key, b.Key) })
	if err := ctx.Err(); err != nil {
		rep.Interrupted = true
		return rep, fmt.Errorf("%w: interrupted (%d object(s) not handled): %w", ErrIncomplete, rep.Total.Pending, err)
	}
	if n := len(rep.Failed); n > 0 {
		return rep, fmt.Errorf("%w: %d failure(s), listed in the report", ErrIncomplete, n)
	}
	return rep, nil
}

// migrate handles one object: skip it if the destination already holds the
// same bytes, else copy it and verify the copy.
func (r *run) migrate(ctx context.Context, ob object) Event {
	ev := Event{Key: ob.key, Layout: ob.layout, Size: ob.size}
	failed := func(format string, args ...any) Event {
		ev.Outcome, ev.Err = Failed, fmt.Errorf(format, args...)
		return ev
	}

	dst, err := r.statTarget(ctx, ob)
	switch {
	case err == nil:
		if ob.size < 0 || dst.Size == ob.size {
			src, err := r.digest(ctx, ob, r.openSource)
			if err != nil {
				return failed("read source: %w", err)
			}
			ev.Size = src.n
			if dst.Size == src.n {
				have, err := r.digest(ctx, ob, r.openTarget)
				if err != nil {
					return failed("read destination: %w", err)
				}
				if have == src {
					ev.Outcome = Skipped
					return ev
				}
			}
		}
	case itss.IsCode(err, itss.CodeNotFound):
	default:
		return failed("stat destination: %w", err)
	}
	if r.o.DryRun {
		if ev.Size < 0 {
			// A layout's size is known only from the object itself.
			rc, info, err := r.openSource(ctx, ob)
			if err != nil {
				return failed("open source: %w", err)
			}
			rc.Close()
			ev.Size = info.Size
		}
		ev.Outcome = Copied
		return ev
	}

	rc, info, err := r.openSource(ctx, ob)
	if err != nil {
		return failed("open source: %w", err)
	}
	src := newDigestReader(ctx, rc)
	err = r.put(ctx, ob, src)
	rc.Close()
	if err != nil {
		return failed("write destination: %w", err)
	}
	sum := src.sum()
	ev.Size = sum.n
	if info.Size >= 0 && sum.n != info.Size {
		return failed("source changed while copying: read %d bytes, expected %d", sum.n, info.Size)
	}
	have, err := r.digest(ctx, ob, r.openTarget)
	if err != nil {
		return failed("verify: read destination: %w", err)
	}
	switch {
	case have.n != sum.n:
		return failed("verification failed: destination holds %d bytes, source %d", have.n, sum.n)
	case have != sum:
		return failed("verification failed: destination SHA-256 %s, source %s", have.hex(), sum.hex())
	}
	ev.Outcome = Copied
	return ev
}

func (r *run) statTarget(ctx context.Context, ob object) (storage.Info, error) {
	if ob.layout {
		return r.o.To.StatLayout(ctx, ob.lk)
	}
	return r.o.To.Stat(ctx, ob.sec, ob.name)
}

func (r *run) openSource(ctx context.Context, ob object) (io.ReadCloser, storage.Info, error) {
	if ob.layout {
		return r.o.From.OpenLayout(ctx, ob.lk)
	}
	return r.o.From.Open(ctx, ob.sec, ob.name)
}

func (r *run) openTarget(ctx context.Context, ob object) (io.ReadCloser, storage.Info, error) {
	if ob.layout {
		return r.o.To.OpenLayout(ctx, ob.lk)
	}
	return r.o.To.Open(ctx, ob.sec, ob.name)
}

func (r *run) put(ctx context.Context, ob object, src io.Reader) error {
	if ob.layout {
		return r.o.To.PutLayoutStream(ctx, ob.lk, src)
	}
	return r.o.To.PutFile(ctx, ob.sec, ob.name, src)
}

// digest streams one side of an object through SHA-256.
func (r *run) digest(ctx context.Context, ob object, open func(context.Context, object) (io.ReadCloser, storage.Info, error)) (checksum, error) {
	rc, _, err := open(ctx, ob)
	if err != nil {
		return checksum{}, err
	}
	defer rc.Close()
	d := newDigestReader(ctx, rc)
	if _, err := io.Copy(io.Discard, d); err != nil {
		return checksum{}, err
	}
	return d.sum(), nil
}

// checksum identifies content: its length and SHA-256.
type checksum struct {
	n   int64
	sum [sha256.Size]byte
}

func (c checksum) hex() string { return hex.EncodeToString(c.sum[:]) }

// digestReader hashes and counts what is read through it, and stops when
// the context is done (a local file read would otherwise run to its end).
type digestReader struct {
	ctx context.Context
	r   io.Reader
	h   hash.Hash
	n   int64
}

func newDigestReader(ctx context.Context, r io.Reader) *digestReader {
	return &digestReader{ctx: ctx, r: r, h: sha256.New()}
}

func (d *digestReader) Read(p []byte) (int, error) {
	if err := d.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := d.r.Read(p)
	d.h.Write(p[:n])
	d.n += int64(n)
	return n, err
}

func (d *digestReader) sum() checksum {
	c := checksum{n: d.n}
	d.h.Sum(c.sum[:0])
	return c
}
