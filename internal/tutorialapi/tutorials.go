package tutorialapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/validate"
)

// AuthorCard is one tutorial of an author's list (T3). sequence is the
// number of sections.
type AuthorCard struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Language    string  `json:"language"`
	Sequence    int     `json:"sequence"`
	UserName    string  `json:"user_name"`
	UserPicture *string `json:"user_picture"`
}

// LearnerCard is one tutorial of the learner catalogue (T2).
type LearnerCard struct {
	AuthorCard
	StartDatetime *string `json:"startDatetime"`
	EndDatetime   *string `json:"endDatetime"`
	LastPage      int     `json:"last_page"`
}

// TutorialHeader is T4: sequence is the JSON text of the section ids, which
// the overview page JSON.parses; dates are RFC 3339 UTC.
type TutorialHeader struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Language  string  `json:"language"`
	Sequence  string  `json:"sequence"`
	UserID    int64   `json:"userid"`
	StartDate *string `json:"start_date"`
	EndDate   *string `json:"end_date"`
}

// TutorialDetail is the README route GET /tutorial/{id}: the tutorial with
// its sections in page order.
type TutorialDetail struct {
	ID          string           `json:"id"`
	Name        string           `json:"name"`
	Language    string           `json:"language"`
	Description *string          `json:"description"`
	UserID      int64            `json:"userid"`
	StartDate   *string          `json:"start_date"`
	EndDate     *string          `json:"end_date"`
	Published   bool             `json:"published"`
	Sequence    []string         `json:"sequence"`
	Sections    []SectionSummary `json:"sections"`
}

func authorCard(c store.TutorialCard) AuthorCard {
	return AuthorCard{
		ID: c.ID, Name: c.Name, Language: c.Language, Sequence: len(sequenceIDs(c.Sequence)),
		UserName: c.AuthorName, UserPicture: c.AuthorPicture,
	}
}

// AuthorTutorials lists the tutorials owned by userID, published or not (T3).
func (s *Service) AuthorTutorials(ctx context.Context, id itss.Identity, userID int64) ([]AuthorCard, error) {
	if err := s.caller(id); err != nil {
		return nil, err
	}
	if err := s.sameUser(id, userID); err != nil {
		return nil, err
	}
	cards, err := s.db.TutorialsByAuthor(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list author tutorials: %w", err)
	}
	out := make([]AuthorCard, 0, len(cards))
	for _, c := range cards {
		out = append(out, authorCard(c))
	}
	return out, nil
}

// Catalogue lists the tutorials published now, of every author, with
// userID's progress (T2). Tutorials without sections are left out: a learner
// could not open them and the card would show "NaN% Completed".
func (s *Service) Catalogue(ctx context.Context, id itss.Identity, userID int64) ([]LearnerCard, error) {
	if err := s.caller(id); err != nil {
		return nil, err
	}
	if err := s.sameUser(id, userID); err != nil {
		return nil, err
	}
	cards, err := s.db.PublishedTutorials(ctx, s.now().UTC(), userID)
	if err != nil {
		return nil, fmt.Errorf("list published tutorials: %w", err)
	}
	out := make([]LearnerCard, 0, len(cards))
	for _, c := range cards {
		a := authorCard(c)
		if a.Sequence == 0 {
			continue
		}
		out = append(out, LearnerCard{AuthorCard: a, StartDatetime: rfc3339(c.StartDate),
			EndDatetime: rfc3339(c.EndDate), LastPage: c.LastPage})
	}
	return out, nil
}

// MyTutorials is the README route GET /tutorials: an author session gets its
// own tutorials, a learner session the published catalogue with progress.
func (s *Service) MyTutorials(ctx context.Context, id itss.Identity) (any, error) {
	if id.Anonymous() {
		return nil, itss.Errorf(itss.CodeUnauthorized, msgNoIdentity)
	}
	if id.Role == itss.RoleLearner {
		return s.Catalogue(ctx, id, id.UserID)
	}
	return s.AuthorTutorials(ctx, id, id.UserID)
}

