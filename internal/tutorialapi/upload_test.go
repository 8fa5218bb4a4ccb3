package tutorialapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/store/storetest"
)

func postUpload(e *env, fields []field, auth string) map[string]any {
	e.t.Helper()
	body, ct := multipartBody(fields)
	w := e.req("POST", "/upload_recording", body, auth, "Content-Type", ct)
	return wantStatus(e.t, w, 200)
}

// TestUploadWritesTheOriginalsFilesByteForByte replays the golden upload:
// the stored event files must be what the original wrote for the same form.
func TestUploadWritesTheOriginalsFilesByteForByte(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetestOpen(t), envOptions{})
	f := e.newTutorial(false)
	dir := filepath.Join("testdata/legacy/recordings", legacySID)
	golden := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		must(t, err)
		return b
	}
	// Each golden event file is json.dumps(<field>): its field is one decode away.
	fieldOf := func(name string) string {
		var s string
		must(t, json.Unmarshal(golden(name+".json"), &s))
		return s
	}
	fields := []field{textField("tutorial_section_id", f.code)}
	for _, a := range append(actionFields[:len(actionFields):len(actionFields)], "transcript") {
		fields = append(fields, textField(a, fieldOf(a)))
	}
	wav := testWAV(3000)
	fields = append(fields, textField("name", "Hello World"), textField("tutorial_type", "Code"),
		textField("language", "python"), textField("description", string(golden(fileDescription))),
		textField("code_content", string(golden(fileCode))), textField("code_input", ""), textField("duration", "9"),
		field{"file", strings.NewReader(base64.StdEncoding.EncodeToString(wav))})
	m := postUpload(e, fields, ownerC)
	if m["message"] != "success" {
		t.Fatalf("response %v", m)
	}
	var words []string
	if err := json.Unmarshal([]byte(m["frequent_word"].(string)), &words); err != nil || len(words) == 0 {
		t.Fatalf("frequent_word %q", m["frequent_word"])
	}
	entries, err := os.ReadDir(dir)
	must(t, err)
	for _, ent := range entries {
		got, err := e.files.ReadFile(t.Context(), f.code, ent.Name())
		must(t, err)
		if !bytes.Equal(got, golden(ent.Name())) {
			t.Errorf("%s:\n got  %q\n want %q", ent.Name(), got, golden(ent.Name()))
		}
	}
	got, err := e.files.ReadFile(t.Context(), f.code, fileRecording)
	if err != nil || !bytes.Equal(got, wav) {
		t.Fatalf("recording.wav differs (%v)", err)
	}
	sec, err := e.db.SectionByID(t.Context(), f.code)
	must(t, err)
	if *sec.Duration != 9 || *sec.CodeInput != "" || *sec.FrequentWord != m["frequent_word"] {
		t.Fatalf("row %+v", sec)
	}
}

func TestUploadErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetestOpen(t), envOptions{maxUpload: 64 << 10})
	f := e.newTutorial(false)
	before, err := e.files.ReadFile(t.Context(), f.code, fileRecording)
	must(t, err)
	without := func(name string) []field {
		var out []field
		for _, fl := range recordingFields(f.code, testWAV(100)) {
			if fl.name != name {
				out = append(out, fl)
			}
		}
		return out
	}
	withValue := func(name string, v io.Reader) []field {
		out := without(name)
		return append(out, field{name, v})
	}
	cases := []struct {
		name   string
		fields []field
		status int
		msg    string
	}{
		{"missing-keystroke/400", without("keystroke"), 400, "Missing required field: keystroke"},
		{"missing-section-id/400", without("tutorial_section_id"), 400, "Missing tutorial_section_id"},
		{"bad-section-id/400", append([]field{textField("tutorial_section_id", "not-a-uuid")}, without("tutorial_section_id")...),
			400, "Invalid tutorial section ID: Invalid UUID format"},
		{"unknown-section/404", append([]field{textField("tutorial_section_id", strings.Repeat("f", 32))}, without("tutorial_section_id")...),
			404, "Tutorial Section not found."},
		{"file-not-base64/400", withValue("file", strings.NewReader("!!!! not base64 ****")), 400, "Invalid file: not base64 audio"},
		{"audio-over-limit/413", withValue("file", strings.NewReader(base64.StdEncoding.EncodeToString(testWAV(64<<10)))), 413,
			"Recording exceeds the upload limit"},
		{"bad-duration/400", withValue("duration", strings.NewReader("soon")), 400, ""},
		{"bad-language/400", withValue("language", strings.NewReader("cobol")), 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, ct := multipartBody(c.fields)
			m := wantStatus(t, e.req("POST", "/upload_recording", body, ownerC, "Content-Type", ct), c.status)
			if c.msg != "" && m["message"] != c.msg {
				t.Fatalf("message %q, want %q", m["message"], c.msg)
			}
			after, err := e.files.ReadFile(t.Context(), f.code, fileRecording)
			if err != nil || !bytes.Equal(after, before) {
				t.Fatalf("a failed upload changed the recording (%v)", err)
			}
		})
	}
	t.Run("declared-length-over-limit/413", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/upload_recording", strings.NewReader("x"))
		r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		r.Header.Set("Authorization", "Bearer "+e.token(ownerC))
		r.ContentLength = UploadBodyLimit(64<<10) + 1
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		wantStatus(t, w, 413)
	})
}

// failAfter yields n bytes of r, then fails as a dropped connection does.
type failAfter struct {
	r io.Reader
	n int
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestUploadCutOffMidwayKeepsTheEarlierRecording(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db, envOptions{})
		f := e.newTutorial(false)
		ctx := t.Context()
		before := map[string][]byte{}
		list, err := e.files.List(ctx, f.code)
		must(t, err)
		for _, fi := range list {
			before[fi.Name], err = e.files.ReadFile(ctx, f.code, fi.Name)
			must(t, err)
		}
		rowBefore, err := db.SectionByID(ctx, f.code)
		must(t, err)

		// Through HTTP: the body stops halfway through the audio.
		fields := recordingFields(f.code, testWAV(200000))
		fields[0] = textField("tutorial_section_id", f.code)
		for i := range fields {
			if fields[i].name == "name" {
				fields[i] = textField("name", "Renamed by the lost upload")
			}
		}
		body, ct := multipartBody(fields)
		w := e.req("POST", "/upload_recording", &failAfter{r: body, n: 200000}, ownerC, "Content-Type", ct)
		wantStatus(t, w, 400)

		// Through HTTP again: cut inside a large event field.
		big := recordingFields(f.code, testWAV(100))
		for i := range big {
			if big[i].name == "keystroke" {
				big[i] = textField("keystroke", `[{"content":"`+strings.Repeat("x", 1<<20)+`","timestamp":0}]`)
			}
		}
		body, ct = multipartBody(big)
		w = e.req("POST", "/upload_recording", &failAfter{r: body, n: 600000}, ownerC, "Content-Type", ct)
		wantStatus(t, w, 400)

		// Through the Service: the audio reader fails.
		cut := recordingFields(f.code, nil)
		cut = append(cut, field{"file", &failAfter{r: strings.NewReader(strings.Repeat("QUJD", 100000)), n: 50000}})
		if _, err := e.svc.SaveRecording(ctx, e.ident(ownerC), memFields(cut)); err == nil {
			t.Fatal("a failed audio stream was accepted")
		}

		list, err = e.files.List(ctx, f.code)
		must(t, err)
		if len(list) != len(before) {
			t.Fatalf("files %v, want %d files", list, len(before))
		}
		for name, want := range before {
			got, err := e.files.ReadFile(ctx, f.code, name)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s changed (%v)", name, err)
			}
		}
		rowAfter, err := db.SectionByID(ctx, f.code)
		must(t, err)
		if rowAfter.Name != rowBefore.Name || *rowAfter.FrequentWord != *rowBefore.FrequentWord {
			t.Fatalf("row changed: %+v", rowAfter)
		}
	})
}

