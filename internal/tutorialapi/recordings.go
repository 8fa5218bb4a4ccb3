package tutorialapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/storage"
	"github.com/itss-go/itss/internal/store"
)

// FieldReader yields the fields of a recording upload in the order they
// arrive; NextField returns io.EOF after the last. The HTTP handler adapts a
// multipart.Reader, so nothing is buffered whole.
type FieldReader interface {
	NextField() (name string, value io.Reader, err error)
}

// actionFields are the event streams every upload carries (T10), stored as
// json.dumps(<field string>) under <name>.json.
var actionFields = []string{"keystroke", "consoleAction", "consoleScrollAction", "inputKeystrokes",
	"inputScrollAction", "layoutAction", "selectAction", "scrollAction", "editorScrollAction"}

// Bounds of the fields held in memory. The audio and the event streams are
// streamed to storage; only their encoded size counts against the body limit.
const (
	maxScalarField  = 64 << 10 // name, tutorial_type, language, code_input, duration, the id
	maxTextField    = 4 << 20  // description, code_content
	maxTranscript   = 32 << 20 // kept to compute frequent words
	maxPendingBytes = 16 << 20 // fields seen before tutorial_section_id
)

// UploadBodyLimit is the largest request body /upload_recording reads for a
// given limit of decoded audio: base64 grows it by 4/3, and the event streams
// (which repeat the editor's text in every event) get room of their own.
func UploadBodyLimit(maxAudio int64) int64 {
	return maxAudio/3*4 + 4 + 128<<20
}

// upload is the state of one SaveRecording call.
type upload struct {
	s       *Service
	id      itss.Identity
	sec     itss.Section
	t       itss.Tutorial
	stage   storage.Stage
	seen    map[string]bool
	pending []pendingField
	pendLen int
	scalars map[string]string
	texts   map[string][]byte
	audio   int64
	// spool holds the decoded audio when it arrives before the section id,
	// as the editor sends it, until the stage exists.
	spool *os.File
}

type pendingField struct {
	name string
	data []byte
}

// ErrUploadsBusy is the cause of the 429 answered when the service already
// handles its maximum of concurrent uploads.
var ErrUploadsBusy = errors.New("recording uploads: all slots busy")

// SaveRecording stores a recording of a Code section (T10): the section's
// whole file set is replaced by the uploaded one — audio (base64 in the
// "file" field, decoded as it streams), the nine event streams and the
// transcript in the original's double encoding, description and code — and
// the section row (name, type, language, input, duration, frequent_word) is
// updated in one statement once the swap succeeded. The new files are written
// completely before the old ones are replaced, so a failed or interrupted
// upload leaves the previous recording as it was. It returns the stored
// frequent_word text.
func (s *Service) SaveRecording(ctx context.Context, id itss.Identity, fields FieldReader) (string, error) {
	if err := s.caller(id); err != nil {
		return "", err
	}
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	default:
		return "", itss.Wrap(itss.CodeRateLimited, ErrUploadsBusy, "Too many recordings are being saved; try again in a moment")
	}
	u := &upload{s: s, id: id, seen: map[string]bool{}, scalars: map[string]string{}, texts: map[string][]byte{}}
	committed := false
	defer func() {
		if u.spool != nil {
			u.spool.Close()
			if err := os.Remove(u.spool.Name()); err != nil {
				s.log.ErrorContext(ctx, "remove spooled recording", "err", err)
			}
		}
		if u.stage != nil && !committed {
			// The request context may be gone (client cut off): clean up anyway.
			if err := u.stage.Abort(context.WithoutCancel(ctx)); err != nil {
				s.log.ErrorContext(ctx, "abort recording upload", "section_id", u.sec.ID, "err", err)
			}
		}
	}()
	for {
		name, r, err := fields.NextField()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", bodyError(err)
		}
		if u.seen[name] {
			// The original read the first value of a repeated field.
			if _, err := io.Copy(io.Discard, r); err != nil {
				return "", bodyError(err)
			}
			continue
		}
		u.seen[name] = true
		if err := u.field(ctx, name, r); err != nil {
			return "", err
		}
	}
	freq, err := u.finish(ctx)
	if err != nil {
		return "", err
	}
	committed = true
	return freq, nil
}