// Tutorial returns the tutorial header of T4.
func (s *Service) Tutorial(ctx context.Context, id itss.Identity, tutorialID string) (TutorialHeader, error) {
	if err := checkUUID("tutorial", tutorialID); err != nil {
		return TutorialHeader{}, err
	}
	t, err := s.readableTutorial(ctx, id, tutorialID)
	if err != nil {
		return TutorialHeader{}, err
	}
	return TutorialHeader{
		ID: t.ID, Name: t.Name, Language: t.Language,
		// Always JSON text: legacy repr rows are converted, NULL is "[]".
		Sequence: itss.FormatSequence(sequenceIDs(t.Sequence)),
		UserID:   t.UserID, StartDate: rfc3339(t.StartDate), EndDate: rfc3339(t.EndDate),
	}, nil
}

// TutorialWithSections is the README route GET /tutorial/{id}. Sections
// follow the stored sequence; any the sequence misses come last in creation
// order, so nothing is hidden from the owner.
func (s *Service) TutorialWithSections(ctx context.Context, id itss.Identity, tutorialID string) (TutorialDetail, error) {
	if id.Anonymous() {
		return TutorialDetail{}, itss.Errorf(itss.CodeUnauthorized, msgNoIdentity)
	}
	if err := checkUUID("tutorial", tutorialID); err != nil {
		return TutorialDetail{}, err
	}
	t, err := s.readableTutorial(ctx, id, tutorialID)
	if err != nil {
		return TutorialDetail{}, err
	}
	secs, err := s.db.SectionsByTutorial(ctx, t.ID)
	if err != nil {
		return TutorialDetail{}, fmt.Errorf("list sections: %w", err)
	}
	ordered := orderSections(sequenceIDs(t.Sequence), secs, true)
	d := TutorialDetail{
		ID: t.ID, Name: t.Name, Language: t.Language, Description: t.Description, UserID: t.UserID,
		StartDate: rfc3339(t.StartDate), EndDate: rfc3339(t.EndDate), Published: t.Published(s.now()),
		Sequence: make([]string, 0, len(ordered)), Sections: make([]SectionSummary, 0, len(ordered)),
	}
	for _, sec := range ordered {
		d.Sequence = append(d.Sequence, sec.ID)
		d.Sections = append(d.Sections, sectionSummary(sec))
	}
	return d, nil
}

// orderSections returns the sections named by seq, in its order, skipping
// ids without a row; with rest, sections missing from seq follow.
func orderSections(seq []string, secs []itss.Section, rest bool) []itss.Section {
	byID := make(map[string]int, len(secs))
	for i, sec := range secs {
		byID[sec.ID] = i
	}
	out := make([]itss.Section, 0, len(secs))
	used := make([]bool, len(secs))
	for _, sid := range seq {
		if i, ok := byID[sid]; ok && !used[i] {
			out = append(out, secs[i])
			used[i] = true
		}
	}
	if rest {
		for i, sec := range secs {
			if !used[i] {
				out = append(out, sec)
			}
		}
	}
	return out
}

// NewTutorial is the input of CreateTutorial. UserID is the owner named in
// the body (Part B); zero means "the caller" (README route).
type NewTutorial struct {
	Name        string
	Language    string
	Description *string
	UserID      any // JSON number or numeric string, nil when absent
}

// Field limits (the original's columns).
const (
	maxNameLen        = 320
	maxDescriptionLen = 10000
	maxCodeInputLen   = 10000
)