func TestConcurrentUploadsToDifferentSectionsDoNotMix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetestOpen(t), envOptions{})
	f := e.newTutorial(false)
	other, err := e.svc.CreateSection(t.Context(), e.ident(ownerC), NewSection{TutorialID: f.tid, Name: "Other"})
	must(t, err)
	sections := []string{f.code, other}
	var wg sync.WaitGroup
	for round := range 3 {
		for i, sid := range sections {
			wg.Go(func() {
				wav := testWAV(20000 + 1000*i + round)
				fields := recordingFields(sid, wav)
				for j := range fields {
					if fields[j].name == "keystroke" {
						fields[j] = textField("keystroke", fmt.Sprintf(`[{"content":"%s","timestamp":0}]`, sid))
					}
				}
				body, ct := multipartBody(fields)
				if w := e.req("POST", "/upload_recording", body, ownerC, "Content-Type", ct); w.Code != 200 {
					t.Errorf("upload to %s: %d %s", sid, w.Code, w.Body.String())
				}
			})
		}
		wg.Wait()
	}
	for i, sid := range sections {
		wav, err := e.files.ReadFile(t.Context(), sid, fileRecording)
		must(t, err)
		if len(wav) != len(testWAV(20000+1000*i+2)) {
			t.Errorf("section %d holds a recording of %d bytes", i, len(wav))
		}
		ks, err := e.files.ReadFile(t.Context(), sid, fileKeystroke)
		must(t, err)
		if !strings.Contains(string(ks), sid) {
			t.Errorf("section %d holds another section's keystrokes: %s", i, ks)
		}
	}
}

func TestLargeUploadStreamsThrough(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetestOpen(t), envOptions{})
	f := e.newTutorial(false)
	const size = 8 << 20 // the 100 MB case, with its heap, is BenchmarkUpload100MB
	fields := recordingFields(f.code, nil)
	fields = append(fields, field{"file", base64Stream(size)})
	m := postUpload(e, fields, ownerC)
	if m["message"] != "success" {
		t.Fatalf("response %v", m)
	}
	fi, err := e.files.Stat(t.Context(), f.code, fileRecording)
	if err != nil || fi.Size != size {
		t.Fatalf("stored %d bytes (%v), want %d", fi.Size, err, size)
	}
}

// base64Stream is the base64 of n pattern bytes, generated as it is read.
func base64Stream(n int64) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		enc := base64.NewEncoder(base64.StdEncoding, pw)
		_, err := io.Copy(enc, io.LimitReader(patternReader{}, n))
		if err == nil {
			err = enc.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

type patternReader struct{}

func (patternReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i * 31)
	}
	return len(p), nil
}

func TestUploadWithoutAudioDropsTheOldRecording(t *testing.T) {
	t.Parallel()
	// As the original: re-recording without a microphone replaces the whole
	// file set, audio included.
	e := newEnv(t, storetestOpen(t), envOptions{})
	f := e.newTutorial(false)
	postUpload(e, recordingFields(f.code, nil), ownerC)
	if _, err := e.files.Stat(t.Context(), f.code, fileRecording); !itss.IsCode(err, itss.CodeNotFound) {
		t.Fatalf("recording still there: %v", err)
	}
	m := wantStatus(t, e.req("GET", fmt.Sprintf("/tutorial/get/%s/1/%d", f.tid, e.owner), nil, ownerC), 200)
	if m["recording"] != nil || m["transcript"] != nil {
		t.Fatalf("page %v", m)
	}
}

func TestUploadAcceptsFieldsBeforeTheSectionID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetestOpen(t), envOptions{})
	f := e.newTutorial(false)
	// The id last: the audio and the event fields before it are held
	// (bounded) and written once it comes.
	wav := testWAV(50)
	fields := recordingFields(f.code, wav)
	fields = append(fields[1:], fields[0])
	postUpload(e, fields, ownerC)
	if got, err := e.files.ReadFile(context.Background(), f.code, fileRecording); err != nil || !bytes.Equal(got, wav) {
		t.Fatalf("recording: %v", err)
	}
	fields = recordingFields(f.code, nil)
	fields = append(fields[1:], fields[0])
	postUpload(e, fields, ownerC)
	if _, err := e.files.Stat(context.Background(), f.code, fileKeystroke); err != nil {
		t.Fatal(err)
	}
}

