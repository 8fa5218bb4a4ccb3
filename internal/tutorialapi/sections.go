package tutorialapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/keywords"
	"github.com/itss-go/itss/internal/security"
	"github.com/itss-go/itss/internal/storage"
	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/validate"
)

// Stored file names of a section.
const (
	fileDescription = "description.md"
	fileCode        = "code_content.txt"
	fileRecording   = "recording.wav"
	fileTranscript  = "transcript.json"
	fileQuestion    = "question.json"
)

// SectionSummary is one section of T14's list (and of the README detail).
type SectionSummary struct {
	ID           string  `json:"id"`
	Name         string  `json:"name"`
	TutorialType string  `json:"tutorial_type"`
	CodeInput    *string `json:"code_input"`
	Language     *string `json:"language"`
	FrequentWord *string `json:"frequent_word"`
	Duration     *int64  `json:"duration"`
	TutorialID   string  `json:"tutorial_id"`
}

func sectionSummary(sec itss.Section) SectionSummary {
	return SectionSummary{ID: sec.ID, Name: sec.Name, TutorialType: sec.TutorialType, CodeInput: sec.CodeInput,
		Language: sec.Language, FrequentWord: frequentWordJSON(sec.FrequentWord), Duration: sec.Duration,
		TutorialID: sec.TutorialID}
}

// SectionView is the section editor's load (T13). sequence is the 1-based
// position of the section in its tutorial (1 when it is not listed).
type SectionView struct {
	ID           string  `json:"id"`
	Name         string  `json:"name"`
	TutorialType string  `json:"tutorial_type"`
	Description  *string `json:"description"`
	CodeContent  *string `json:"code_content"`
	Question     *string `json:"question"`
	CodeInput    *string `json:"code_input"`
	Language     string  `json:"language"`
	Version      *string `json:"version"`
	TutorialID   string  `json:"tutorial_id"`
	FrequentWord *string `json:"frequent_word"`
	Sequence     int     `json:"sequence"`
	Recording    *string `json:"recording"`
}

// Section returns a section for the editor (T13).
func (s *Service) Section(ctx context.Context, id itss.Identity, sectionID string) (SectionView, error) {
	if err := checkUUID("tutorial section", sectionID); err != nil {
		return SectionView{}, err
	}
	sec, t, err := s.readableSection(ctx, id, sectionID)
	if err != nil {
		return SectionView{}, err
	}
	files, err := s.readFiles(ctx, sec.ID, fileDescription, fileCode, fileQuestion)
	if err != nil {
		return SectionView{}, err
	}
	rec, err := s.recordingURL(ctx, sec.ID, false)
	if err != nil {
		return SectionView{}, err
	}
	pos := 1
	if i := slices.Index(sequenceIDs(t.Sequence), sec.ID); i >= 0 {
		pos = i + 1
	}
	return SectionView{
		ID: sec.ID, Name: sec.Name, TutorialType: sec.TutorialType,
		Description: files[fileDescription], CodeContent: files[fileCode], Question: files[fileQuestion],
		CodeInput: sec.CodeInput, Language: t.Language, Version: s.version(t.Language), TutorialID: t.ID,
		FrequentWord: frequentWordJSON(sec.FrequentWord), Sequence: pos, Recording: rec,
	}, nil
}

// Sections lists a tutorial's sections in creation order (T14); the
// overview page orders them by the tutorial's sequence itself.
func (s *Service) Sections(ctx context.Context, id itss.Identity, tutorialID string) ([]SectionSummary, error) {
	if err := checkUUID("tutorial", tutorialID); err != nil {
		return nil, err
	}
	t, err := s.readableTutorial(ctx, id, tutorialID)
	if err != nil {
		return nil, err
	}
	secs, err := s.db.SectionsByTutorial(ctx, t.ID)
	if err != nil {
		return nil, fmt.Errorf("list sections: %w", err)
	}
	out := make([]SectionSummary, 0, len(secs))
	for _, sec := range secs {
		out = append(out, sectionSummary(sec))
	}
	return out, nil
}

// NewSection is the input of CreateSection.
type NewSection struct {
	TutorialID   string
	Name         string // default "Untitled Section"
	TutorialType string // default "Code"
}

