package tutorialapi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/security"
	"github.com/itss-go/itss/internal/storage"
)

// RecordingFile is a recording to serve: an open local file, or (when the
// file lives in S3) a presigned URL to redirect to.
type RecordingFile struct {
	File     *os.File
	Redirect string
}

// FileAccess is how a /api/files request proves it may read: the exp and
// sig of a signed URL, or nothing (then the caller's identity decides).
type FileAccess struct {
	Exp, Sig string
}

// OpenRecording opens a section's recording for /api/files (T21, A8). Only
// recording.wav is served. Access needs a valid signature, or an identity
// that may read the tutorial, or — in optional mode only — nothing.
func (s *Service) OpenRecording(ctx context.Context, id itss.Identity, sectionID, name string, a FileAccess) (RecordingFile, error) {
	if !storage.ValidSectionID(sectionID) {
		return RecordingFile{}, itss.Errorf(itss.CodeInvalid, "Invalid tutorial section ID")
	}
	if !storage.ValidFileName(name) {
		return RecordingFile{}, itss.Errorf(itss.CodeInvalid, "Invalid file name")
	}
	if name != fileRecording {
		return RecordingFile{}, itss.Errorf(itss.CodeNotFound, "File not found")
	}
	signed := a.Exp != "" || a.Sig != ""
	if !signed || !security.VerifyFileURL(s.secret, sectionID, name, a.Exp, a.Sig, s.now()) {
		if err := s.fileAccess(ctx, id, sectionID, signed); err != nil {
			return RecordingFile{}, err
		}
	}
	f, err := s.files.LocalFile(ctx, sectionID, name)
	if err == nil {
		return RecordingFile{File: f}, nil
	}
	if itss.IsCode(err, itss.CodeNotFound) {
		if _, serr := s.files.Stat(ctx, sectionID, name); serr != nil {
			if itss.IsCode(serr, itss.CodeNotFound) {
				return RecordingFile{}, itss.Errorf(itss.CodeNotFound, "File not found")
			}
			return RecordingFile{}, fmt.Errorf("stat recording: %w", serr)
		}
		// Not on local disk but in the store (S3, or auto's S3 side).
		u, perr := s.files.PresignURL(ctx, sectionID, name, recordingURLTTL)
		if perr != nil {
			return RecordingFile{}, fmt.Errorf("presign recording: %w", perr)
		}
		if u != "" {
			return RecordingFile{Redirect: u}, nil
		}
		return RecordingFile{}, itss.Errorf(itss.CodeNotFound, "File not found")
	}
	return RecordingFile{}, fmt.Errorf("open recording: %w", err)
}

// fileAccess decides a file request without a valid signature.
func (s *Service) fileAccess(ctx context.Context, id itss.Identity, sectionID string, badSignature bool) error {
	if id.Service {
		return itss.Errorf(itss.CodeForbidden, msgServiceOnly)
	}
	if id.Anonymous() {
		switch {
		case !s.required:
			// Optional mode serves anonymous requests as the original did,
			// so a link that expired while a playback tab stayed open
			// must not stop the audio there either.
			return nil
		case badSignature:
			return itss.Errorf(itss.CodeForbidden, "Invalid or expired link.")
		}
		return itss.Errorf(itss.CodeUnauthorized, msgNoIdentity)
	}
	_, _, err := s.readableSection(ctx, id, sectionID)
	if itss.IsCode(err, itss.CodeNotFound) {
		return itss.Errorf(itss.CodeNotFound, "File not found")
	}
	return err
}

// StorageHealth is T23's body on success.
type StorageHealth struct {
	Status      string `json:"status"`
	BackendType string `json:"backend_type"`
	Timestamp   string `json:"timestamp"`
}

// StorageHealth checks that the file storage answers (T23).
func (s *Service) StorageHealth(ctx context.Context, id itss.Identity) (StorageHealth, error) {
	if err := s.caller(id); err != nil {
		return StorageHealth{}, err
	}
	status := "healthy"
	if err := s.files.Health(ctx); errors.Is(err, storage.ErrDegraded) {
		// auto serves from its local fallback: up, but worth a look.
		status = "degraded"
	} else if err != nil {
		return StorageHealth{}, itss.Wrap(itss.CodeUnavailable, err, "Storage is unavailable")
	}
	return StorageHealth{Status: status, BackendType: s.files.Name(),
		Timestamp: s.now().UTC().Format("2006-01-02T15:04:05.000000Z")}, nil
}

// StorageInfo describes the storage backend without filesystem paths (T22).
func (s *Service) StorageInfo(ctx context.Context, id itss.Identity) (map[string]any, error) {
	if err := s.caller(id); err != nil {
		return nil, err
	}
	info := s.files.Info(ctx)
	if info == nil {
		info = map[string]any{}
	}
	if _, ok := info["backend_type"]; !ok {
		info["backend_type"] = s.files.Name()
	}
	return info, nil
}

// Ready checks used by /ready: the database and the storage answer.
func (s *Service) pingDB(ctx context.Context) error { return s.db.Ping(ctx) }

func (s *Service) pingStorage(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.files.Health(ctx); err != nil && !errors.Is(err, storage.ErrDegraded) {
		return err
	}
	return nil
}
