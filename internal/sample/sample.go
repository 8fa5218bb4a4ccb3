// Package sample holds the built-in sample tutorial: a published Python
// tutorial with a recorded Code section (a short real WAV, the event streams
// and the transcript in the original system's double-encoded file formats)
// and a Question section in the react-quiz-component format. Guest authors get
// a copy of it (API.md A11) and learners of a fresh install have something to
// open. Ensure creates it; it runs at tutorial-service start and from
// `itssctl db seed`, and is idempotent.
package sample

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"time"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/keywords"
	"github.com/itss-go/itss/internal/security"
	"github.com/itss-go/itss/internal/storage"
	"github.com/itss-go/itss/internal/store"
)

// Well-known ids, so that every installation (and SAMPLE_TUTORIAL_ID's
// default) names the same tutorial.
const (
	TutorialID        = "5a3c1e00000040008000000000000001"
	CodeSectionID     = "5a3c1e00000040008000000000000002"
	QuestionSectionID = "5a3c1e00000040008000000000000003"
)

// The sample belongs to a system account that cannot log in: its e-mail is
// under the reserved .invalid domain and its password is a random secret
// nobody knows. The catalogue shows the owner's name on the card.
const (
	OwnerName  = "ITSS Sample"
	OwnerEmail = "sample@itss.invalid"
)

const (
	tutorialName        = "Sample: Hello, Python"
	tutorialDescription = "A short sample tutorial: watch a recorded coding session, then answer a quiz."
	codeSectionName     = "Hello, Python"
	questionSectionName = "Check your understanding"
	codeInput           = "Ada"
	// RecordingDuration is the length of the sample recording in ms; the
	// event streams and the transcript fit inside it.
	RecordingDuration = 1800
)

// published is the start of the sample's publication window: in the past, so
// learners see it at once; no end.
var published = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

//go:embed content
var content embed.FS

// Ensure creates the sample tutorial, its owner and its files when missing,
// and restores missing files of an existing sample. Running it again, or on
// several replicas at once, changes nothing.
func Ensure(ctx context.Context, db *store.DB, files storage.Backend) error {
	codeFiles, err := CodeFiles()
	if err != nil {
		return err
	}
	questionFiles, err := QuestionFiles()
	if err != nil {
		return err
	}
	// Files first: whoever sees the rows finds the files.
	if err := ensureFiles(ctx, files, CodeSectionID, codeFiles); err != nil {
		return err
	}
	if err := ensureFiles(ctx, files, QuestionSectionID, questionFiles); err != nil {
		return err
	}
	if _, err := db.TutorialByID(ctx, TutorialID); err == nil {
		return nil
	} else if !itss.IsCode(err, itss.CodeNotFound) {
		return fmt.Errorf("sample tutorial: look up: %w", err)
	}
	owner, err := ensureOwner(ctx, db)
	if err != nil {
		return err
	}
	err = createRows(ctx, db, owner, codeFiles)
	if err != nil {
		// Another replica may have created it meanwhile.
		if _, again := db.TutorialByID(ctx, TutorialID); again == nil {
			return nil
		}
		return fmt.Errorf("sample tutorial: create: %w", err)
	}
	return nil
}

func createRows(ctx context.Context, db *store.DB, owner int64, codeFiles map[string][]byte) error {
	words := keywords.FrequentWords(string(codeFiles["description.md"]), keywords.TranscriptTexts(codeFiles["transcript.json"]))
	freq := itss.FormatSequence(words)
	empty := itss.FormatSequence(nil)
	start := published
	desc := tutorialDescription
	lang := "python"
	input := codeInput
	duration := int64(RecordingDuration)
	zero := int64(0)
	return db.InTx(ctx, func(tx *store.DB) error {
		if err := tx.CreateTutorial(ctx, itss.Tutorial{
			ID: TutorialID, Name: tutorialName, Language: lang, Sequence: &empty,
			UserID: owner, StartDate: &start, Description: &desc,
		}); err != nil {
			return err
		}
		if err := tx.CreateSection(ctx, itss.Section{
			ID: CodeSectionID, Name: codeSectionName, TutorialType: itss.SectionCode, CodeInput: &input,
			Language: &lang, FrequentWord: &freq, Duration: &duration, TutorialID: TutorialID,
		}); err != nil {
			return err
		}
		return tx.CreateSection(ctx, itss.Section{
			ID: QuestionSectionID, Name: questionSectionName, TutorialType: itss.SectionQuestion,
			Language: &lang, FrequentWord: &empty, Duration: &zero, TutorialID: TutorialID,
		})
	})
}