// CreateSection adds an empty section at the end of a tutorial (T15 and the
// README route) and returns its id. Its language is the tutorial's.
func (s *Service) CreateSection(ctx context.Context, id itss.Identity, in NewSection) (string, error) {
	if in.TutorialID == "" {
		return "", itss.Errorf(itss.CodeInvalid, "Missing required field: tutorial_id")
	}
	if err := checkUUID("tutorial", in.TutorialID); err != nil {
		return "", err
	}
	name := in.Name
	if strings.TrimSpace(name) == "" {
		name = "Untitled Section"
	}
	if err := validate.Text(name, maxNameLen); err != nil {
		return "", itss.Errorf(itss.CodeInvalid, "Invalid name: %s", err.Error())
	}
	typ := in.TutorialType
	if typ == "" {
		typ = itss.SectionCode
	}
	if typ != itss.SectionCode && typ != itss.SectionQuestion {
		return "", itss.Errorf(itss.CodeInvalid, "Invalid tutorial_type: Must be Code or Question")
	}
	t, err := s.writableTutorial(ctx, id, in.TutorialID)
	if err != nil {
		return "", err
	}
	lang := t.Language
	zero := int64(0)
	sec := itss.Section{ID: newID(), Name: strings.TrimSpace(name), TutorialType: typ, Language: &lang,
		Duration: &zero, TutorialID: t.ID}
	if err := s.db.CreateSection(ctx, sec); err != nil {
		return "", fmt.Errorf("create section: %w", err)
	}
	s.event(ctx, "Create Tutorial Section", "owner_id", t.UserID, "tutorial_id", t.ID, "section_id", sec.ID,
		"tutorial_type", typ)
	return sec.ID, nil
}

// SectionUpdate is the input of UpdateSection: nil fields stay as they are.
// Question is the quiz as JSON (nil when absent or null).
type SectionUpdate struct {
	Name         *string
	TutorialType *string
	Language     *string
	CodeInput    *string
	Description  *string
	CodeContent  *string
	Question     json.RawMessage
}

// UpdateSection saves the section editor's fields (T16) and returns the
// tutorial id. description.md, code_content.txt and question.json (single
// JSON encoding) are rewritten when sent; frequent_word is recomputed from
// the description and the stored transcript.
func (s *Service) UpdateSection(ctx context.Context, id itss.Identity, sectionID string, in SectionUpdate) (string, error) {
	if err := checkUUID("tutorial section", sectionID); err != nil {
		return "", err
	}
	name := in.Name
	if name != nil && strings.TrimSpace(*name) == "" {
		// The editor sends its title with the description and code: a title
		// the author cleared keeps the stored one (as an upload does) rather
		// than failing the whole save, and with it the page's navigation.
		name = nil
	}
	p, err := sectionPatch(name, in.TutorialType, in.Language, in.CodeInput)
	if err != nil {
		return "", err
	}
	var question []byte
	if len(in.Question) > 0 && !bytes.Equal(bytes.TrimSpace(in.Question), []byte("null")) {
		if question, err = pyDumps(in.Question); err != nil {
			return "", itss.Errorf(itss.CodeInvalid, "Invalid question: must be JSON")
		}
	}
	sec, t, err := s.writableSection(ctx, id, sectionID)
	if err != nil {
		return "", err
	}
	writes := map[string][]byte{}
	if in.Description != nil {
		writes[fileDescription] = []byte(*in.Description)
	}
	if in.CodeContent != nil {
		writes[fileCode] = []byte(*in.CodeContent)
	}
	if question != nil {
		writes[fileQuestion] = question
	}
	desc := in.Description
	stored, err := s.readFiles(ctx, sec.ID, fileDescription, fileTranscript)
	if err != nil {
		return "", err
	}
	if desc == nil {
		desc = stored[fileDescription]
	}
	freq := frequentWords(desc, stored[fileTranscript])
	p.FrequentWord = &freq
	// Files first (each written atomically), then the row in one statement:
	// no transaction stays open during storage I/O, which on SQLite would
	// hold the only write lock. A failed write leaves the row as it was.
	for _, name := range []string{fileDescription, fileCode, fileQuestion} {
		if data, ok := writes[name]; ok {
			if err := s.files.PutFile(ctx, sec.ID, name, bytes.NewReader(data)); err != nil {
				return "", fmt.Errorf("write %s: %w", name, err)
			}
		}
	}
	if err := s.db.UpdateSection(ctx, sec.ID, p); err != nil {
		return "", fmt.Errorf("update section: %w", err)
	}
	s.event(ctx, "Update Tutorial Section", "owner_id", t.UserID, "tutorial_id", t.ID, "section_id", sec.ID)
	return t.ID, nil
}

// sectionPatch validates the row fields a section save may change.
func sectionPatch(name, typ, lang, codeInput *string) (store.SectionPatch, error) {
	var p store.SectionPatch
	if name != nil {
		if err := validate.Text(*name, maxNameLen); err != nil {
			return p, itss.Errorf(itss.CodeInvalid, "Invalid name: %s", err.Error())
		}
		n := strings.TrimSpace(*name)
		p.Name = &n
	}
	if typ != nil {
		if *typ != itss.SectionCode && *typ != itss.SectionQuestion {
			return p, itss.Errorf(itss.CodeInvalid, "Invalid tutorial_type: Must be Code or Question")
		}
		p.TutorialType = typ
	}
	if lang != nil {
		if !validate.Language(*lang) {
			return p, itss.Errorf(itss.CodeInvalid, "Invalid language: Must be one of python, java, javascript")
		}
		p.Language = lang
	}
	if codeInput != nil {
		if utf8.RuneCountInString(*codeInput) > maxCodeInputLen {
			return p, itss.Errorf(itss.CodeInvalid, "Invalid code_input: Field exceeds maximum length of %d", maxCodeInputLen)
		}
		p.CodeInput = codeInput
	}
	return p, nil
}