func (u *upload) field(ctx context.Context, name string, r io.Reader) error {
	switch {
	case name == "tutorial_section_id":
		v, err := readBounded(r, maxScalarField, name)
		if err != nil {
			return err
		}
		return u.begin(ctx, strings.TrimSpace(string(v)))
	case name == "file":
		return u.putAudio(ctx, r)
	case name == "transcript":
		v, err := readBounded(r, maxTranscript, name)
		if err != nil {
			return err
		}
		u.texts[name] = v
		return u.putEvent(ctx, name, v)
	case isAction(name):
		if u.stage != nil {
			return u.put(ctx, name+".json", r, newPyStringReader)
		}
		// Before the id, the field is held (bounded) until the stage exists.
		v, err := readBounded(r, maxPendingBytes-u.pendLen, name)
		if itss.IsCode(err, itss.CodeTooLarge) {
			return itss.Errorf(itss.CodeInvalid, "tutorial_section_id must come before the event fields")
		}
		if err != nil {
			return err
		}
		return u.putEvent(ctx, name, v)
	case name == "description" || name == "code_content":
		v, err := readBounded(r, maxTextField, name)
		if err != nil {
			return err
		}
		u.texts[name] = v
		return nil
	case name == "name" || name == "tutorial_type" || name == "language" || name == "code_input" || name == "duration":
		v, err := readBounded(r, maxScalarField, name)
		if err != nil {
			return err
		}
		// Form fields are raw bytes: invalid UTF-8 becomes U+FFFD, as the
		// original's form decoding made it (MySQL would refuse the row).
		u.scalars[name] = strings.ToValidUTF8(string(v), "\uFFFD")
		return nil
	default:
		// Unknown fields are read past, as the original ignored them.
		if _, err := io.Copy(io.Discard, r); err != nil {
			return bodyError(err)
		}
		return nil
	}
}

func isAction(name string) bool { return slices.Contains(actionFields, name) }

// begin authorizes the upload once the section is known and opens the stage.
func (u *upload) begin(ctx context.Context, sectionID string) error {
	if sectionID == "" {
		return itss.Errorf(itss.CodeInvalid, "Missing tutorial_section_id")
	}
	if err := checkUUID("tutorial section", sectionID); err != nil {
		return err
	}
	sec, t, err := u.s.writableSection(ctx, u.id, sectionID)
	if err != nil {
		return err
	}
	u.sec, u.t = sec, t
	if u.stage, err = u.s.files.Stage(ctx, sec.ID); err != nil {
		return fmt.Errorf("stage recording: %w", err)
	}
	for _, p := range u.pending {
		if err := u.putEvent(ctx, p.name, p.data); err != nil {
			return err
		}
	}
	u.pending = nil
	if u.spool != nil {
		if _, err := u.spool.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("rewind spooled recording: %w", err)
		}
		if err := u.stage.Put(ctx, fileRecording, u.spool); err != nil {
			return fmt.Errorf("stage recording.wav: %w", err)
		}
	}
	return nil
}

func (u *upload) putEvent(ctx context.Context, name string, data []byte) error {
	if u.stage == nil {
		u.pendLen += len(data)
		if u.pendLen > maxPendingBytes {
			return itss.Errorf(itss.CodeInvalid, "tutorial_section_id must come before the event fields")
		}
		u.pending = append(u.pending, pendingField{name, data})
		return nil
	}
	return u.put(ctx, name+".json", bytes.NewReader(pyQuote(string(data))), nil)
}

// put streams r, through encode when not nil, into the stage. A failure to
// read r is the request's (a 4xx: cut off, over the limit); any other is the
// store's.
func (u *upload) put(ctx context.Context, file string, r io.Reader, encode func(io.Reader) *pyStringReader) error {
	src := &trackingReader{r: r}
	var in io.Reader = src
	if encode != nil {
		in = encode(src)
	}
	err := u.stage.Put(ctx, file, in)
	if src.err != nil {
		return bodyError(src.err)
	}
	if err != nil {
		return fmt.Errorf("stage %s: %w", file, err)
	}
	return nil
}

// putAudio decodes the base64 field as it streams into recording.wav. An
// empty field writes nothing (a recording without audio, as without a mic).
// The editor sends the audio first, before tutorial_section_id: then it is
// decoded into a temporary file (bounded like the rest), authorized and
// staged once the section is known.
func (u *upload) putAudio(ctx context.Context, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	// Tolerate a data: URL prefix; the frontend sends bare base64.
	if head, _ := br.Peek(5); string(head) == "data:" {
		if _, err := br.ReadString(','); err != nil {
			return itss.Errorf(itss.CodeInvalid, "Invalid file: not base64 audio")
		}
	}
	src := &trackingReader{r: &limitedReader{
		r: base64.NewDecoder(base64.StdEncoding, br), left: u.s.maxUpload}}
	audio := bufio.NewReaderSize(src, 64<<10)
	if _, err := audio.Peek(1); errors.Is(err, io.EOF) {
		return nil
	} else if err != nil {
		return audioError(err)
	}
	if u.stage == nil {
		return u.spoolAudio(audio, src)
	}
	if err := u.stage.Put(ctx, fileRecording, audio); err != nil {
		if src.err != nil {
			return audioError(src.err)
		}
		return fmt.Errorf("stage recording.wav: %w", err)
	}
	if src.err != nil {
		return audioError(src.err)
	}
	u.audio = src.n
	return nil
}

