package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/itss-go/itss/internal/config"
	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/migrate"
	"github.com/itss-go/itss/internal/storage"
)

func init() {
	register("storage migrate", "copy section files and layouts between local disk and S3, verified and resumable", storageMigrate)
	register("storage check", "write, read, list and delete a probe file on the configured storage", storageCheck)
	register("storage sync", "push the files auto storage kept on local disk while S3 was down", storageSync)
}

const migrateHelp = `Copy every section's files (the sections named in the database, or only those
of the tutorials listed in --tutorials) and every saved layout from one storage
backend to the other. Both backends are built from the settings whatever
STORAGE_TYPE says: LOCAL_STORAGE_RECORDINGS_PATH and LOCAL_STORAGE_LAYOUTS_PATH
for local; S3_BUCKET_NAME, S3_LEARNER_BUCKET_NAME, S3_ENDPOINT, AWS_REGION,
ACCESS_KEY_ID and SECRET_ACCESS_KEY for s3.

Each copy is verified by size and SHA-256. Objects already at the destination
with the same size and checksum are skipped, so running the command again
completes an interrupted or partly failed migration. A JSON report
(migration_report_<timestamp>.json) is written to --report; the exit status
is 1 if anything failed or the run was interrupted.

The --tutorials file is a JSON array of tutorial ids, or of objects with an
"id" field (such as a list of exported tutorials).`

func storageMigrate(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("storage migrate", migrateHelp, "--from s3|local --to local|s3")
	from := fs.String("from", "", "backend to copy from: local or s3")
	to := fs.String("to", "", "backend to copy to: local or s3")
	tutorialsFile := fs.String("tutorials", "", "JSON `file` listing the tutorials whose sections and layouts to copy (default: all)")
	dryRun := fs.Bool("dry-run", false, "compare both sides and report what would be copied, writing nothing but the report")
	workers := fs.Int("workers", migrate.DefaultWorkers, fmt.Sprintf("objects copied at once (1-%d)", migrate.MaxWorkers))
	reportDir := fs.String("report", ".", "`folder` the JSON report is written to")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	case !isBackendKind(*from) || !isBackendKind(*to):
		return fmt.Errorf("%w: --from and --to must each be local or s3", errUsage)
	case *from == *to:
		return fmt.Errorf("%w: --from and --to must differ", errUsage)
	case *workers < 1 || *workers > migrate.MaxWorkers:
		return fmt.Errorf("%w: --workers must be between 1 and %d", errUsage, migrate.MaxWorkers)
	}
	var tutorials []string
	if *tutorialsFile != "" {
		var err error
		if tutorials, err = readTutorialIDs(*tutorialsFile); err != nil {
			return err
		}
	}
	// Checked first: a long migration whose report cannot be written would
	// leave no record of its failures.
	if fi, err := os.Stat(*reportDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("report folder %s: not an existing folder", *reportDir)
	}

	cfg, db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	var sections []string
	var layout func(storage.LayoutKey) bool
	if tutorials == nil {
		if sections, err = db.SectionIDs(ctx); err != nil {
			return err
		}
	} else {
		for _, id := range tutorials {
			if _, err := db.TutorialByID(ctx, id); itss.IsCode(err, itss.CodeNotFound) {
				fmt.Fprintf(out, "warning: tutorial %s is not in the database; only its layouts can be copied\n", id)
			} else if err != nil {
				return err
			}
		}
		if sections, err = db.SectionIDsOfTutorials(ctx, tutorials); err != nil {
			return err
		}
		chosen := make(map[string]bool, len(tutorials))
		for _, id := range tutorials {
			chosen[id] = true
		}
		layout = func(k storage.LayoutKey) bool { return chosen[k.TutorialID] }
	}

	src, closeSrc, err := migrationSource(ctx, cfg, *from)
	if err != nil {
		return err
	}
	defer closeSrc()
	dst, closeDst, err := migrationTarget(ctx, cfg, *to, *dryRun)
	if err != nil {
		return err
	}
	defer closeDst()

	what := "migrating"
	if *dryRun {
		what = "dry run: comparing"
	}
	fmt.Fprintf(out, "%s the files of %d section(s) and the layouts from %s to %s\n", what, len(sections), *from, *to)
	prog := newProgressPrinter(out)
	rep, runErr := migrate.Run(ctx, migrate.Options{
		From: src, To: dst, Sections: sections, Layout: layout, FindUnreferenced: tutorials == nil,
		DryRun: *dryRun, Workers: *workers, Progress: prog,
	})
	prog.close()
	if rep == nil {
		return runErr
	}
	printSummary(out, rep)
	path, err := rep.WriteFile(*reportDir)
	if err != nil {
		return errors.Join(runErr, err)
	}
	fmt.Fprintf(out, "report: %s\n", path)
	return runErr
}

