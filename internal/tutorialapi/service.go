// Package tutorialapi is the tutorial service: the tutorial routes of the
// original system at their exact paths (API.md Part B, with the GO-REC fixes)
// and the README routes of Part A, both served by one Service that holds
// every business rule — who may read or write what (A3), stored formats (A7),
// recordings, layouts and the sample copy (A11). Handlers only decode,
// validate, call one Service method and encode.
package tutorialapi

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/itss-go/itss/internal/httpapi"
	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/sample"
	"github.com/itss-go/itss/internal/storage"
	"github.com/itss-go/itss/internal/store"
)

// Versioner reports the runtime version shown under the console ("python
// 3.11.7"); *runner.Runner implements it and caches the answer.
type Versioner interface {
	Version(language string) *string
}

// ServiceOptions configures a Service.
type ServiceOptions struct {
	DB      *store.DB
	Storage storage.Backend
	// Runner supplies runtime versions; nil reports none.
	Runner Versioner
	Logger *slog.Logger
	// SecretKey signs local file URLs (APP_SECRET_KEY).
	SecretKey []byte
	// PublicURL is the browser-visible base URL of this service
	// (REACT_APP_TUTORIAL_URL), used in recording links.
	PublicURL string
	// AuthRequired is API_AUTH=required: no identity, no access.
	AuthRequired bool
	// SampleTutorialID is the tutorial copied for guest authors; empty means
	// the built-in sample.
	SampleTutorialID string
	// MaxUploadBytes bounds the decoded audio of one recording upload.
	MaxUploadBytes int64
	// MaxConcurrentUploads bounds recording uploads in progress; more get
	// 429 at once. 0 means the default (8).
	MaxConcurrentUploads int
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Service holds the tutorial service's business rules. Every method takes the
// caller's identity and enforces API.md A3 itself, so both API families and
// tests that call it directly get the same answers.
type Service struct {
	db        *store.DB
	files     storage.Backend
	runner    Versioner
	log       *slog.Logger
	secret    []byte
	publicURL string
	required  bool
	sampleID  string
	maxUpload int64
	now       func() time.Time
	// spoolDir holds audio that arrives before its section id; "" is the
	// system's temporary directory.
	spoolDir string
	// uploads bounds uploads in progress: each may hold a worker's worth of
	// CPU decoding base64 and up to MaxUploadBytes of disk before the
	// caller's right to the section is known (the editor sends the audio
	// before the section id).
	uploads chan struct{}
}

// Defaults for options left zero.
const (
	defaultMaxUpload         = 300 << 20
	defaultConcurrentUploads = 8
	// recordingURLTTL is how long a recording link stays valid (A8), like the
	// original's S3 presigned URLs.
	recordingURLTTL = 6 * time.Hour
)

// NewService returns a Service over its stores.
func NewService(o ServiceOptions) *Service {
	s := &Service{
		db: o.DB, files: o.Storage, runner: o.Runner, log: o.Logger, secret: o.SecretKey,
		publicURL: o.PublicURL, required: o.AuthRequired, sampleID: o.SampleTutorialID,
		maxUpload: o.MaxUploadBytes, now: o.Now,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxUpload <= 0 {
		s.maxUpload = defaultMaxUpload
	}
	if s.sampleID == "" {
		s.sampleID = sample.TutorialID
	}
	n := o.MaxConcurrentUploads
	if n <= 0 {
		n = defaultConcurrentUploads
	}
	s.uploads = make(chan struct{}, n)
	return s
}

// AuthRequired reports whether the service runs with API_AUTH=required.
func (s *Service) AuthRequired() bool { return s.required }

// StorageName is the storage backend's name, for /health.
func (s *Service) StorageName() string { return s.files.Name() }

// Messages shared by several operations.
const (
	msgNoIdentity       = "Authentication required."
	msgUserMismatch     = "User ID does not match the signed-in user."
	msgNotOwner         = "Only the owner of this tutorial may change it."
	msgNotReadable      = "This tutorial is not published."
	msgServiceOnly      = "Service tokens are accepted only for the sample copy."
	msgTutorialNotFound = "Tutorial not found"
	msgSectionNotFound  = "Tutorial Section not found."
)

// caller checks that the request may proceed at all: an identity is needed in
// required mode, and service tokens serve only the sample copy.
func (s *Service) caller(id itss.Identity) error {
	if id.Service {
		return itss.Errorf(itss.CodeForbidden, msgServiceOnly)
	}
	if id.Anonymous() && s.required {
		return itss.Errorf(itss.CodeUnauthorized, msgNoIdentity)
	}
	return nil
}

// sameUser checks a user id taken from a path or body against the caller. An
// anonymous caller (optional mode only: caller ran first) is served as the
// original served it, with the id as given.
func (s *Service) sameUser(id itss.Identity, userID int64) error {
	if !id.Anonymous() && id.UserID != userID {
		return itss.Errorf(itss.CodeForbidden, msgUserMismatch)
	}
	return nil
}

// mayRead: the owner reads everything; anyone identified reads published
// tutorials; anonymous callers exist only in optional mode and read as the
// original let them.
func (s *Service) mayRead(id itss.Identity, t itss.Tutorial) error {
	if id.Anonymous() || id.UserID == t.UserID || t.Published(s.now()) {
		return nil
	}
	return itss.Errorf(itss.CodeForbidden, msgNotReadable)
}

// mayWrite: only the owner writes (anonymous only in optional mode).
func (s *Service) mayWrite(id itss.Identity, t itss.Tutorial) error {
	if id.Anonymous() || id.UserID == t.UserID {
		return nil
	}
	return itss.Errorf(itss.CodeForbidden, msgNotOwner)
}

// tutorial loads a tutorial row, with "Tutorial not found" for a missing one.
func (s *Service) tutorial(ctx context.Context, tutorialID string) (itss.Tutorial, error) {
	t, err := s.db.TutorialByID(ctx, tutorialID)
	if itss.IsCode(err, itss.CodeNotFound) {
		return t, itss.Errorf(itss.CodeNotFound, msgTutorialNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("load tutorial: %w", err)
	}
	return t, nil
}

// section loads a section and its tutorial.
func (s *Service) section(ctx context.Context, sectionID string) (itss.Section, itss.Tutorial, error) {
	sec, err := s.db.SectionByID(ctx, sectionID)
	if itss.IsCode(err, itss.CodeNotFound) {
		return sec, itss.Tutorial{}, itss.Errorf(itss.CodeNotFound, msgSectionNotFound)
	}
	if err != nil {
		return sec, itss.Tutorial{}, fmt.Errorf("load section: %w", err)
	}
	t, err := s.tutorial(ctx, sec.TutorialID)
	return sec, t, err
}

func (s *Service) readableTutorial(ctx context.Context, id itss.Identity, tutorialID string) (itss.Tutorial, error) {
	if err := s.caller(id); err != nil {
		return itss.Tutorial{}, err
	}
	t, err := s.tutorial(ctx, tutorialID)
	if err != nil {
		return t, err
	}
	return t, s.mayRead(id, t)
}

func (s *Service) writableTutorial(ctx context.Context, id itss.Identity, tutorialID string) (itss.Tutorial, error) {
	if err := s.caller(id); err != nil {
		return itss.Tutorial{}, err
	}
	t, err := s.tutorial(ctx, tutorialID)
	if err != nil {
		return t, err
	}
	return t, s.mayWrite(id, t)
}

func (s *Service) readableSection(ctx context.Context, id itss.Identity, sectionID string) (itss.Section, itss.Tutorial, error) {
	if err := s.caller(id); err != nil {
		return itss.Section{}, itss.Tutorial{}, err
	}
	sec, t, err := s.section(ctx, sectionID)
	if err != nil {
		return sec, t, err
	}
	return sec, t, s.mayRead(id, t)
}

func (s *Service) writableSection(ctx context.Context, id itss.Identity, sectionID string) (itss.Section, itss.Tutorial, error) {
	if err := s.caller(id); err != nil {
		return itss.Section{}, itss.Tutorial{}, err
	}
	sec, t, err := s.section(ctx, sectionID)
	if err != nil {
		return sec, t, err
	}
	return sec, t, s.mayWrite(id, t)
}

// event logs an A12 event. Anonymous callers (optional mode) are identified
// by the user id they sent, as the original logged it.
func (s *Service) event(ctx context.Context, action string, attrs ...any) {
	httpapi.Event(ctx, s.log, action, attrs...)
}

// version returns the runtime version for a language, or nil.
func (s *Service) version(language string) *string {
	if s.runner == nil {
		return nil
	}
	return s.runner.Version(language)
}

// rfc3339 renders a stored date as RFC 3339 UTC, or nil.
func rfc3339(t *time.Time) *string {
	if t == nil {
		return nil
	}
	v := t.UTC().Format(time.RFC3339)
	return &v
}

// sequenceIDs parses a stored sequence; text that is neither JSON nor a list
// repr counts as empty (the original's listings did the same).
func sequenceIDs(text *string) []string {
	ids, _, err := itss.ParseSequence(text)
	if err != nil {
		return []string{}
	}
	return ids
}
