package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/itss-go/itss/internal/itss"
)

// Auto stores in S3 and falls back to local disk when S3 fails.
//
// Invariant: a local copy of a section or layout exists only when it is
// newer than what S3 holds. It is created only by a write that S3 refused,
// and removed by the next write that S3 accepts.
//
// Writes:
//   - PutFile first pushes any local copy of the section to S3 ("heal"), then
//     streams the body to S3 while teeing it into a spool file on disk. If S3
//     fails mid-way, the rest of the body goes to the spool and the spool
//     becomes the local copy of that file. If S3 fails before (heal failed),
//     the file is written locally. A write that reached neither is an error.
//   - A Stage tees every Put into a local staging folder as well. Commit
//     heals as PutFile does, then commits on S3; if S3 failed at any point,
//     the local staging folder is committed instead, marked complete.
//   - DeleteSection deletes on S3 and locally; if S3 fails, the local folder
//     is replaced by an empty one marked complete (a tombstone).
//   - PutLayout writes S3 and removes the local copy; if S3 fails, locally.
//
// Reads look local first, then S3. Because a local copy is always the newer
// one, reading it first never returns stale data, and reading S3 first would.
// A section's local folder overrides S3 file by file, unless it is marked
// complete (written by a Stage commit or a delete), in which case it is the
// whole section and S3 is not consulted: files the new set dropped stay gone.
//
// Every fallback is logged at warn level, and Health/Info report the backend
// as degraded while S3 is unreachable or local copies are pending. Sync (or
// the next successful write of each section) pushes local copies to S3.
//
// Fallback copies live on one host: auto suits a single server, or servers
// sharing the local roots (NFS). Replicas with separate disks should use s3.
type Auto struct {
	s3    *S3
	local *Local
	log   *slog.Logger
	locks keyLocks

	mu       sync.Mutex
	lastFail time.Time
	lastOp   string
}

// NewAuto combines s (primary) and l (fallback).
func NewAuto(s *S3, l *Local, log *slog.Logger) *Auto {
	return &Auto{s3: s, local: l, log: logger(log)}
}

func (a *Auto) Name() string { return "auto" }

// Close releases the local roots.
func (a *Auto) Close() error { return a.local.Close() }

func (a *Auto) fellBack(op, key string, cause error) {
	a.mu.Lock()
	a.lastFail, a.lastOp = time.Now().UTC(), op
	a.mu.Unlock()
	a.log.Warn("storage: S3 write failed, kept on local disk until S3 is back", "op", op, "key", key, "err", cause)
}