// editorFields are the fields in the order the section editor appends them
// (TutorialSectionPage/Sections/CodeSection.js handleSaveRecording): with a
// microphone the audio comes first, before tutorial_section_id, and the
// transcript after code_input.
func editorFields(sectionID string, wav []byte) []field {
	var f []field
	if wav != nil {
		f = append(f, field{"file", strings.NewReader(base64.StdEncoding.EncodeToString(wav))})
	}
	f = append(f, textField("tutorial_section_id", sectionID))
	for _, a := range actionFields {
		f = append(f, textField(a, eventJSON[a]))
	}
	f = append(f, textField("name", "Hello World"), textField("tutorial_type", "Code"), textField("language", "python"),
		textField("description", "# Hello\nThis section shows **print** in [Python](https://python.org).\n"),
		textField("code_content", `print("hello world")`), textField("code_input", ""))
	if wav != nil {
		f = append(f, textField("transcript", `[{"text":"","timestamp":0,"endTime":0},{"text":"today we print hello world in python","timestamp":1200,"endTime":4200}]`))
	}
	return append(f, textField("duration", "9000"))
}

// TestUploadInTheEditorsFieldOrderStoresTheAudio: the editor sends the audio
// before the section id; the recording must be saved all the same.
func TestUploadInTheEditorsFieldOrderStoresTheAudio(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db, envOptions{})
		e.svc.spoolDir = t.TempDir()
		f := e.newBareTutorial()
		wav := testWAV(30000)
		m := postUpload(e, editorFields(f.code, wav), ownerC)
		if m["message"] != "success" {
			t.Fatalf("response %v", m)
		}
		got, err := e.files.ReadFile(t.Context(), f.code, fileRecording)
		if err != nil || !bytes.Equal(got, wav) {
			t.Fatalf("recording.wav: %d bytes (%v), want %d", len(got), err, len(wav))
		}
		for _, name := range []string{fileKeystroke, fileTranscript, fileDescription, fileCode} {
			if _, err := e.files.Stat(t.Context(), f.code, name); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		p := wantStatus(t, e.req("GET", fmt.Sprintf("/tutorial/get/%s/1/%d", f.tid, e.owner), nil, ownerC), 200)
		if p["recording"] == nil || p["duration"] != float64(9000) {
			t.Fatalf("page %v", p)
		}
		parseTwice(t, "transcript", p["transcript"])

		// An audio field that is not base64, or a form that never names the
		// section, is refused and leaves the recording as it was.
		bad := editorFields(f.code, nil)
		bad = append([]field{textField("file", "!!!! not base64 ****")}, bad...)
		body, ct := multipartBody(bad)
		wantStatus(t, e.req("POST", "/upload_recording", body, ownerC, "Content-Type", ct), 400)
		noID := editorFields(f.code, testWAV(10))
		noID = append(noID[:1], noID[2:]...)
		body, ct = multipartBody(noID)
		if m := wantStatus(t, e.req("POST", "/upload_recording", body, ownerC, "Content-Type", ct), 400); m["message"] != "Missing tutorial_section_id" {
			t.Fatalf("without id: %v", m)
		}
		got, err = e.files.ReadFile(t.Context(), f.code, fileRecording)
		if err != nil || !bytes.Equal(got, wav) {
			t.Fatalf("a refused upload changed the recording (%v)", err)
		}
		if left, _ := os.ReadDir(e.svc.spoolDir); len(left) != 0 {
			t.Fatalf("spooled audio left behind: %v", left)
		}
	})
}