func isBackendKind(s string) bool { return s == "local" || s == "s3" }

// readTutorialIDs reads a JSON array of tutorial ids, or of objects with an
// "id" field (the original's tutorial export), or a mix.
func readTutorialIDs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tutorials file: %w", err)
	}
	defer f.Close()
	var items []json.RawMessage
	if err := json.NewDecoder(f).Decode(&items); err != nil {
		return nil, fmt.Errorf("tutorials file %s: want a JSON array of tutorial ids or of objects with an \"id\": %w", path, err)
	}
	ids := make([]string, 0, len(items))
	seen := make(map[string]bool, len(items))
	for i, raw := range items {
		var id string
		if err := json.Unmarshal(raw, &id); err != nil {
			var obj struct {
				ID *string `json:"id"`
			}
			if err := json.Unmarshal(raw, &obj); err != nil || obj.ID == nil {
				return nil, fmt.Errorf("tutorials file %s: item %d is neither a tutorial id nor an object with a string \"id\"", path, i)
			}
			id = *obj.ID
		}
		if !storage.ValidTutorialID(id) {
			return nil, fmt.Errorf("tutorials file %s: item %d: %q is not a tutorial id", path, i, id)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("tutorials file %s lists no tutorial", path)
	}
	return ids, nil
}

// migrationSource opens the backend to copy from. A local source must
// exist: opening a missing folder would create it and copy nothing.
func migrationSource(ctx context.Context, cfg *config.Config, kind string) (migrate.Source, func(), error) {
	o := storageOptions(cfg)
	if kind == "s3" {
		s, err := openS3(ctx, o)
		return s, func() {}, err
	}
	for _, p := range []struct{ env, path string }{
		{"LOCAL_STORAGE_RECORDINGS_PATH", o.RecordingsPath},
		{"LOCAL_STORAGE_LAYOUTS_PATH", o.LayoutsPath},
	} {
		if fi, err := os.Stat(p.path); err != nil || !fi.IsDir() {
			return nil, nil, fmt.Errorf("source folder %s (%s) does not exist", p.path, p.env)
		}
	}
	l, err := storage.NewLocal(o)
	if err != nil {
		return nil, nil, err
	}
	return l, func() { l.Close() }, nil
}

// migrationTarget opens the backend to copy to. A dry run to local folders
// that do not exist yet compares against nothing rather than create them.
func migrationTarget(ctx context.Context, cfg *config.Config, kind string, dryRun bool) (migrate.Target, func(), error) {
	o := storageOptions(cfg)
	if kind == "s3" {
		s, err := openS3(ctx, o)
		return s, func() {}, err
	}
	if dryRun && !exists(o.RecordingsPath) && !exists(o.LayoutsPath) {
		return migrate.EmptyTarget("local"), func() {}, nil
	}
	l, err := storage.NewLocal(o)
	if err != nil {
		return nil, nil, err
	}
	return l, func() { l.Close() }, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// openS3 builds the S3 backend and checks that both buckets answer, so a
// wrong endpoint or credential stops the command before any work.
func openS3(ctx context.Context, o storage.Options) (*storage.S3, error) {
	if o.Bucket == "" || o.LearnerBucket == "" {
		return nil, errors.New("S3_BUCKET_NAME and S3_LEARNER_BUCKET_NAME must be set to migrate from or to s3")
	}
	s, err := storage.NewS3(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := s.Health(ctx); err != nil {
		return nil, fmt.Errorf("S3 is not usable: %w", err)
	}
	return s, nil
}

// progressPrinter shows a migration's progress: a bar on a terminal, plain
// lines at most every interval otherwise (logs, CI, pipes). Failures are
// printed as they happen.
type progressPrinter struct {
	out      io.Writer
	interval time.Duration

	mu                  sync.Mutex
	bar                 *progressbar.ProgressBar // nil when not a terminal
	tty                 bool
	total, done, failed int
	copied, skipped     int64
	last                time.Time
}

func newProgressPrinter(out io.Writer) *progressPrinter {
	return &progressPrinter{out: out, interval: 5 * time.Second, tty: isTerminal(out), last: time.Now()}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *progressPrinter) Planned(objects int, fileBytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = objects
	fmt.Fprintf(p.out, "found %d object(s): %s of section files, plus layouts\n", objects, humanBytes(fileBytes))
	if p.tty && objects > 0 {
		p.bar = progressbar.NewOptions(objects,
			progressbar.OptionSetWriter(p.out),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("obj"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetDescription("starting"),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.out) }),
		)
	}
}

