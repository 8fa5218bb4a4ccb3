package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/itss-go/itss/internal/itss"
)

// Local keeps files on disk in the original's folder layout. Every path is
// opened through an os.Root, so neither a ".." that slipped past validation
// nor a symlink planted in the tree can reach a file outside the roots.
//
// Writes are atomic: a temp file in the destination folder, fsync, rename.
// A Stage writes a hidden sibling folder (".staging-<id>-<token>") inside the
// recordings root and commits by two renames: the live folder aside to
// ".trash-<id>-<token>", the staging folder into its place. If the process
// dies between the two, NewLocal puts the old folder back. A deleted section
// is renamed to ".deleted-<id>-<token>" before its removal, which NewLocal
// finishes rather than undoes.
type Local struct {
	rec, lay *os.Root
	log      *slog.Logger
	locks    keyLocks
}

// Hidden names inside the recordings root. None is a valid section id or
// file name, so they are never listed, served or confused with data.
const (
	stagingPrefix  = ".staging-"
	trashPrefix    = ".trash-"
	deletedPrefix  = ".deleted-"
	tmpPrefix      = ".tmp-"
	spoolDir       = ".spool"    // auto: tee copies of uploads in flight
	completeMarker = ".complete" // auto: this local folder is the section's whole set
	staleAfter     = 24 * time.Hour
)

// NewLocal opens (creating if needed) the recordings and layouts roots and
// repairs what an interrupted commit may have left.
func NewLocal(o Options) (*Local, error) {
	recPath, layPath := o.RecordingsPath, o.LayoutsPath
	if recPath == "" {
		recPath = "storage/recordings"
	}
	if layPath == "" {
		layPath = "storage/layouts"
	}
	rec, err := openRoot(recPath)
	if err != nil {
		return nil, err
	}
	lay, err := openRoot(layPath)
	if err != nil {
		rec.Close()
		return nil, err
	}
	l := &Local{rec: rec, lay: lay, log: logger(o.Logger)}
	l.repair()
	return l, nil
}

func openRoot(p string) (*os.Root, error) {
	if err := os.MkdirAll(p, 0o755); err != nil {
		return nil, fmt.Errorf("storage: create root: %w", err)
	}
	r, err := os.OpenRoot(p)
	if err != nil {
		return nil, fmt.Errorf("storage: open root: %w", err)
	}
	return r, nil
}

// Close releases the roots' directory handles.
func (l *Local) Close() error { return errors.Join(l.rec.Close(), l.lay.Close()) }

func (l *Local) Name() string { return "local" }

func (l *Local) PutFile(ctx context.Context, sectionID, name string, r io.Reader) error {
	key, err := fileKey(sectionID, name)
	if err != nil {
		return err
	}
	unlock := l.locks.lock(sectionID)
	defer unlock()
	if err := mkdirAll(l.rec, sectionID); err != nil {
		return localErr("put "+key, err)
	}
	return writeAtomic(ctx, l.rec, sectionID, key, r)
}

