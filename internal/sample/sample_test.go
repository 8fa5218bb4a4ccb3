package sample_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/sample"
	"github.com/itss-go/itss/internal/storage"
	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/store/storetest"
)

func newStorage(t *testing.T) storage.Backend {
	t.Helper()
	dir := t.TempDir()
	b, err := storage.New(context.Background(), storage.Options{Type: "local",
		RecordingsPath: filepath.Join(dir, "recordings"), LayoutsPath: filepath.Join(dir, "layouts")})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnsureCreatesAPublishedSampleOnceAndRestoresFiles(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		files := newStorage(t)
		// Two replicas starting at once, then a restart.
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for range 2 {
			wg.Go(func() { errs <- sample.Ensure(ctx, db, files) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent Ensure: %v", err)
			}
		}
		if err := sample.Ensure(ctx, db, files); err != nil {
			t.Fatalf("second Ensure: %v", err)
		}
		tu, err := db.TutorialByID(ctx, sample.TutorialID)
		if err != nil {
			t.Fatal(err)
		}
		if !tu.Published(time.Now()) || tu.Language != "python" {
			t.Fatalf("sample %+v is not a published Python tutorial", tu)
		}
		owner, err := db.UserByID(ctx, tu.UserID)
		if err != nil || owner.Name != sample.OwnerName {
			t.Fatalf("owner %+v: %v", owner, err)
		}
		secs, err := db.SectionsByTutorial(ctx, sample.TutorialID)
		if err != nil || len(secs) != 2 {
			t.Fatalf("sections %+v: %v", secs, err)
		}
		if secs[0].ID != sample.CodeSectionID || secs[0].TutorialType != itss.SectionCode ||
			secs[1].ID != sample.QuestionSectionID || secs[1].TutorialType != itss.SectionQuestion {
			t.Fatalf("sections %+v", secs)
		}
		var words []string
		if err := json.Unmarshal([]byte(*secs[0].FrequentWord), &words); err != nil || len(words) == 0 {
			t.Fatalf("frequent_word %q", *secs[0].FrequentWord)
		}
		if *secs[0].Duration != sample.RecordingDuration {
			t.Fatalf("duration %d", *secs[0].Duration)
		}
		cards, err := db.PublishedTutorials(ctx, time.Now(), 0)
		if err != nil || len(cards) != 1 || cards[0].AuthorName != sample.OwnerName {
			t.Fatalf("catalogue %+v: %v", cards, err)
		}
		// A lost file comes back on the next start.
		if err := files.DeleteSection(ctx, sample.CodeSectionID); err != nil {
			t.Fatal(err)
		}
		if err := sample.Ensure(ctx, db, files); err != nil {
			t.Fatal(err)
		}
		got, err := files.ReadFile(ctx, sample.CodeSectionID, "recording.wav")
		if err != nil || !bytes.Equal(got, sample.Recording()) {
			t.Fatalf("recording not restored: %v", err)
		}
	})
}

func TestContentIsInTheOriginalsFormats(t *testing.T) {
	t.Parallel()
	code, err := sample.CodeFiles()
	if err != nil {
		t.Fatal(err)
	}
	// Event streams and the transcript are double-encoded: a JSON string
	// whose content is a JSON array, as the frontend JSON.parses twice.
	for _, name := range []string{"keystroke.json", "consoleAction.json", "consoleScrollAction.json",
		"inputKeystrokes.json", "inputScrollAction.json", "layoutAction.json", "selectAction.json",
		"scrollAction.json", "editorScrollAction.json", "transcript.json"} {
		var inner string
		if err := json.Unmarshal(code[name], &inner); err != nil {
			t.Fatalf("%s: not a JSON string: %v", name, err)
		}
		var events []map[string]any
		if err := json.Unmarshal([]byte(inner), &events); err != nil {
			t.Fatalf("%s: inner text is not an array: %v", name, err)
		}
		for _, ev := range events {
			if ts, ok := ev["timestamp"].(float64); !ok || ts < 0 || ts > sample.RecordingDuration {
				t.Fatalf("%s: event %v outside the recording", name, ev)
			}
		}
	}
	for _, name := range []string{"description.md", "code_content.txt", "recording.wav"} {
		if len(code[name]) == 0 {
			t.Fatalf("%s missing", name)
		}
	}
	q, err := sample.QuestionFiles()
	if err != nil {
		t.Fatal(err)
	}
	var quiz struct {
		QuizTitle string `json:"quizTitle"`
		Questions []struct {
			Question            string   `json:"question"`
			QuestionType        string   `json:"questionType"`
			AnswerSelectionType string   `json:"answerSelectionType"`
			Answers             []string `json:"answers"`
			CorrectAnswer       string   `json:"correctAnswer"`
			Point               string   `json:"point"`
		} `json:"questions"`
	}
	if err := json.Unmarshal(q["question.json"], &quiz); err != nil || quiz.QuizTitle == "" || len(quiz.Questions) == 0 {
		t.Fatalf("question.json: %v", err)
	}
	for _, qu := range quiz.Questions {
		if qu.QuestionType != "text" || qu.AnswerSelectionType != "single" || len(qu.Answers) == 0 ||
			len(qu.Answers) > 4 || qu.CorrectAnswer == "" || qu.Point == "" {
			t.Fatalf("question %+v is not in the react-quiz-component format", qu)
		}
	}
}

func TestRecordingIsAValidShortPCMWAV(t *testing.T) {
	t.Parallel()
	w := sample.Recording()
	le := binary.LittleEndian
	if string(w[0:4]) != "RIFF" || string(w[8:16]) != "WAVEfmt " || string(w[36:40]) != "data" {
		t.Fatal("not a RIFF/WAVE file")
	}
	if int(le.Uint32(w[4:8])) != len(w)-8 || int(le.Uint32(w[40:44])) != len(w)-44 {
		t.Fatal("chunk sizes do not match the file")
	}
	format, channels, rate, bits := le.Uint16(w[20:22]), le.Uint16(w[22:24]), le.Uint32(w[24:28]), le.Uint16(w[34:36])
	if format != 1 || channels != 1 || bits != 16 {
		t.Fatalf("format %d, %d channels, %d bits", format, channels, bits)
	}
	secs := float64(len(w)-44) / float64(rate) / 2
	if secs < 1 || secs > 2 {
		t.Fatalf("%.2f s long", secs)
	}
	if !bytes.Equal(w, sample.Recording()) {
		t.Fatal("not deterministic")
	}
}