func (p *progressPrinter) Done(ev migrate.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	switch ev.Outcome {
	case migrate.Copied:
		p.copied += max(ev.Size, 0)
	case migrate.Skipped:
		p.skipped += max(ev.Size, 0)
	case migrate.Failed:
		p.failed++
		if p.bar != nil {
			p.bar.Clear() //nolint:errcheck // cosmetic
		}
		fmt.Fprintf(p.out, "FAILED %s: %v\n", ev.Key, ev.Err)
	}
	if p.bar != nil {
		desc := fmt.Sprintf("%s copied, %s skipped, %d failed", humanBytes(p.copied), humanBytes(p.skipped), p.failed)
		// Describe redraws at once: after Add, so the count shown is never
		// one behind, except for the last object, whose Add completes the
		// bar (and a redraw after that would print it twice).
		if p.done < p.total {
			p.bar.Add(1) //nolint:errcheck // cosmetic
			p.bar.Describe(desc)
		} else {
			p.bar.Describe(desc)
			p.bar.Add(1) //nolint:errcheck // cosmetic
		}
		return
	}
	if now := time.Now(); now.Sub(p.last) >= p.interval && p.done < p.total {
		p.last = now
		fmt.Fprintf(p.out, "progress: %d/%d objects (%d%%), %s copied, %s skipped, %d failed\n",
			p.done, p.total, p.done*100/max(p.total, 1), humanBytes(p.copied), humanBytes(p.skipped), p.failed)
	}
}

// close ends the bar (left as it is when the run was cut short).
func (p *progressPrinter) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil && !p.bar.IsFinished() {
		p.bar.Exit() //nolint:errcheck // cosmetic
	}
}

