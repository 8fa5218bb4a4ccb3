package tutorialapi

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/storage"
)

// Event files of a recording, returned verbatim (double-encoded JSON text).
const (
	fileKeystroke          = "keystroke.json"
	fileConsoleAction      = "consoleAction.json"
	fileConsoleScroll      = "consoleScrollAction.json"
	fileInputKeystrokes    = "inputKeystrokes.json"
	fileInputScroll        = "inputScrollAction.json"
	fileLayoutAction       = "layoutAction.json"
	fileSelectAction       = "selectAction.json"
	fileScrollAction       = "scrollAction.json"
	fileEditorScrollAction = "editorScrollAction.json"
)

// defaultScroll is what the original returned for a missing scroll-event
// file: the double encoding of [{"timestamp":0,"scroll":0}].
const defaultScroll = `"[{\"timestamp\":0,\"scroll\":0}]"`

// pageHeader is common to both page kinds of T8.
type pageHeader struct {
	TutorialName      string   `json:"tutorial_name"`
	TutorialPages     []string `json:"tutorial_pages"`
	TutorialPage      int      `json:"tutorial_page"`
	TutorialType      string   `json:"tutorial_type"`
	TutorialSectionID string   `json:"tutorial_section_id"`
}

// CodePage is a Code page of the playback view (T8). Every event field is
// either null or the stored double-encoded text, never "": the frontend
// JSON.parses each twice.
type CodePage struct {
	pageHeader
	Language            string  `json:"language"`
	Version             *string `json:"version"`
	Duration            *int64  `json:"duration"`
	Description         *string `json:"description"`
	Keystroke           *string `json:"keystroke"`
	ConsoleAction       *string `json:"consoleAction"`
	ConsoleScrollAction string  `json:"consoleScrollAction"`
	LayoutAction        *string `json:"layoutAction"`
	SelectAction        *string `json:"selectAction"`
	ScrollAction        *string `json:"scrollAction"`
	EditorScrollAction  string  `json:"editorScrollAction"`
	Recording           *string `json:"recording"`
	Transcript          *string `json:"transcript"`
	FrequentWord        *string `json:"frequent_word"`
	InputIDE            *string `json:"input_ide"`
	InputKeystrokes     *string `json:"inputKeystrokes"`
	InputScrollAction   string  `json:"inputScrollAction"`
}

// QuestionPage is a Question page of the playback view (T8): question is the
// quiz's JSON text, parsed once by the frontend.
type QuestionPage struct {
	pageHeader
	Question *string `json:"question"`
}