// CreateTutorial creates an empty, unpublished tutorial and returns its id
// (T5 and the README route). An identified caller needs the author role of
// the session and owns the tutorial; in optional mode an anonymous caller
// names the owner in userid, as the original frontend does.
func (s *Service) CreateTutorial(ctx context.Context, id itss.Identity, in NewTutorial) (string, error) {
	if err := s.caller(id); err != nil {
		return "", err
	}
	if strings.TrimSpace(in.Name) == "" {
		return "", itss.Errorf(itss.CodeInvalid, "Missing required field: name")
	}
	if strings.TrimSpace(in.Language) == "" {
		return "", itss.Errorf(itss.CodeInvalid, "Missing required field: language")
	}
	if err := validate.Text(in.Name, maxNameLen); err != nil {
		return "", itss.Errorf(itss.CodeInvalid, "Invalid name: %s", err.Error())
	}
	lang := strings.TrimSpace(in.Language)
	if !validate.Language(lang) {
		return "", itss.Errorf(itss.CodeInvalid, "Invalid language: Must be one of python, java, javascript")
	}
	var desc *string
	if in.Description != nil && strings.TrimSpace(*in.Description) != "" {
		if err := validate.Text(*in.Description, maxDescriptionLen); err != nil {
			return "", itss.Errorf(itss.CodeInvalid, "Invalid description: %s", err.Error())
		}
		d := strings.TrimSpace(*in.Description)
		desc = &d
	}
	owner := id.UserID
	if in.UserID != nil && in.UserID != "" {
		uid, err := validate.UserID(in.UserID)
		if err != nil {
			return "", itss.Errorf(itss.CodeInvalid, "Invalid user ID: %s", err.Error())
		}
		if err := s.sameUser(id, uid); err != nil {
			return "", err
		}
		owner = uid
	} else if id.Anonymous() {
		return "", itss.Errorf(itss.CodeInvalid, "Missing required field: userid")
	}
	if !id.Anonymous() && id.Role != itss.RoleAuthor {
		return "", itss.Errorf(itss.CodeForbidden, "Creating tutorials needs the author role.")
	}
	if _, err := s.db.UserByID(ctx, owner); itss.IsCode(err, itss.CodeNotFound) {
		return "", itss.Errorf(itss.CodeNotFound, "User not found")
	} else if err != nil {
		return "", fmt.Errorf("load owner: %w", err)
	}
	seq := itss.FormatSequence(nil)
	t := itss.Tutorial{ID: newID(), Name: strings.TrimSpace(in.Name), Language: lang, Sequence: &seq,
		UserID: owner, Description: desc}
	if err := s.db.CreateTutorial(ctx, t); err != nil {
		return "", fmt.Errorf("create tutorial: %w", err)
	}
	s.event(ctx, "Create Tutorial", "user_id", owner, "tutorial_id", t.ID, "language", lang)
	return t.ID, nil
}

// TutorialUpdate is the input of UpdateTutorial: only the fields present in
// the request change (T7). A nil date with its Set flag clears it.
type TutorialUpdate struct {
	Sequence    []string
	SetSequence bool
	SetStart    bool
	Start       *time.Time
	SetEnd      bool
	End         *time.Time
	Name        *string
	Description *string
}