func (l *Local) Open(ctx context.Context, sectionID, name string) (io.ReadCloser, Info, error) {
	f, err := l.LocalFile(ctx, sectionID, name)
	if err != nil {
		return nil, Info{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Info{}, localErr("stat", err)
	}
	return f, Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

func (l *Local) LocalFile(_ context.Context, sectionID, name string) (*os.File, error) {
	key, err := fileKey(sectionID, name)
	if err != nil {
		return nil, err
	}
	return openRegular(l.rec, key)
}

func (l *Local) ReadFile(ctx context.Context, sectionID, name string) ([]byte, error) {
	f, err := l.LocalFile(ctx, sectionID, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, localErr("read", err)
	}
	return b, nil
}

func (l *Local) Stat(_ context.Context, sectionID, name string) (Info, error) {
	key, err := fileKey(sectionID, name)
	if err != nil {
		return Info{}, err
	}
	return statRegular(l.rec, key, name, "stat")
}

// statRegular describes the regular file at key under root as name; anything
// else there (a folder, a link) is NotFound.
func statRegular(root *os.Root, key, name, op string) (Info, error) {
	fi, err := root.Stat(key)
	if err != nil {
		return Info{}, localErr(op, err)
	}
	if !fi.Mode().IsRegular() {
		return Info{}, errNotFound(fmt.Errorf("%s is not a regular file", key))
	}
	return Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

func (l *Local) List(_ context.Context, sectionID string) ([]Info, error) {
	if err := checkSection(sectionID); err != nil {
		return nil, err
	}
	return listDir(l.rec, sectionID)
}

// listDir lists the allow-listed regular files of dir; a missing dir is an
// empty section, as the original treated it.
func listDir(root *os.Root, dir string) ([]Info, error) {
	f, err := root.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return []Info{}, nil
		}
		return nil, localErr("list", err)
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		if errors.Is(err, syscall.ENOTDIR) {
			return []Info{}, nil
		}
		return nil, localErr("list", err)
	}
	out := make([]Info, 0, len(entries))
	for _, e := range entries {
		if !ValidFileName(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed while listing
		}
		out = append(out, Info{Name: e.Name(), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (l *Local) DeleteSection(_ context.Context, sectionID string) error {
	if err := checkSection(sectionID); err != nil {
		return err
	}
	unlock := l.locks.lock(sectionID)
	defer unlock()
	// Rename first so the section disappears at once; the slow recursive
	// removal then works on a folder nobody reads.
	// Not the commit's trash prefix: a leftover of a delete must never be
	// restored as a commit's previous set would be.
	trash := deletedPrefix + sectionID + "-" + token()
	if err := l.rec.Rename(sectionID, trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return localErr("delete", err)
	}
	syncDir(l.rec, ".")
	if err := removeTree(l.rec, trash); err != nil {
		l.log.Warn("storage: leftover of a deleted section, removed at next start", "section", sectionID, "err", err)
	}
	return nil
}

// removeTree removes a folder taken out of the tree; tests replace it to
// leave the folder behind, as a crash would.
var removeTree = (*os.Root).RemoveAll

func (l *Local) CopySection(ctx context.Context, fromID, toID string) error {
	return copySection(ctx, l, fromID, toID)
}

func (l *Local) Stage(_ context.Context, sectionID string) (Stage, error) {
	return l.stage(sectionID)
}

func (l *Local) stage(sectionID string) (*localStage, error) {
	if err := checkSection(sectionID); err != nil {
		return nil, err
	}
	for range 3 {
		dir := stagingPrefix + sectionID + "-" + token()
		err := l.rec.Mkdir(dir, 0o755)
		if err == nil {
			return &localStage{l: l, sec: sectionID, dir: dir}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, localErr("stage", err)
		}
	}
	return nil, errors.New("storage: could not create a staging folder")
}

func (l *Local) PutLayout(ctx context.Context, userID int64, tutorialID, role string, data []byte) error {
	key, err := layoutKey(userID, tutorialID, role)
	if err != nil {
		return err
	}
	unlock := l.locks.lock("layout/" + key)
	defer unlock()
	dir := path.Dir(key)
	if err := mkdirAll(l.lay, dir); err != nil {
		return localErr("put layout", err)
	}
	return writeAtomic(ctx, l.lay, dir, key, bytes.NewReader(data))
}

func (l *Local) GetLayout(_ context.Context, userID int64, tutorialID, role string) ([]byte, error) {
	key, err := layoutKey(userID, tutorialID, role)
	if err != nil {
		return nil, err
	}
	f, err := openRegular(l.lay, key)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, localErr("read layout", err)
	}
	if len(b) == 0 {
		// The original's save wrote empty files; they hold no layout.
		return nil, errNotFound(errors.New("empty layout file"))
	}
	return b, nil
}

// PresignURL is always "" for local files: the caller signs its own
// /api/files URL (A8) and serves LocalFile.
func (l *Local) PresignURL(_ context.Context, sectionID, name string, _ time.Duration) (string, error) {
	if _, err := fileKey(sectionID, name); err != nil {
		return "", err
	}
	return "", nil
}

// Health writes and removes a temp file in each root: a read-only or full
// disk shows here rather than at the next upload.
func (l *Local) Health(_ context.Context) error {
	for _, r := range []*os.Root{l.rec, l.lay} {
		p, err := newPending(r, ".", "")
		if err != nil {
			return errUnavailable(fmt.Errorf("storage root not writable: %w", err))
		}
		p.abort()
	}
	return nil
}

// Info reports sizes like the original's /api/storage/info, without paths.
func (l *Local) Info(ctx context.Context) map[string]any {
	rec := treeSize(ctx, l.rec)
	lay := treeSize(ctx, l.lay)
	return map[string]any{
		"backend_type":          "local",
		"recordings_size_bytes": rec,
		"layouts_size_bytes":    lay,
		"total_size_mb":         math.Round(float64(rec+lay)/(1<<20)*100) / 100,
	}
}

func treeSize(ctx context.Context, r *os.Root) int64 {
	var n int64
	fs.WalkDir(r.FS(), ".", func(_ string, d fs.DirEntry, err error) error { //nolint:errcheck // best-effort figure
		if err != nil {
			return nil
		}
		if ctx.Err() != nil {
			return fs.SkipAll
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// repair finishes what a crash left in the recordings root: a section folder
// moved aside by a commit that never put the new one in place is restored;
// the folders of deleted sections, leftover trash, staging folders and spool
// files are removed. Staging and spool entries are kept for a day in case
// another process sharing the folder is still writing them.
func (l *Local) repair() {
	f, err := l.rec.Open(".")
	if err != nil {
		return
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, trashPrefix):
			sec := strings.TrimPrefix(name, trashPrefix)
			if len(sec) > 17 {
				sec = sec[:len(sec)-17] // "-" + 16-hex token
			}
			if ValidSectionID(sec) {
				if _, err := l.rec.Lstat(sec); errors.Is(err, fs.ErrNotExist) {
					if err := l.rec.Rename(name, sec); err == nil {
						l.log.Warn("storage: restored a section folder left aside by an interrupted commit", "section", sec)
						continue
					}
				}
			}
			l.rec.RemoveAll(name) //nolint:errcheck // retried at next start
		case strings.HasPrefix(name, deletedPrefix):
			l.rec.RemoveAll(name) //nolint:errcheck // retried at next start
		case strings.HasPrefix(name, stagingPrefix) || strings.HasPrefix(name, tmpPrefix):
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleAfter {
				l.rec.RemoveAll(name) //nolint:errcheck // retried at next start
			}
		case name == spoolDir:
			l.removeStale(spoolDir)
		}
	}
}

func (l *Local) removeStale(dir string) {
	f, err := l.rec.Open(dir)
	if err != nil {
		return
	}
	entries, _ := f.ReadDir(-1)
	f.Close()
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleAfter {
			l.rec.Remove(path.Join(dir, e.Name())) //nolint:errcheck // retried at next start
		}
	}
}

// swapIn replaces the live folder of sectionID with dir (a staging folder)
// by two renames. The caller holds the section lock.
func (l *Local) swapIn(dir, sectionID string) error {
	trash := trashPrefix + sectionID + "-" + token()
	hadOld := true
	if err := l.rec.Rename(sectionID, trash); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return localErr("commit", err)
		}
		hadOld = false
	}
	if err := l.rec.Rename(dir, sectionID); err != nil {
		if hadOld {
			if rerr := l.rec.Rename(trash, sectionID); rerr != nil {
				l.log.Error("storage: previous section files left aside; restored at next start", "section", sectionID, "err", rerr)
			}
		}
		return localErr("commit", err)
	}
	syncDir(l.rec, ".")
	if hadOld {
		if err := l.rec.RemoveAll(trash); err != nil {
			l.log.Warn("storage: leftover of a replaced section, removed at next start", "section", sectionID, "err", err)
		}
	}
	return nil
}

// localStage is a Stage on disk: a hidden folder beside the live ones.
type localStage struct {
	l        *Local
	sec, dir string
	mu       sync.Mutex
	done     bool
}

// create opens a pending file in the staging folder; the caller writes and
// commits it (auto uses this to tee an upload to disk while sending it to S3).
func (s *localStage) create(name string) (*pendingFile, error) {
	if !ValidFileName(name) && name != completeMarker {
		return nil, itss.Errorf(itss.CodeInvalid, "Invalid file name")
	}
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done {
		return nil, errStageDone
	}
	p, err := newPending(s.l.rec, s.dir, path.Join(s.dir, name))
	if err != nil {
		return nil, localErr("stage put", err)
	}
	return p, nil
}

func (s *localStage) Put(ctx context.Context, name string, r io.Reader) error {
	if !ValidFileName(name) {
		return itss.Errorf(itss.CodeInvalid, "Invalid file name")
	}
	p, err := s.create(name)
	if err != nil {
		return err
	}
	if _, err := io.Copy(p, ctxReader{ctx, r}); err != nil {
		p.abort()
		return fmt.Errorf("storage: stage %s: %w", name, err)
	}
	if err := p.commit(); err != nil {
		return localErr("stage "+name, err)
	}
	return nil
}

// putMarker records that this set is the section's complete file set (auto).
func (s *localStage) putMarker() error {
	p, err := s.create(completeMarker)
	if err != nil {
		return err
	}
	return p.commit()
}

func (s *localStage) Commit(_ context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return errStageDone
	}
	s.done = true
	unlock := s.l.locks.lock(s.sec)
	defer unlock()
	if err := s.l.swapIn(s.dir, s.sec); err != nil {
		s.l.rec.RemoveAll(s.dir) //nolint:errcheck // stale staging is removed at next start
		return err
	}
	return nil
}

func (s *localStage) Abort(_ context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return nil
	}
	s.done = true
	if err := s.l.rec.RemoveAll(s.dir); err != nil {
		return localErr("abort", err)
	}
	return nil
}

// pendingFile is a temp file that becomes dst by one rename on commit.
type pendingFile struct {
	root     *os.Root
	f        *os.File
	tmp, dst string
}

func newPending(root *os.Root, dir, dst string) (*pendingFile, error) {
	for range 3 {
		tmp := path.Join(dir, tmpPrefix+token())
		f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			return &pendingFile{root: root, f: f, tmp: tmp, dst: dst}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	return nil, errors.New("storage: could not create a temporary file")
}

func (p *pendingFile) Write(b []byte) (int, error) { return p.f.Write(b) }

// ReadFrom lets io.Copy hand the source to the file, which uses
// copy_file_range/splice when the source is a file or socket.
func (p *pendingFile) ReadFrom(r io.Reader) (int64, error) { return p.f.ReadFrom(r) }

// commit makes the content durable before it becomes visible, so a crash
// never leaves a named file with missing content.
func (p *pendingFile) commit() error {
	if err := p.f.Sync(); err != nil {
		p.abort()
		return err
	}
	if err := p.f.Close(); err != nil {
		p.root.Remove(p.tmp) //nolint:errcheck // best effort
		return err
	}
	if err := p.root.Rename(p.tmp, p.dst); err != nil {
		p.root.Remove(p.tmp) //nolint:errcheck // best effort
		return err
	}
	syncDir(p.root, path.Dir(p.dst))
	return nil
}

func (p *pendingFile) abort() {
	p.f.Close()
	p.root.Remove(p.tmp) //nolint:errcheck // best effort
}

func writeAtomic(ctx context.Context, root *os.Root, dir, dst string, r io.Reader) error {
	p, err := newPending(root, dir, dst)
	if err != nil {
		return localErr("create temp", err)
	}
	if _, err := io.Copy(p, ctxReader{ctx, r}); err != nil {
		p.abort()
		return fmt.Errorf("storage: write %s: %w", dst, err)
	}
	if err := p.commit(); err != nil {
		return localErr("write "+dst, err)
	}
	return nil
}

// mkdirAll creates dir and any missing parents under root, like
// os.Root.MkdirAll, and syncs the folder holding each one it creates: a file
// later committed inside survives a crash only if its folder's entry does.
func mkdirAll(root *os.Root, dir string) error {
	fi, err := root.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err // e.g. a symlink leading out of the root
	}
	parent := path.Dir(dir)
	if parent != "." {
		if err := mkdirAll(root, parent); err != nil {
			return err
		}
	}
	err = root.Mkdir(dir, 0o755)
	if err == nil {
		syncDir(root, parent)
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		// Created meanwhile by another writer is fine; a file or a
		// dangling symlink in the way keeps the error.
		if fi, serr := root.Stat(dir); serr == nil && fi.IsDir() {
			return nil
		}
	}
	return err
}

// syncDir persists a rename or a new entry in dir; tests replace it to see
// which folders are synced.
var syncDir = fsyncDir

// fsyncDir is syncDir. Some filesystems refuse fsync on directories; the
// rename itself has happened either way, so errors are ignored.
func fsyncDir(root *os.Root, dir string) {
	if d, err := root.Open(dir); err == nil {
		d.Sync() //nolint:errcheck // see above
		d.Close()
	}
}

func openRegular(root *os.Root, key string) (*os.File, error) {
	f, err := root.Open(key)
	if err != nil {
		return nil, localErr("open", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, localErr("stat", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, errNotFound(fmt.Errorf("%s is not a regular file", key))
	}
	return f, nil
}

// localErr classifies filesystem errors: missing → NotFound, an attempt to
// leave the root (a planted symlink) → Invalid, anything else stays internal.
func localErr(op string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return errNotFound(err)
	case isEscape(err), errors.Is(err, syscall.ELOOP):
		return itss.Wrap(itss.CodeInvalid, err, "Invalid storage path")
	}
	return fmt.Errorf("storage: %s: %w", op, err)
}

// isEscape recognises os.Root's refusal to follow a path out of the root.
// The error value is unexported, so its fixed text is matched.
func isEscape(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "path escapes from parent" {
			return true
		}
	}
	return false
}

// --- helpers for auto (the local fallback) ---

// sectionState reports whether a local folder exists for the section and
// whether it carries the complete-set marker.
func (l *Local) sectionState(sectionID string) (exists, complete bool, err error) {
	fi, err := l.rec.Lstat(sectionID)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, false, nil
		}
		return false, false, localErr("stat", err)
	}
	if !fi.IsDir() {
		return false, false, nil
	}
	if _, err := l.rec.Lstat(path.Join(sectionID, completeMarker)); err == nil {
		return true, true, nil
	}
	return true, false, nil
}

// sections lists the section folders in the recordings root.
func (l *Local) sections() ([]string, error) {
	f, err := l.rec.Open(".")
	if err != nil {
		return nil, localErr("list", err)
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, localErr("list", err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && ValidSectionID(e.Name()) {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// layouts lists the layout files in the layouts root that a request can
// reach, as ListLayouts does: a folder such as "007" for user 7 is never read
// or written under that name, so it could never be synced either.
func (l *Local) layouts() ([]LayoutKey, error) {
	return l.ListLayouts(context.Background())
}

func (l *Local) deleteLayout(userID int64, tutorialID, role string) error {
	key, err := layoutKey(userID, tutorialID, role)
	if err != nil {
		return err
	}
	if err := l.lay.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return localErr("delete layout", err)
	}
	return nil
}