// TestUploadTextFieldsWithInvalidUTF8AreStoredWithReplacements: form fields
// are raw bytes (nothing decodes them as JSON does); invalid UTF-8 in the
// row's fields was a 500 on MySQL. As the original's form decoding did, it
// becomes U+FFFD.
func TestUploadTextFieldsWithInvalidUTF8AreStoredWithReplacements(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db, envOptions{})
		f := e.newBareTutorial()
		fields := editorFields(f.code, nil)
		for i := range fields {
			switch fields[i].name {
			case "name":
				fields[i] = textField("name", "Caf\xe9 au lait")
			case "code_input":
				fields[i] = textField("code_input", "x\xfey")
			}
		}
		postUpload(e, fields, ownerC)
		sec := wantStatus(t, e.req("GET", "/tutorial_section/get/"+f.code, nil, ownerC), 200)
		if sec["name"] != "Caf\ufffd au lait" || sec["code_input"] != "x\ufffdy" {
			t.Fatalf("section %v", sec)
		}
	})
}

// TestUploadsBeyondTheConcurrencyBoundAre429 holds one upload open (its
// body stalls) and checks that another is refused at once with Retry-After,
// and that the slot is free again once the first ends.
func TestUploadsBeyondTheConcurrencyBoundAre429(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetestOpen(t), envOptions{})
	e.svc.uploads = make(chan struct{}, 1)
	f := e.newBareTutorial()

	stall, release := io.Pipe()
	fields := append([]field{{"file", stall}}, editorFields(f.code, nil)...)
	body, ct := multipartBody(fields)
	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- e.req("POST", "/upload_recording", body, ownerC, "Content-Type", ct) }()
	for len(e.svc.uploads) == 0 {
		time.Sleep(time.Millisecond)
	}

	body2, ct2 := multipartBody(editorFields(f.code, nil))
	w := e.req("POST", "/upload_recording", body2, ownerC, "Content-Type", ct2)
	wantStatus(t, w, http.StatusTooManyRequests)
	if w.Header().Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}

	_, _ = release.Write([]byte(base64.StdEncoding.EncodeToString(testWAV(100))))
	release.Close()
	wantStatus(t, <-first, http.StatusOK)
	postUpload(e, editorFields(f.code, nil), ownerC)
}

func TestReRecordingChangesTheRecordingURL(t *testing.T) {
	t.Parallel()
	// The audio is served cacheable for an hour and its signed URL keeps the
	// same hourly expiry: a new recording needs a new URL, or the preview
	// plays the previous audio from the browser's cache.
	e := newEnv(t, storetestOpen(t), envOptions{})
	f := e.newTutorial(false)
	// One instant for the whole test: the expiry must not cross an hour.
	now := time.Now()
	e.svc.now = func() time.Time { return now }
	urls := func() (page, editor string) {
		p := wantStatus(t, e.req("GET", fmt.Sprintf("/tutorial/get/%s/1/%d", f.tid, e.owner), nil, ownerC), 200)
		d := wantStatus(t, e.req("GET", "/tutorial_section/get/"+f.code, nil, ownerC), 200)
		page, _ = p["recording"].(string)
		editor, _ = d["recording"].(string)
		if page == "" || editor == "" || !strings.HasSuffix(page, editor) {
			t.Fatalf("recording URLs: page %q, editor %q", page, editor)
		}
		return page, editor
	}
	page1, editor1 := urls()
	if again, _ := urls(); again != page1 {
		t.Fatalf("the URL of an unchanged recording changed: %q then %q", page1, again)
	}
	postUpload(e, recordingFields(f.code, testWAV(4001)), ownerC)
	page2, editor2 := urls()
	if page2 == page1 || editor2 == editor1 {
		t.Fatalf("the URL did not change with the recording: %q", page2)
	}
	w := e.req("GET", strings.TrimPrefix(page2, "http://tutorial.test"), nil, "")
	if got, _ := io.ReadAll(w.Body); w.Code != 200 || !bytes.Equal(got, testWAV(4001)) {
		t.Fatalf("the new URL serves %d, %d bytes", w.Code, len(got))
	}
}
