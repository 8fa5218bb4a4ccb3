// Package storage keeps the files of tutorial sections (recordings, event
// files, descriptions, quizzes) and the saved dock layouts of users, on local
// disk, in S3, or in S3 with a local fallback ("auto").
//
// Keys and folder layout are those of the original Flask system, so an
// existing storage/ folder or bucket is served as is:
//
//	local: <recordings>/<section_id>/<file>   <layouts>/<user_id>/<tutorial_id>/<role>/layout.json
//	S3:    <S3_BUCKET_NAME>: <section_id>/<file>   <S3_LEARNER_BUCKET_NAME>: <user_id>/<tutorial_id>/<role>/layout.json
//
// Every key is validated in keys.go before any I/O; invalid keys are
// itss.CodeInvalid errors. Missing files are itss.CodeNotFound; an unreachable
// S3 is itss.CodeUnavailable.
//
// Replacing a section's file set (/upload_recording) goes through a Stage: the
// new set is written completely aside and only then swapped in, so a failed or
// interrupted upload leaves the previous recording intact and concurrent
// uploads to different sections never mix. See local.go, s3.go and auto.go for
// how each backend stages and swaps, and auto.go for the fallback rules.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/itss-go/itss/internal/itss"
)

// Info describes one stored file.
type Info struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// Backend is the one storage interface the services use.
type Backend interface {
	// Name is "local", "s3" or "auto".
	Name() string
	// PutFile stores one section file atomically: readers see the old content
	// or the new, never a part. r is streamed, never held whole in memory.
	PutFile(ctx context.Context, sectionID, name string, r io.Reader) error
	// Open streams a section file. NotFound when missing.
	Open(ctx context.Context, sectionID, name string) (io.ReadCloser, Info, error)
	// ReadFile returns a section file's content. NotFound when missing.
	ReadFile(ctx context.Context, sectionID, name string) ([]byte, error)
	// Stat describes a section file. NotFound when missing.
	Stat(ctx context.Context, sectionID, name string) (Info, error)
	// List returns the section's allow-listed files sorted by name; empty
	// (not an error) when the section has none.
	List(ctx context.Context, sectionID string) ([]Info, error)
	// DeleteSection removes every file of a section; nil when there was none.
	DeleteSection(ctx context.Context, sectionID string) error
	// CopySection makes toID hold exactly fromID's files.
	CopySection(ctx context.Context, fromID, toID string) error
	// Stage starts replacing a section's whole file set (see Stage).
	Stage(ctx context.Context, sectionID string) (Stage, error)
	// PutLayout stores a user's saved dock layout for a tutorial and role.
	PutLayout(ctx context.Context, userID int64, tutorialID string, role string, data []byte) error
	// GetLayout returns a saved layout. NotFound when none, including the
	// empty files the original's broken save wrote.
	GetLayout(ctx context.Context, userID int64, tutorialID string, role string) ([]byte, error)
	// PresignURL returns a time-limited GET URL for a section file, or ""
	// when the file is served from local disk (the caller then signs an
	// /api/files URL and serves LocalFile). It does not check existence.
	PresignURL(ctx context.Context, sectionID, name string, ttl time.Duration) (string, error)
	// LocalFile opens a section file held on local disk, for
	// http.ServeContent. NotFound when missing or not held locally.
	LocalFile(ctx context.Context, sectionID, name string) (*os.File, error)
	// Health checks that the backend can read and write. For auto, an error
	// wrapping ErrDegraded means it works, but only through its fallback.
	Health(ctx context.Context) error
	// Info describes the backend for /api/storage/info, without filesystem paths.
	Info(ctx context.Context) map[string]any
}

// Stage replaces a section's whole file set. Files are Put into a staging
// area that readers never see; Commit swaps the staged set in, and files of
// the old set that were not staged are gone afterwards (the original deleted
// every file of the section before writing the new ones); Abort drops the
// staging area and leaves the old set untouched. Commit or Abort must be
// called; Abort after Commit is a no-op, so `defer st.Abort(ctx)` is safe.
// Put may be called from one goroutine at a time per name.
type Stage interface {
	Put(ctx context.Context, name string, r io.Reader) error
	Commit(ctx context.Context) error
	Abort(ctx context.Context) error
}