// UpdateTutorial changes the order of sections, the publication window, the
// name or the description (T7). The sequence must list sections of this
// tutorial, each once; it is stored as JSON, and a legacy repr sequence is
// rewritten as JSON whatever the update.
func (s *Service) UpdateTutorial(ctx context.Context, id itss.Identity, tutorialID string, in TutorialUpdate) error {
	if err := checkUUID("tutorial", tutorialID); err != nil {
		return err
	}
	for key, d := range map[string]*time.Time{"startDatetime": in.Start, "endDatetime": in.End} {
		// DATETIME holds the years 1000 to 9999: MySQL refuses others and
		// SQLite would store a row it cannot read back.
		if d == nil {
			continue
		}
		if y := d.UTC().Year(); y < 1000 || y > 9999 {
			return itss.Errorf(itss.CodeInvalid, "Invalid %s: Date out of range", key)
		}
	}
	t, err := s.writableTutorial(ctx, id, tutorialID)
	if err != nil {
		return err
	}
	var p store.TutorialPatch
	if in.SetSequence {
		seq := itss.FormatSequence(in.Sequence)
		p.Sequence = &seq
	} else if ids, legacy, err := itss.ParseSequence(t.Sequence); err == nil && legacy {
		seq := itss.FormatSequence(ids)
		p.Sequence = &seq
	}
	if in.Name != nil {
		if err := validate.Text(*in.Name, maxNameLen); err != nil {
			return itss.Errorf(itss.CodeInvalid, "Invalid name: %s", err.Error())
		}
		n := strings.TrimSpace(*in.Name)
		p.Name = &n
	}
	if in.Description != nil {
		if len([]rune(*in.Description)) > maxDescriptionLen {
			return itss.Errorf(itss.CodeInvalid, "Invalid description: Field exceeds maximum length of %d", maxDescriptionLen)
		}
		p.Description = in.Description
	}
	p.SetStart, p.Start = in.SetStart, utcPtr(in.Start)
	p.SetEnd, p.End = in.SetEnd, utcPtr(in.End)
	err = s.db.InTx(ctx, func(tx *store.DB) error {
		if in.SetSequence {
			// Checked under the tutorial's lock: a section created or
			// deleted meanwhile cannot be lost from or left in the order.
			if err := tx.LockTutorial(ctx, t.ID); err != nil {
				return err
			}
			secs, err := tx.SectionsByTutorial(ctx, t.ID)
			if err != nil {
				return fmt.Errorf("list sections: %w", err)
			}
			if err := checkSequence(in.Sequence, secs); err != nil {
				return err
			}
		}
		return tx.UpdateTutorial(ctx, t.ID, p)
	})
	if err != nil {
		return fmt.Errorf("update tutorial: %w", err)
	}
	attrs := []any{"owner_id", t.UserID, "tutorial_id", t.ID}
	if in.SetStart || in.SetEnd {
		attrs = append(attrs, "start_date", rfc3339(p.Start), "end_date", rfc3339(p.End))
	}
	s.event(ctx, "Update Tutorial", attrs...)
	return nil
}

func checkSequence(seq []string, secs []itss.Section) error {
	seen := make(map[string]bool, len(seq))
	for _, sid := range seq {
		if seen[sid] || !slices.ContainsFunc(secs, func(sec itss.Section) bool { return sec.ID == sid }) {
			return itss.Errorf(itss.CodeInvalid, "Invalid sequence: every id must be a section of this tutorial, once")
		}
		seen[sid] = true
	}
	return nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Second)
	return &u
}

// DeleteTutorial deletes a tutorial, its sections, its progress rows and its
// sections' files (T9).
func (s *Service) DeleteTutorial(ctx context.Context, id itss.Identity, tutorialID string) error {
	if err := checkUUID("tutorial", tutorialID); err != nil {
		return err
	}
	t, err := s.writableTutorial(ctx, id, tutorialID)
	if err != nil {
		return err
	}
	sectionIDs, err := s.db.DeleteTutorial(ctx, t.ID)
	if err != nil {
		return fmt.Errorf("delete tutorial: %w", err)
	}
	// The rows are gone, so the tutorial is deleted whatever happens to its
	// files; leftover files are only logged.
	for _, sid := range sectionIDs {
		if err := s.files.DeleteSection(ctx, sid); err != nil {
			s.log.ErrorContext(ctx, "delete files of a deleted section", "section_id", sid, "err", err)
		}
	}
	s.event(ctx, "Delete Tutorial", "owner_id", t.UserID, "tutorial_id", t.ID)
	return nil
}

// dateLayouts are the date forms accepted from clients: RFC 3339 (what the
// frontend sends, with +08:00), ISO 8601 without offset (taken as UTC), and
// the RFC 1123 form the original returned.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02",
	http.TimeFormat,
}

// ParseDate parses a client date; dates without offset are UTC.
func ParseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// checkUUID validates a tutorial or section id from a path or body.
func checkUUID(what, v string) error {
	if err := validate.UUID(v); err != nil {
		return itss.Errorf(itss.CodeInvalid, "Invalid %s ID: %s", what, err.Error())
	}
	return nil
}

// newID returns a fresh id in the original's form: uuid4().hex.
func newID() string {
	u := uuid.New()
	return fmt.Sprintf("%x", u[:])
}