// spoolAudio keeps decoded audio that came before the section id in a
// temporary file, removed when the upload ends whatever its outcome.
func (u *upload) spoolAudio(audio io.Reader, src *trackingReader) error {
	f, err := os.CreateTemp(u.s.spoolDir, "itss-upload-*.wav")
	if err != nil {
		return fmt.Errorf("spool recording: %w", err)
	}
	u.spool = f
	if _, err := io.Copy(f, audio); err != nil {
		if src.err != nil {
			return audioError(src.err)
		}
		return fmt.Errorf("spool recording: %w", err)
	}
	if src.err != nil {
		return audioError(src.err)
	}
	u.audio = src.n
	return nil
}

func audioError(err error) error {
	var corrupt base64.CorruptInputError
	switch {
	case errors.As(err, &corrupt):
		return itss.Errorf(itss.CodeInvalid, "Invalid file: not base64 audio")
	case errors.Is(err, errAudioTooLarge):
		return itss.Errorf(itss.CodeTooLarge, "Recording exceeds the upload limit")
	}
	return bodyError(err)
}

// finish checks the upload is complete, writes the remaining files, updates
// the row and swaps the file sets.
func (u *upload) finish(ctx context.Context) (string, error) {
	if u.stage == nil {
		return "", itss.Errorf(itss.CodeInvalid, "Missing tutorial_section_id")
	}
	for _, a := range actionFields {
		if !u.seen[a] {
			return "", itss.Errorf(itss.CodeInvalid, "Missing required field: %s", a)
		}
	}
	p, err := u.patch()
	if err != nil {
		return "", err
	}
	for _, f := range []struct{ field, file string }{{"description", fileDescription}, {"code_content", fileCode}} {
		if v, ok := u.texts[f.field]; ok {
			if err := u.put(ctx, f.file, bytes.NewReader(v), nil); err != nil {
				return "", err
			}
		}
	}
	var desc, transcript *string
	if v, ok := u.texts["description"]; ok {
		d := string(v)
		desc = &d
	}
	if v, ok := u.texts["transcript"]; ok {
		tr := string(pyQuote(string(v)))
		transcript = &tr
	}
	freq := frequentWords(desc, transcript)
	p.FrequentWord = &freq
	// Files first, then the row in one statement: no transaction stays open
	// while the file set is swapped (on S3 a copy per file), which on SQLite
	// would hold the only write lock and stall every other writer. A failed
	// swap leaves the previous recording and row; a failed row update after
	// it leaves the new files with the old title and duration, and an error
	// the editor answers by saving again.
	if err := u.stage.Commit(ctx); err != nil {
		return "", fmt.Errorf("commit recording: %w", err)
	}
	if err := u.s.db.UpdateSection(ctx, u.sec.ID, p); err != nil {
		return "", fmt.Errorf("update section: %w", err)
	}
	u.s.event(ctx, "Upload Tutorial Section", "owner_id", u.t.UserID, "tutorial_id", u.t.ID, "section_id", u.sec.ID,
		"audio_bytes", u.audio, "duration", p.Duration)
	return freq, nil
}

// patch validates the row fields of the upload. Empty values keep the
// stored ones, except code_input, which may be empty.
func (u *upload) patch() (store.SectionPatch, error) {
	opt := func(k string) *string {
		if v, ok := u.scalars[k]; ok && (v != "" || k == "code_input") {
			return &v
		}
		return nil
	}
	p, err := sectionPatch(opt("name"), opt("tutorial_type"), opt("language"), opt("code_input"))
	if err != nil {
		return p, err
	}
	if v, ok := u.scalars["duration"]; ok && strings.TrimSpace(v) != "" {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || f > math.MaxInt32 || math.IsNaN(f) {
			return p, itss.Errorf(itss.CodeInvalid, "Invalid duration: Must be a number of milliseconds")
		}
		d := int64(math.Round(f))
		p.Duration = &d
	}
	return p, nil
}

// readBounded reads a field held in memory; over max it is a 413.
func readBounded(r io.Reader, max int, field string) ([]byte, error) {
	if max < 0 {
		max = 0
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, bodyError(err)
	}
	if len(b) > max {
		return nil, itss.Errorf(itss.CodeTooLarge, "Field too large: %s", field)
	}
	return b, nil
}

// bodyError maps a failure reading the request body.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return itss.Errorf(itss.CodeTooLarge, "Request body too large")
	}
	var ie *itss.Error
	if errors.As(err, &ie) {
		return err
	}
	return itss.Wrap(itss.CodeInvalid, err, "Malformed multipart body")
}

var errAudioTooLarge = errors.New("decoded audio over the limit")

// limitedReader fails (rather than stopping short, like io.LimitReader) once
// more than left bytes have been read.
type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, errAudioTooLarge
	}
	return n, err
}

// trackingReader remembers the first read error and the bytes read, so the
// cause of a failed Put is known whatever the storage backend wraps it in.
type trackingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) && t.err == nil {
		t.err = err
	}
	return n, err
}