func printSummary(out io.Writer, rep *migrate.Report) {
	verb := "copied"
	if rep.DryRun {
		verb = "to copy"
	}
	status := "done"
	switch {
	case rep.Interrupted:
		status = "INTERRUPTED"
	case len(rep.Failed) > 0:
		status = "FINISHED WITH FAILURES"
	}
	fmt.Fprintf(out, "%s in %.1fs: %d section(s) (%d without files), %d section file(s), %d layout(s)\n",
		status, rep.DurationSeconds, rep.Sections, rep.EmptySections, rep.Files.Total, rep.Layouts.Total)
	t := rep.Total
	fmt.Fprintf(out, "  %-8s %6d  %s\n", verb, t.Copied, humanBytes(t.CopiedBytes))
	fmt.Fprintf(out, "  %-8s %6d  %s (already present and identical)\n", "skipped", t.Skipped, humanBytes(t.SkippedBytes))
	fmt.Fprintf(out, "  %-8s %6d\n", "failed", len(rep.Failed))
	if t.Pending > 0 {
		fmt.Fprintf(out, "  %-8s %6d  (run the command again to finish)\n", "pending", t.Pending)
	}
	if n := len(rep.UnreferencedSections); n > 0 {
		fmt.Fprintf(out, "note: %d section folder(s) on the source belong to no section in the database and were not copied (listed in the report)\n", n)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(out, "warning: %s\n", w)
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// --- storage check ---

// probeSection is reserved for the probe: a valid section id that the
// services never generate (uuid4 ids have version nibble 4).
const (
	probeSection = "00000000000000000000000000000000"
	probeFile    = "description.md"
	probeSize    = 64 << 10
)

func storageCheck(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("storage check", "Write, read back, list and delete a probe file (section "+probeSection+") on the\nstorage STORAGE_TYPE configures, reporting each step's latency, and the free\ndisk space of the local folders where there are any.", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	b, err := storage.New(ctx, storageOptions(cfg))
	if err != nil {
		return fmt.Errorf("open storage: %w", err)
	}
	if c, ok := b.(io.Closer); ok {
		defer c.Close()
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return checkBackend(ctx, b, out)
}

// checkBackend runs the probe steps. Every step runs even after a failure
// (the delete above all, so the probe never stays behind).
func checkBackend(ctx context.Context, b storage.Backend, out io.Writer) error {
	fmt.Fprintf(out, "backend: %s\n", b.Name())
	payload := make([]byte, probeSize)
	rand.Read(payload) //nolint:errcheck // crypto/rand does not fail on supported platforms
	want := sha256.Sum256(payload)

	var failed []string
	step := func(name string, fn func() (string, error)) {
		start := time.Now()
		detail, err := fn()
		took := time.Since(start).Round(10 * time.Microsecond)
		if err != nil {
			failed = append(failed, name)
			fmt.Fprintf(out, "  %-7s FAILED %9s  %v\n", name, took, err)
			return
		}
		fmt.Fprintf(out, "  %-7s ok     %9s  %s\n", name, took, detail)
	}
	step("write", func() (string, error) {
		err := b.PutFile(ctx, probeSection, probeFile, bytes.NewReader(payload))
		return fmt.Sprintf("%d bytes", len(payload)), err
	})
	step("read", func() (string, error) {
		rc, _, err := b.Open(ctx, probeSection, probeFile)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		h := sha256.New()
		n, err := io.Copy(h, rc)
		if err != nil {
			return "", err
		}
		if n != probeSize || !bytes.Equal(h.Sum(nil), want[:]) {
			return "", fmt.Errorf("read back %d bytes that differ from those written", n)
		}
		return "content matches (SHA-256)", nil
	})
	step("list", func() (string, error) {
		files, err := b.List(ctx, probeSection)
		if err != nil {
			return "", err
		}
		if i := slices.IndexFunc(files, func(f storage.Info) bool { return f.Name == probeFile }); i < 0 || files[i].Size != probeSize {
			return "", fmt.Errorf("probe not listed as written (listed: %v)", files)
		}
		return "probe listed", nil
	})
	step("delete", func() (string, error) {
		if err := b.DeleteSection(ctx, probeSection); err != nil {
			return "", err
		}
		if _, err := b.Stat(ctx, probeSection, probeFile); !itss.IsCode(err, itss.CodeNotFound) {
			return "", fmt.Errorf("probe still readable after delete (%v)", err)
		}
		return "probe gone", nil
	})

	if err := b.Health(ctx); errors.Is(err, storage.ErrDegraded) {
		fmt.Fprintf(out, "health: %v\n", err)
	}
	type spacer interface {
		DiskSpace() ([]storage.DiskSpace, error)
	}
	if sp, ok := b.(spacer); ok {
		spaces, err := sp.DiskSpace()
		for _, s := range spaces {
			fmt.Fprintf(out, "free space (%s folder): %s of %s (%.0f%% free)\n",
				s.Root, humanBytes(int64(s.Free)), humanBytes(int64(s.Total)), 100*float64(s.Free)/float64(max(s.Total, 1)))
		}
		if err != nil {
			fmt.Fprintf(out, "free space: %v\n", err)
		}
	}
	if b.Name() != "local" {
		fmt.Fprintln(out, "free space (S3): not reported by S3")
	}
	if len(failed) > 0 {
		return fmt.Errorf("storage check failed: %s", strings.Join(failed, ", "))
	}
	fmt.Fprintln(out, "storage check passed")
	return nil
}

// --- storage sync ---

func storageSync(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("storage sync", "With STORAGE_TYPE=auto, push every section and layout that was kept on local\ndisk while S3 was failing to S3, then remove the local copies. Stops at the\nfirst failure; running it again continues.", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	if cfg.Storage.Type != "auto" {
		return fmt.Errorf("%w: storage sync applies to STORAGE_TYPE=auto only (it is %s)", errUsage, cfg.Storage.Type)
	}
	b, err := storage.New(ctx, storageOptions(cfg))
	if err != nil {
		return fmt.Errorf("open storage: %w", err)
	}
	a, ok := b.(*storage.Auto)
	if !ok {
		return fmt.Errorf("storage sync: unexpected backend %s", b.Name())
	}
	defer a.Close()
	n, err := a.Sync(ctx)
	fmt.Fprintf(out, "%d local copy(ies) pushed to S3\n", n)
	return err
}