// ensureOwner returns the id of the sample's owner, creating the account.
func ensureOwner(ctx context.Context, db *store.DB) (int64, error) {
	if a, err := db.AuthByEmail(ctx, OwnerEmail); err == nil {
		return a.UserID, nil
	} else if !itss.IsCode(err, itss.CodeNotFound) {
		return 0, fmt.Errorf("sample owner: look up: %w", err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return 0, fmt.Errorf("sample owner: secret: %w", err)
	}
	hash, err := security.NewHasher(security.DefaultArgon2Params(), 1).Hash(ctx, hex.EncodeToString(secret))
	if err != nil {
		return 0, fmt.Errorf("sample owner: hash: %w", err)
	}
	role := string(itss.RoleAuthor)
	u, _, err := db.CreateFormUser(ctx, OwnerName, role, OwnerEmail, hash, &role)
	if err != nil {
		if a, again := db.AuthByEmail(ctx, OwnerEmail); again == nil {
			return a.UserID, nil
		}
		return 0, fmt.Errorf("sample owner: create: %w", err)
	}
	return u.ID, nil
}

func ensureFiles(ctx context.Context, files storage.Backend, sectionID string, want map[string][]byte) error {
	have := map[string]bool{}
	list, err := files.List(ctx, sectionID)
	if err != nil && !itss.IsCode(err, itss.CodeNotFound) {
		return fmt.Errorf("sample files: list %s: %w", sectionID, err)
	}
	for _, f := range list {
		have[f.Name] = true
	}
	for name, data := range want {
		if have[name] {
			continue
		}
		if err := files.PutFile(ctx, sectionID, name, bytes.NewReader(data)); err != nil {
			return fmt.Errorf("sample files: write %s/%s: %w", sectionID, name, err)
		}
	}
	return nil
}

// CodeFiles returns the stored files of the Code section, by file name: the
// embedded description, code and event streams plus the generated recording.
func CodeFiles() (map[string][]byte, error) {
	out, err := readDir("content/code")
	if err != nil {
		return nil, err
	}
	out["recording.wav"] = Recording()
	return out, nil
}

// QuestionFiles returns the stored files of the Question section.
func QuestionFiles() (map[string][]byte, error) { return readDir("content/question") }

func readDir(dir string) (map[string][]byte, error) {
	entries, err := fs.ReadDir(content, dir)
	if err != nil {
		return nil, fmt.Errorf("sample content: %w", err)
	}
	out := make(map[string][]byte, len(entries)+1)
	for _, e := range entries {
		b, err := content.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("sample content: %w", err)
		}
		if !storage.ValidFileName(e.Name()) {
			return nil, errors.New("sample content: unexpected file " + e.Name())
		}
		out[e.Name()] = b
	}
	return out, nil
}

// Recording returns the sample's audio: a 1.8 s, 8 kHz, mono, 16-bit PCM WAV
// of a three-note chime. It is generated rather than stored so that the
// repository holds no binary blob; the output is deterministic.
func Recording() []byte {
	const rate = 8000
	n := rate * RecordingDuration / 1000
	notes := []float64{523.25, 659.25, 783.99} // C5 E5 G5
	per := n / len(notes)
	var pcm bytes.Buffer
	pcm.Grow(n * 2)
	for i := range n {
		k := min(i/per, len(notes)-1)
		t := float64(i-k*per) / rate
		dur := float64(per) / rate
		env := math.Min(1, t/0.02) * math.Min(1, (dur-t)/0.08) // click-free attack and release
		v := 0.3 * env * math.Sin(2*math.Pi*notes[k]*t)
		_ = binary.Write(&pcm, binary.LittleEndian, int16(v*math.MaxInt16))
	}
	var b bytes.Buffer
	writeWAVHeader(&b, rate, 1, 16, pcm.Len())
	b.Write(pcm.Bytes())
	return b.Bytes()
}

func writeWAVHeader(w io.Writer, rate, channels, bits, dataLen int) {
	le := binary.LittleEndian
	blockAlign := channels * bits / 8
	hdr := make([]byte, 44)
	copy(hdr[0:], "RIFF")
	le.PutUint32(hdr[4:], uint32(36+dataLen))
	copy(hdr[8:], "WAVEfmt ")
	le.PutUint32(hdr[16:], 16) // fmt chunk size
	le.PutUint16(hdr[20:], 1)  // PCM
	le.PutUint16(hdr[22:], uint16(channels))
	le.PutUint32(hdr[24:], uint32(rate))
	le.PutUint32(hdr[28:], uint32(rate*blockAlign))
	le.PutUint16(hdr[32:], uint16(blockAlign))
	le.PutUint16(hdr[34:], uint16(bits))
	copy(hdr[36:], "data")
	le.PutUint32(hdr[40:], uint32(dataLen))
	_, _ = w.Write(hdr)
}