// heal pushes the section's local copy to S3 and removes it, so S3 is
// current before it is written again. The caller holds the section lock.
func (a *Auto) heal(ctx context.Context, sectionID string) error {
	exists, complete, err := a.local.sectionState(sectionID)
	if err != nil || !exists {
		return err
	}
	files, err := a.local.List(ctx, sectionID)
	if err != nil {
		return err
	}
	if complete {
		keep := make(map[string]bool, len(files))
		for _, f := range files {
			keep[sectionID+"/"+f.Name] = true
		}
		if err := a.s3.deleteExcept(ctx, sectionID, keep); err != nil {
			return err
		}
	}
	for _, f := range files {
		rc, _, err := a.local.Open(ctx, sectionID, f.Name)
		if err != nil {
			return err
		}
		err = a.s3.PutFile(ctx, sectionID, f.Name, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	if err := a.local.DeleteSection(ctx, sectionID); err != nil {
		return err
	}
	a.log.Info("storage: local copy of a section pushed to S3", "section", sectionID, "files", len(files))
	return nil
}

func (a *Auto) PutFile(ctx context.Context, sectionID, name string, r io.Reader) error {
	key, err := fileKey(sectionID, name)
	if err != nil {
		return err
	}
	unlock := a.locks.lock(sectionID)
	defer unlock()

	if herr := a.heal(ctx, sectionID); herr != nil {
		// The local copy stays authoritative; this file joins it.
		if err := a.local.PutFile(ctx, sectionID, name, r); err != nil {
			return fmt.Errorf("storage: write reached neither S3 (%v) nor local disk: %w", herr, err)
		}
		a.fellBack("put", key, herr)
		return nil
	}

	if err := a.local.rec.MkdirAll(spoolDir, 0o755); err != nil {
		// No spool, no fallback: S3 alone decides.
		a.log.Warn("storage: local fallback unusable", "err", err)
		return a.s3.PutFile(ctx, sectionID, name, r)
	}
	spool, err := newPending(a.local.rec, spoolDir, key)
	if err != nil {
		a.log.Warn("storage: local fallback unusable", "err", err)
		return a.s3.PutFile(ctx, sectionID, name, r)
	}
	_, s3err, err := tee(ctx, spool, r, func(tr io.Reader) error { return a.s3.PutFile(ctx, sectionID, name, tr) })
	if err != nil {
		return err
	}
	if s3err == nil {
		spool.abort() // S3 has it; no local copy must remain
		return nil
	}
	if err := mkdirAll(a.local.rec, sectionID); err != nil {
		spool.abort()
		return fmt.Errorf("storage: write reached neither S3 (%v) nor local disk: %w", s3err, localErr("mkdir", err))
	}
	if err := spool.commit(); err != nil {
		return fmt.Errorf("storage: write reached neither S3 (%v) nor local disk: %w", s3err, localErr("commit", err))
	}
	a.fellBack("put", key, s3err)
	return nil
}

// tee runs put on r while copying every byte read into spool. When put
// succeeded, s3err is nil and spool holds the body if the copy kept up
// (spoolOK). When put failed, with err == nil, the rest of r has been copied
// and spool holds the whole body, ready to commit. err != nil means neither
// can have it (the caller's stream broke, or the spool failed too); spool is
// then already discarded.
func tee(ctx context.Context, spool *pendingFile, r io.Reader, put func(io.Reader) error) (spoolOK bool, s3err, err error) {
	w := &bestEffortWriter{w: spool}
	s3err = put(io.TeeReader(r, w))
	if s3err == nil {
		return w.err == nil, nil, nil
	}
	if isSourceError(s3err) || errors.Is(s3err, context.Canceled) {
		spool.abort()
		return false, s3err, s3err
	}
	if w.err != nil {
		spool.abort()
		return false, s3err, fmt.Errorf("storage: write reached neither S3 (%v) nor local disk: %w", s3err, w.err)
	}
	// S3 stopped reading part-way; the spool has everything read so far.
	if _, err := io.Copy(spool, ctxReader{ctx, r}); err != nil {
		spool.abort()
		return false, s3err, fmt.Errorf("storage: write reached neither S3 (%v) nor local disk: %w", s3err, err)
	}
	return true, s3err, nil
}

// bestEffortWriter never fails its writer: a full local disk must not break
// an S3 upload that would succeed. The first error is kept for the caller.
type bestEffortWriter struct {
	w   io.Writer
	err error
}

func (b *bestEffortWriter) Write(p []byte) (int, error) {
	if b.err == nil {
		_, b.err = b.w.Write(p)
	}
	return len(p), nil
}

func (a *Auto) Open(ctx context.Context, sectionID, name string) (io.ReadCloser, Info, error) {
	rc, info, err := a.local.Open(ctx, sectionID, name)
	if err == nil || !a.tryS3(sectionID, err) {
		return rc, info, err
	}
	return a.s3.Open(ctx, sectionID, name)
}

// tryS3 decides, after a local read failed with err, whether S3 may hold the
// file: only when the file is simply absent locally and the section's local
// folder (if any) is not a complete set.
func (a *Auto) tryS3(sectionID string, err error) bool {
	if !itss.IsCode(err, itss.CodeNotFound) {
		return false
	}
	_, complete, serr := a.local.sectionState(sectionID)
	return serr == nil && !complete
}

func (a *Auto) ReadFile(ctx context.Context, sectionID, name string) ([]byte, error) {
	b, err := a.local.ReadFile(ctx, sectionID, name)
	if err == nil || !a.tryS3(sectionID, err) {
		return b, err
	}
	return a.s3.ReadFile(ctx, sectionID, name)
}

func (a *Auto) Stat(ctx context.Context, sectionID, name string) (Info, error) {
	info, err := a.local.Stat(ctx, sectionID, name)
	if err == nil || !a.tryS3(sectionID, err) {
		return info, err
	}
	return a.s3.Stat(ctx, sectionID, name)
}

func (a *Auto) List(ctx context.Context, sectionID string) ([]Info, error) {
	if err := checkSection(sectionID); err != nil {
		return nil, err
	}
	_, complete, err := a.local.sectionState(sectionID)
	if err != nil {
		return nil, err
	}
	local, err := a.local.List(ctx, sectionID)
	if err != nil || complete {
		return local, err
	}
	remote, err := a.s3.List(ctx, sectionID)
	if err != nil {
		return nil, err
	}
	merged := make(map[string]Info, len(local)+len(remote))
	for _, f := range remote {
		merged[f.Name] = f
	}
	for _, f := range local {
		merged[f.Name] = f // the local copy is the newer one
	}
	out := slices.AppendSeq(make([]Info, 0, len(merged)), maps.Values(merged))
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (a *Auto) DeleteSection(ctx context.Context, sectionID string) error {
	if err := checkSection(sectionID); err != nil {
		return err
	}
	unlock := a.locks.lock(sectionID)
	defer unlock()
	s3err := a.s3.DeleteSection(ctx, sectionID)
	if s3err == nil {
		return a.local.DeleteSection(ctx, sectionID)
	}
	// Leave a tombstone so the files still on S3 are not served.
	st, err := a.local.stage(sectionID)
	if err == nil {
		if err = st.putMarker(); err == nil {
			err = st.Commit(ctx)
		} else {
			st.Abort(ctx) //nolint:errcheck // best effort
		}
	}
	if err != nil {
		return fmt.Errorf("storage: delete reached neither S3 (%v) nor local disk: %w", s3err, err)
	}
	a.fellBack("delete", sectionID, s3err)
	return nil
}

// CopySection streams through a Stage of the target, so the copy follows
// the same fallback rules as an upload.
func (a *Auto) CopySection(ctx context.Context, fromID, toID string) error {
	return copySection(ctx, a, fromID, toID)
}

func (a *Auto) Stage(_ context.Context, sectionID string) (Stage, error) {
	if err := checkSection(sectionID); err != nil {
		return nil, err
	}
	rs, err := a.s3.stage(sectionID)
	if err != nil {
		return nil, err
	}
	ls, err := a.local.stage(sectionID)
	if err != nil {
		a.log.Warn("storage: local fallback unusable, staging on S3 only", "err", err)
		return rs, nil
	}
	return &autoStage{a: a, sec: sectionID, remote: rs, local: ls}, nil
}

// autoStage stages on S3 and, as the fallback, in a local staging folder.
type autoStage struct {
	a      *Auto
	sec    string
	remote *s3Stage
	local  *localStage

	mu       sync.Mutex
	s3err    error // first S3 failure; after it, Puts go to disk only
	localErr error // first local failure; after it, the fallback is incomplete
}

func (st *autoStage) Put(ctx context.Context, name string, r io.Reader) error {
	if !ValidFileName(name) {
		return itss.Errorf(itss.CodeInvalid, "Invalid file name")
	}
	p, perr := st.local.create(name)
	if errors.Is(perr, errStageDone) {
		return perr
	}
	st.mu.Lock()
	if perr != nil && st.localErr == nil {
		st.localErr = perr
	}
	s3err := st.s3err
	st.mu.Unlock()
	if perr != nil {
		if s3err != nil || itss.IsCode(perr, itss.CodeInvalid) {
			return fmt.Errorf("storage: write reached neither S3 (%v) nor local disk: %w", s3err, perr)
		}
		// No fallback for this stage any more; S3 alone decides.
		st.a.log.Warn("storage: local fallback unusable, staging on S3 only", "section", st.sec, "err", perr)
		return st.remote.Put(ctx, name, r)
	}
	if s3err != nil {
		if _, err := io.Copy(p, ctxReader{ctx, r}); err != nil {
			p.abort()
			return fmt.Errorf("storage: stage %s: %w", name, err)
		}
	} else {
		var err error
		var spoolOK bool
		spoolOK, s3err, err = tee(ctx, p, r, func(tr io.Reader) error { return st.remote.Put(ctx, name, tr) })
		if err != nil {
			return err
		}
		if !spoolOK {
			// S3 has the file but the fallback copy is incomplete: the
			// fallback can no longer stand in for this stage.
			p.abort()
			st.mu.Lock()
			if st.localErr == nil {
				st.localErr = errors.New("local staging copy incomplete")
			}
			st.mu.Unlock()
			return nil
		}
		if s3err != nil {
			st.mu.Lock()
			st.s3err = s3err
			st.mu.Unlock()
			st.a.log.Warn("storage: S3 staging failed, continuing on local disk", "section", st.sec, "err", s3err)
		}
	}
	// The local staging copy is kept even when S3 has the file: it is the
	// fallback if the S3 commit fails.
	if err := p.commit(); err != nil {
		if s3err != nil {
			return fmt.Errorf("storage: write reached neither S3 (%v) nor local disk: %w", s3err, err)
		}
		return localErr("stage "+name, err)
	}
	return nil
}

func (st *autoStage) Commit(ctx context.Context) error {
	unlock := st.a.locks.lock(st.sec)
	defer unlock()
	st.mu.Lock()
	s3err := st.s3err
	st.mu.Unlock()
	if s3err == nil {
		// As in PutFile, a local copy of the section first goes to S3 and
		// off disk: were it removed only after the commit, a crash in
		// between would leave it, now older, in front of the new set.
		if s3err = st.a.heal(ctx, st.sec); s3err == nil {
			if s3err = st.remote.Commit(ctx); s3err == nil {
				st.local.Abort(ctx) //nolint:errcheck // stale staging is removed at next start
				return nil
			}
		}
	}
	// A no-op when the S3 commit ran (and failed): it cleaned up itself.
	st.remote.Abort(ctx) //nolint:errcheck // best effort; the store is failing anyway
	st.mu.Lock()
	lerr := st.localErr
	st.mu.Unlock()
	if lerr != nil {
		st.local.Abort(ctx) //nolint:errcheck // best effort
		return fmt.Errorf("storage: commit reached neither S3 (%v) nor local disk: %w", s3err, lerr)
	}
	err := st.local.putMarker()
	if err == nil {
		err = st.local.Commit(ctx)
	} else {
		st.local.Abort(ctx) //nolint:errcheck // best effort
	}
	if err != nil {
		return fmt.Errorf("storage: commit reached neither S3 (%v) nor local disk: %w", s3err, err)
	}
	st.a.fellBack("commit", st.sec, s3err)
	return nil
}

func (st *autoStage) Abort(ctx context.Context) error {
	return errors.Join(st.remote.Abort(ctx), st.local.Abort(ctx))
}

func (a *Auto) PutLayout(ctx context.Context, userID int64, tutorialID, role string, data []byte) error {
	key, err := layoutKey(userID, tutorialID, role)
	if err != nil {
		return err
	}
	unlock := a.locks.lock("layout/" + key)
	defer unlock()
	s3err := a.s3.PutLayout(ctx, userID, tutorialID, role, data)
	if s3err == nil {
		return a.local.deleteLayout(userID, tutorialID, role)
	}
	if err := a.local.PutLayout(ctx, userID, tutorialID, role, data); err != nil {
		return fmt.Errorf("storage: layout write reached neither S3 (%v) nor local disk: %w", s3err, err)
	}
	a.fellBack("put layout", key, s3err)
	return nil
}

func (a *Auto) GetLayout(ctx context.Context, userID int64, tutorialID, role string) ([]byte, error) {
	b, err := a.local.GetLayout(ctx, userID, tutorialID, role)
	if err == nil || !itss.IsCode(err, itss.CodeNotFound) {
		return b, err
	}
	return a.s3.GetLayout(ctx, userID, tutorialID, role)
}

// PresignURL returns "" when the file is served from the local copy.
func (a *Auto) PresignURL(ctx context.Context, sectionID, name string, ttl time.Duration) (string, error) {
	if _, err := fileKey(sectionID, name); err != nil {
		return "", err
	}
	_, err := a.local.Stat(ctx, sectionID, name)
	if err == nil || !a.tryS3(sectionID, err) {
		return "", nil
	}
	return a.s3.PresignURL(ctx, sectionID, name, ttl)
}

func (a *Auto) LocalFile(ctx context.Context, sectionID, name string) (*os.File, error) {
	return a.local.LocalFile(ctx, sectionID, name)
}

// pending counts the local copies waiting for S3.
func (a *Auto) pending() (sections, layouts int, err error) {
	secs, err := a.local.sections()
	if err != nil {
		return 0, 0, err
	}
	lays, err := a.local.layouts()
	if err != nil {
		return 0, 0, err
	}
	return len(secs), len(lays), nil
}

// Health is nil when S3 is reachable and nothing waits on local disk; it
// wraps ErrDegraded when the backend works only through its fallback (or the
// fallback is broken while S3 works), and is Unavailable when neither works.
func (a *Auto) Health(ctx context.Context) error {
	lerr := a.local.Health(ctx)
	serr := a.s3.Health(ctx)
	switch {
	case lerr != nil && serr != nil:
		return errUnavailable(fmt.Errorf("S3: %v; local: %w", serr, lerr))
	case serr != nil:
		return fmt.Errorf("%w: S3 unreachable, writing to local disk: %v", ErrDegraded, serr)
	case lerr != nil:
		return fmt.Errorf("%w: local fallback unusable: %v", ErrDegraded, lerr)
	}
	secs, lays, err := a.pending()
	if err != nil {
		return fmt.Errorf("%w: local fallback unreadable: %v", ErrDegraded, err)
	}
	if secs+lays > 0 {
		return fmt.Errorf("%w: %d section(s) and %d layout(s) held only on local disk", ErrDegraded, secs, lays)
	}
	return nil
}

func (a *Auto) Info(ctx context.Context) map[string]any {
	status := "healthy"
	if err := a.Health(ctx); err != nil {
		status = "degraded"
		if !errors.Is(err, ErrDegraded) {
			status = "unhealthy"
		}
	}
	secs, lays, _ := a.pending()
	info := map[string]any{
		"backend_type":        "auto",
		"status":              status,
		"s3":                  a.s3.Info(ctx),
		"local":               a.local.Info(ctx),
		"local_only_sections": secs,
		"local_only_layouts":  lays,
	}
	a.mu.Lock()
	if !a.lastFail.IsZero() {
		info["last_fallback"] = a.lastFail.Format(time.RFC3339)
		info["last_fallback_op"] = a.lastOp
	}
	a.mu.Unlock()
	return info
}

// Sync pushes every local copy to S3 and removes it, section by section and
// layout by layout; it stops at the first failure (S3 still down) and
// reports how many were pushed. Run it when S3 is back (itssctl storage).
func (a *Auto) Sync(ctx context.Context) (pushed int, err error) {
	secs, err := a.local.sections()
	if err != nil {
		return 0, err
	}
	for _, sec := range secs {
		unlock := a.locks.lock(sec)
		err := a.heal(ctx, sec)
		unlock()
		if err != nil {
			return pushed, fmt.Errorf("storage: sync section %s: %w", sec, err)
		}
		pushed++
	}
	lays, err := a.local.layouts()
	if err != nil {
		return pushed, err
	}
	for _, l := range lays {
		if err := a.syncLayout(ctx, l); err != nil {
			return pushed, err
		}
		pushed++
	}
	return pushed, nil
}

func (a *Auto) syncLayout(ctx context.Context, l LayoutKey) error {
	key := l.String()
	unlock := a.locks.lock("layout/" + key)
	defer unlock()
	data, err := a.local.GetLayout(ctx, l.UserID, l.TutorialID, l.Role)
	switch {
	case itss.IsCode(err, itss.CodeNotFound):
		// An empty legacy file: nothing to push, only to drop.
	case err != nil:
		return err
	default:
		if err := a.s3.PutLayout(ctx, l.UserID, l.TutorialID, l.Role, data); err != nil {
			return fmt.Errorf("storage: sync layout %s: %w", path.Dir(key), err)
		}
	}
	return a.local.deleteLayout(l.UserID, l.TutorialID, l.Role)
}