// ErrDegraded is wrapped by auto's Health when S3 is unreachable or some
// files are held only in the local fallback: the backend serves and accepts
// writes, but an operator should look. Callers decide whether that is "up".
var ErrDegraded = errors.New("storage degraded")

// errStageDone is returned by a Stage used after Commit or Abort.
var errStageDone = errors.New("storage: stage already committed or aborted")

// DefaultPresignTTL is the validity of recording URLs, as the original's.
const DefaultPresignTTL = 6 * time.Hour

// Options configures New. Field names follow the settings of internal/config
// (STORAGE_TYPE, LOCAL_STORAGE_*_PATH, ACCESS_KEY_ID, S3_*, AWS_REGION).
type Options struct {
	Type           string // "local" (default), "s3" or "auto"
	RecordingsPath string // default storage/recordings
	LayoutsPath    string // default storage/layouts

	AccessKeyID     string // empty: the AWS SDK's default credential chain
	SecretAccessKey string
	Bucket          string // recordings bucket (S3_BUCKET_NAME), required for s3/auto
	LearnerBucket   string // layouts bucket (S3_LEARNER_BUCKET_NAME); default Bucket
	Region          string // default us-east-1
	Endpoint        string // S3-compatible store URL; empty for AWS
	ForcePathStyle  bool

	// MaxAttempts bounds S3 request attempts (retries included); 0 keeps the
	// SDK default of 3. auto falls back only after the last attempt failed.
	MaxAttempts int
	// PartSize is the multipart upload part size and so the memory one upload
	// holds; default 8 MiB, at least 5 MiB (S3's minimum).
	PartSize int64
	// HTTPClient for S3; default has connect and header timeouts but no
	// overall timeout, since uploads may be large.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// New builds the backend o.Type names. It does no network I/O, so a service
// starts (and auto serves from its fallback) while S3 is unreachable.
func New(ctx context.Context, o Options) (Backend, error) {
	switch o.Type {
	case "", "local":
		return NewLocal(o)
	case "s3":
		return NewS3(ctx, o)
	case "auto":
		s, err := NewS3(ctx, o)
		if err != nil {
			return nil, err
		}
		l, err := NewLocal(o)
		if err != nil {
			return nil, err
		}
		return NewAuto(s, l, o.Logger), nil
	}
	return nil, fmt.Errorf("storage: unknown type %q (want local, s3 or auto)", o.Type)
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

func errNotFound(cause error) error {
	return itss.Wrap(itss.CodeNotFound, cause, "File not found")
}

func errUnavailable(cause error) error {
	return itss.Wrap(itss.CodeUnavailable, cause, "Storage unavailable")
}

// ctxReader stops a long copy when the request is cancelled; a plain
// io.Copy would read a slow client's body to the end first.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// sourceError marks a failure to read the caller's stream (client gone, body
// over its limit), as opposed to a failure of the store: auto must not fall
// back on it, since there is nothing complete to fall back with.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return "reading upload: " + e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

func isSourceError(err error) bool {
	var se *sourceError
	return errors.As(err, &se)
}

// copySection is CopySection for backends without a server-side copy: the
// files are streamed through a Stage of the target, so the target changes
// all at once.
func copySection(ctx context.Context, b Backend, fromID, toID string) error {
	if err := checkSection(fromID); err != nil {
		return err
	}
	if err := checkSection(toID); err != nil {
		return err
	}
	if fromID == toID {
		return nil
	}
	files, err := b.List(ctx, fromID)
	if err != nil {
		return fmt.Errorf("copy section: list source: %w", err)
	}
	st, err := b.Stage(ctx, toID)
	if err != nil {
		return fmt.Errorf("copy section: %w", err)
	}
	defer st.Abort(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	for _, f := range files {
		rc, _, err := b.Open(ctx, fromID, f.Name)
		if err != nil {
			return fmt.Errorf("copy section: open %s: %w", f.Name, err)
		}
		err = st.Put(ctx, f.Name, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("copy section: put %s: %w", f.Name, err)
		}
	}
	return st.Commit(ctx)
}