// PlaybackPage returns page (1-based) of a tutorial for the playback view
// (T8): a *CodePage or a *QuestionPage. userID is the user in the path; when
// the session's role is learner (for anonymous callers in optional mode: the
// user's stored current role, as the original did), the page is recorded as
// their progress.
func (s *Service) PlaybackPage(ctx context.Context, id itss.Identity, tutorialID string, page int, userID int64) (any, error) {
	if err := checkUUID("tutorial", tutorialID); err != nil {
		return nil, err
	}
	if page < 1 {
		return nil, itss.Errorf(itss.CodeInvalid, "Invalid page ID")
	}
	if userID < 1 {
		return nil, itss.Errorf(itss.CodeInvalid, "Invalid user ID")
	}
	if err := s.caller(id); err != nil {
		return nil, err
	}
	if err := s.sameUser(id, userID); err != nil {
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
	ids, _, perr := itss.ParseSequence(t.Sequence)
	// An unreadable sequence still shows the sections, in creation order.
	pages := orderSections(ids, secs, perr != nil)
	if page > len(pages) {
		return nil, itss.Errorf(itss.CodeNotFound, "Invalid Page.")
	}
	sec := pages[page-1]
	hdr := pageHeader{TutorialName: t.Name, TutorialPages: make([]string, len(pages)), TutorialPage: page - 1,
		TutorialType: sec.TutorialType, TutorialSectionID: sec.ID}
	for i, p := range pages {
		hdr.TutorialPages[i] = p.Name
	}
	var out any
	switch sec.TutorialType {
	case itss.SectionCode:
		out, err = s.codePage(ctx, hdr, t, sec)
	case itss.SectionQuestion:
		var files map[string]*string
		if files, err = s.readFiles(ctx, sec.ID, fileQuestion); err == nil {
			out = &QuestionPage{pageHeader: hdr, Question: files[fileQuestion]}
		}
	default:
		return nil, itss.Errorf(itss.CodeNotFound, msgSectionNotFound)
	}
	if err != nil {
		return nil, err
	}
	if err := s.recordProgress(ctx, id, userID, t.ID, page); err != nil {
		return nil, err
	}
	s.event(ctx, "Open Tutorial", "user_id", userID, "tutorial_id", t.ID, "page", page, "section_id", sec.ID)
	return out, nil
}

func (s *Service) codePage(ctx context.Context, hdr pageHeader, t itss.Tutorial, sec itss.Section) (*CodePage, error) {
	names := []string{fileDescription, fileKeystroke, fileConsoleAction, fileConsoleScroll, fileLayoutAction,
		fileSelectAction, fileScrollAction, fileEditorScrollAction, fileTranscript, fileInputKeystrokes,
		fileInputScroll}
	files, recording, err := s.readPresent(ctx, sec.ID, names)
	if err != nil {
		return nil, err
	}
	ev := func(name string) *string { return eventText(files[name]) }
	p := &CodePage{
		pageHeader: hdr, Language: t.Language, Version: s.version(t.Language), Duration: sec.Duration,
		Description: files[fileDescription], Keystroke: ev(fileKeystroke),
		ConsoleAction: ev(fileConsoleAction), ConsoleScrollAction: orDefault(ev(fileConsoleScroll)),
		LayoutAction: ev(fileLayoutAction), SelectAction: ev(fileSelectAction),
		ScrollAction: ev(fileScrollAction), EditorScrollAction: orDefault(ev(fileEditorScrollAction)),
		Transcript: ev(fileTranscript), FrequentWord: frequentWordJSON(sec.FrequentWord),
		InputIDE: sec.CodeInput, InputKeystrokes: ev(fileInputKeystrokes),
		InputScrollAction: orDefault(ev(fileInputScroll)),
	}
	if recording != nil {
		if p.Recording, err = s.signedRecordingURL(ctx, sec.ID, *recording, true); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// eventText is a stored event file as the page gets it: an empty file (the
// original's shared temporary files could leave one) counts as missing, since
// the frontend's JSON.parse("") would throw and blank the page.
func eventText(v *string) *string {
	if v == nil || strings.TrimSpace(*v) == "" {
		return nil
	}
	return v
}

func orDefault(v *string) string {
	if v == nil {
		return defaultScroll
	}
	return *v
}

// readPresent lists a section's files once and reads those of names that
// exist, in parallel (one round trip each on S3, so latency adds up
// otherwise). It also returns the recording's listing, nil when it has none.
func (s *Service) readPresent(ctx context.Context, sectionID string, names []string) (map[string]*string, *storage.Info, error) {
	list, err := s.files.List(ctx, sectionID)
	if err != nil && !itss.IsCode(err, itss.CodeNotFound) {
		return nil, nil, fmt.Errorf("list files: %w", err)
	}
	present := make(map[string]bool, len(list))
	var recording *storage.Info
	for i, f := range list {
		present[f.Name] = true
		if f.Name == fileRecording {
			recording = &list[i]
		}
	}
	out := make(map[string]*string, len(names))
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
	)
	// Absent files are simply absent from out (a nil lookup).
	for _, name := range names {
		if !present[name] {
			continue
		}
		wg.Go(func() {
			b, err := s.files.ReadFile(ctx, sectionID, name)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case itss.IsCode(err, itss.CodeNotFound): // deleted since the listing
			case err != nil:
				if firstErr == nil {
					firstErr = fmt.Errorf("read %s: %w", name, err)
				}
			default:
				v := string(b)
				out[name] = &v
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, nil, firstErr
	}
	return out, recording, nil
}

// recordProgress stores page as userID's last page of the tutorial when the
// acting role is learner. Authors previewing are not tracked.
func (s *Service) recordProgress(ctx context.Context, id itss.Identity, userID int64, tutorialID string, page int) error {
	if id.Anonymous() {
		u, err := s.db.UserByID(ctx, userID)
		if itss.IsCode(err, itss.CodeNotFound) {
			return nil // the original failed here; serving the page is kinder
		}
		if err != nil {
			return fmt.Errorf("load user: %w", err)
		}
		if u.CurrentRole == nil || *u.CurrentRole != string(itss.RoleLearner) {
			return nil
		}
	} else if id.Role != itss.RoleLearner {
		return nil
	}
	if err := s.db.UpsertProgress(ctx, userID, tutorialID, page); err != nil {
		return fmt.Errorf("record progress: %w", err)
	}
	return nil
}