// frequentWords computes the stored frequent_word text (JSON) from a
// description and a stored (double-encoded) transcript.
func frequentWords(description *string, transcript *string) string {
	var d string
	if description != nil {
		d = *description
	}
	var texts []string
	if transcript != nil {
		texts = keywords.TranscriptTexts([]byte(*transcript))
	}
	return pyStringList(keywords.FrequentWords(d, texts))
}

// DeleteSection removes a section from its tutorial's sequence, deletes its
// row and its files (T17).
func (s *Service) DeleteSection(ctx context.Context, id itss.Identity, sectionID string) error {
	if err := checkUUID("tutorial section", sectionID); err != nil {
		return err
	}
	sec, t, err := s.writableSection(ctx, id, sectionID)
	if err != nil {
		return err
	}
	if err := s.db.DeleteSection(ctx, sec.ID); err != nil {
		return fmt.Errorf("delete section: %w", err)
	}
	if err := s.files.DeleteSection(ctx, sec.ID); err != nil {
		s.log.ErrorContext(ctx, "delete files of a deleted section", "section_id", sec.ID, "err", err)
	}
	s.event(ctx, "Delete Tutorial Section", "owner_id", t.UserID, "tutorial_id", t.ID, "section_id", sec.ID)
	return nil
}

const maxKeywordLen = 200

// SearchTranscript returns the transcript entries of a section whose text
// contains keyword, case-insensitively, verbatim and in order (T20).
func (s *Service) SearchTranscript(ctx context.Context, id itss.Identity, keyword, sectionID string) ([]json.RawMessage, error) {
	if err := checkUUID("tutorial section", sectionID); err != nil {
		return nil, err
	}
	keyword = strings.TrimSpace(keyword)
	if keyword == "" || !utf8.ValidString(keyword) || utf8.RuneCountInString(keyword) > maxKeywordLen {
		return nil, itss.Errorf(itss.CodeInvalid, "Invalid keyword")
	}
	sec, t, err := s.readableSection(ctx, id, sectionID)
	if err != nil {
		return nil, err
	}
	files, err := s.readFiles(ctx, sec.ID, fileTranscript)
	if err != nil {
		return nil, err
	}
	out := []json.RawMessage{}
	if tr := files[fileTranscript]; tr != nil {
		res, err := keywords.SearchTranscript([]byte(*tr), keyword)
		if err != nil {
			// An unreadable transcript has no matches; the page must not break.
			s.log.WarnContext(ctx, "unreadable transcript", "section_id", sec.ID, "err", err)
		} else if res != nil {
			out = res
		}
	}
	s.event(ctx, "Search Tutorial Section", "tutorial_id", t.ID, "section_id", sec.ID, "keyword", keyword,
		"results", len(out))
	return out, nil
}

// readFiles reads the named files of a section; a missing file is nil.
func (s *Service) readFiles(ctx context.Context, sectionID string, names ...string) (map[string]*string, error) {
	out := make(map[string]*string, len(names))
	for _, name := range names {
		b, err := s.files.ReadFile(ctx, sectionID, name)
		if itss.IsCode(err, itss.CodeNotFound) {
			out[name] = nil
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		v := string(b)
		out[name] = &v
	}
	return out, nil
}

// recordingURL returns the link to a section's recording, or nil when it has
// none: a presigned URL when the file is in S3, else a signed /api/files URL
// (absolute for the playback page, relative for the editor, as the original).
func (s *Service) recordingURL(ctx context.Context, sectionID string, absolute bool) (*string, error) {
	info, err := s.files.Stat(ctx, sectionID, fileRecording)
	if itss.IsCode(err, itss.CodeNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("stat recording: %w", err)
	}
	return s.signedRecordingURL(ctx, sectionID, info, absolute)
}

// signedRecordingURL links to the recording described by info. A local link
// names the file's version (v, from its time and size) besides the hourly
// expiry: the file is served cacheable for an hour, so without it an author
// who records again and previews within the hour would hear the previous
// audio from the browser's cache under an unchanged URL.
func (s *Service) signedRecordingURL(ctx context.Context, sectionID string, info storage.Info, absolute bool) (*string, error) {
	u, err := s.files.PresignURL(ctx, sectionID, fileRecording, recordingURLTTL)
	if err != nil {
		return nil, fmt.Errorf("presign recording: %w", err)
	}
	if u == "" {
		// Expiry rounded to the hour: links stay identical for an hour, so the
		// browser's cache keeps the audio across page loads; each is valid for
		// 6 to 7 hours.
		exp := s.now().Truncate(time.Hour).Add(recordingURLTTL + time.Hour)
		u = "/api/files/" + sectionID + "/" + fileRecording + "?" + security.SignFileURL(s.secret, sectionID, fileRecording, exp) +
			"&v=" + strconv.FormatInt(info.ModTime.UnixNano(), 36) + "." + strconv.FormatInt(info.Size, 36)
		if absolute {
			u = s.publicURL + u
		}
	}
	return &u, nil
}
