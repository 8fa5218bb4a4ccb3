package keywords

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// goldenDescription and goldenTranscript are what the original received in
// its recorded /upload_recording (golden 36); it answered
// ['print', 'hello', 'python', 'section', 'shows'].
const goldenDescription = "# Hello\nThis section shows **print** in [Python](https://python.org).\n\n```python\nprint(\"hi\")\n```\n"

const goldenTranscript = `"[{\"text\":\"\",\"timestamp\":0,\"endTime\":0},{\"text\":\"today we print hello world in python\",\"timestamp\":1200,\"endTime\":4200},{\"text\":\"the print function writes text to the console and print is easy\",\"timestamp\":4300,\"endTime\":9000,\"end\":\"transcript\"}]"`

func TestStopWordListIsNLTKs179(t *testing.T) {
	t.Parallel()
	if len(stopWords) != 179 {
		t.Fatalf("stop-word list has %d words, want 179", len(stopWords))
	}
	for _, w := range []string{"i", "the", "wouldn't", "mightn", "should've", "y"} {
		if !IsStopWord(w) {
			t.Errorf("%q missing", w)
		}
	}
	for _, w := range []string{"print", "python", "The", ""} {
		if IsStopWord(w) {
			t.Errorf("%q is not a stop word", w)
		}
	}
}

func TestFrequentWordsMatchesTheOriginalOnGoldenUpload(t *testing.T) {
	t.Parallel()
	got := FrequentWords(goldenDescription, TranscriptTexts([]byte(goldenTranscript)))
	want := []string{"print", "hello", "python", "section", "shows"}
	if !slices.Equal(got, want) {
		t.Fatalf("FrequentWords = %v, want %v", got, want)
	}
}

func TestFrequentWordsGoldenFileOnDisk(t *testing.T) {
	t.Parallel()
	var dir string
	for _, p := range []string{"../../../shared/golden/_files", "/work/shared/golden/_files"} {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			dir = p + "/recordings-after-upload-67bc56ba8e8245c9aa2d8b294ed68bf9/"
			break
		}
	}
	if dir == "" {
		t.Fatal("shared/golden/_files not found beside the repository")
	}
	desc, err := os.ReadFile(dir + "description.md")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := os.ReadFile(dir + "transcript.json")
	if err != nil {
		t.Fatal(err)
	}
	got := FrequentWords(string(desc), TranscriptTexts(tr))
	if want := []string{"print", "hello", "python", "section", "shows"}; !slices.Equal(got, want) {
		t.Fatalf("FrequentWords = %v, want %v", got, want)
	}
}

func TestReduceMarkdown(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, in, want string }{
		{"LinkBecomesLabel", "see [the docs](https://x.org/a_b) now", "see the docs now"},
		{"ImageBecomesAlt", "![a cat](cat.png)", " a cat"},
		{"FencedCodeRemoved", "before\n```go\nfunc main() {}\n```\nafter", "before   after"},
		{"TildeFenceRemoved", "a ~~~\nx = 1\n~~~ b", "a   b"},
		{"UnclosedFenceKeepsText", "```\nx", "    x"},
		{"PunctuationAndNonASCIIBecomeSpaces", "Héllo, wörld! 42%", "H llo  w rld  42 "},
		{"EmphasisStripped", "**bold** _it_ `code`", "  bold    it   code "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := ReduceMarkdown(c.in); got != c.want {
				t.Fatalf("ReduceMarkdown(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestFrequentWords(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		description string
		transcript  []string
		want        []string
	}{
		{"EmptyIsEmptyNotNil", "", nil, []string{}},
		{"OnlyStopWords", "The and of it is", []string{"they were"}, []string{}},
		{"TiesKeepFirstOccurrence", "delta alpha charlie bravo echo foxtrot", nil, []string{"delta", "alpha", "charlie", "bravo", "echo"}},
		{"CountBeatsOrder", "one two two three three three", nil, []string{"three", "two", "one"}},
		{"CaseFolded", "Loop LOOP loop Variable", nil, []string{"loop", "variable"}},
		{"DigitsKept", "python 3 python 3 3", nil, []string{"3", "python"}},
		{"CodeAndURLsIgnored", "[recursion](https://example.com/stack)\n```\nstack stack stack\n```", nil, []string{"recursion"}},
		{"TranscriptPunctuationIsNotAWord", "", []string{"well, don't panic... recursion!", "Recursion?"}, []string{"recursion", "well", "panic"}},
		{"TranscriptKeepsNonASCIILetters", "", []string{"café café naïve"}, []string{"café", "naïve"}},
		{"DescriptionThenTranscriptOrder", "zeta", []string{"alpha zeta"}, []string{"zeta", "alpha"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := FrequentWords(c.description, c.transcript)
			if got == nil || !slices.Equal(got, c.want) {
				t.Fatalf("FrequentWords = %#v, want %#v", got, c.want)
			}
		})
	}
}

func TestDecodeTranscript(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		stored  string
		entries []string
		wantErr bool
	}{
		{"DoubleEncoded", `"[{\"text\":\"a\"},{\"text\":\"b\",\"end\":\"transcript\"}]"`, []string{`{"text":"a"}`, `{"text":"b","end":"transcript"}`}, false},
		{"SingleEncoded", ` [{"text": "a"} ]`, []string{`{"text": "a"}`}, false},
		{"EmptyFile", "", []string{}, false},
		{"WhitespaceFile", " \n", []string{}, false},
		{"Null", "null", []string{}, false},
		{"EncodedNull", `"null"`, []string{}, false},
		{"EncodedEmptyString", `""`, []string{}, false},
		{"EmptyArray", `"[]"`, []string{}, false},
		{"NonASCIIEscapes", `"[{\"text\":\"caf\\u00e9\"}]"`, []string{`{"text":"caf\u00e9"}`}, false},
		{"Object", `{"text":"a"}`, nil, true},
		{"EncodedObject", `"{\"text\":\"a\"}"`, nil, true},
		{"TripleEncoded", `"\"[]\""`, nil, true},
		{"BrokenOuter", `"[{\"text\"`, nil, true},
		{"BrokenInner", `"[{\"text\":}]"`, nil, true},
		{"Garbage", `hello`, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeTranscript([]byte(c.stored))
			if c.wantErr {
				if err == nil {
					t.Fatalf("DecodeTranscript(%q) = %s, want error", c.stored, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || len(got) != len(c.entries) {
				t.Fatalf("got %d entries (%#v), want %d", len(got), got, len(c.entries))
			}
			for i := range got {
				if string(got[i]) != c.entries[i] {
					t.Fatalf("entry %d = %s, want %s (verbatim)", i, got[i], c.entries[i])
				}
			}
		})
	}
}

func TestSearchTranscript(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		stored  string
		keyword string
		want    []string
	}{
		{"GoldenPrintMatchesTwoEntriesInOrder", goldenTranscript, "print", []string{
			`{"text":"today we print hello world in python","timestamp":1200,"endTime":4200}`,
			`{"text":"the print function writes text to the console and print is easy","timestamp":4300,"endTime":9000,"end":"transcript"}`,
		}},
		{"CaseInsensitive", goldenTranscript, "PyThOn", []string{`{"text":"today we print hello world in python","timestamp":1200,"endTime":4200}`}},
		{"Substring", goldenTranscript, "func", []string{`{"text":"the print function writes text to the console and print is easy","timestamp":4300,"endTime":9000,"end":"transcript"}`}},
		{"PhraseWithSpace", goldenTranscript, "hello world", []string{`{"text":"today we print hello world in python","timestamp":1200,"endTime":4200}`}},
		{"NoMatchIsEmpty", goldenTranscript, "java", []string{}},
		{"SingleEncodedTolerated", `[{"text":"Recursion here","timestamp":1}]`, "recursion", []string{`{"text":"Recursion here","timestamp":1}`}},
		{"NonStringTextsSkipped", `[{"text":null},{"timestamp":3},"print",{"text":"print"}]`, "print", []string{`{"text":"print"}`}},
		{"EmptyTranscript", "", "print", []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := SearchTranscript([]byte(c.stored), c.keyword)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || len(got) != len(c.want) {
				t.Fatalf("got %s, want %v", got, c.want)
			}
			for i := range got {
				if string(got[i]) != c.want[i] {
					t.Fatalf("result %d = %s, want %s", i, got[i], c.want[i])
				}
			}
			js, _ := json.Marshal(map[string]any{"result": got})
			if !strings.HasPrefix(string(js), `{"result":[`) {
				t.Fatalf("encodes as %s", js)
			}
		})
	}
	if _, err := SearchTranscript([]byte(`"not json`), "x"); err == nil {
		t.Fatal("undecodable transcript searched without error")
	}
}

func TestTranscriptTexts(t *testing.T) {
	t.Parallel()
	got := TranscriptTexts([]byte(goldenTranscript))
	want := []string{"", "today we print hello world in python", "the print function writes text to the console and print is easy"}
	if !slices.Equal(got, want) {
		t.Fatalf("TranscriptTexts = %q", got)
	}
	if got := TranscriptTexts([]byte("{broken")); got != nil {
		t.Fatalf("broken transcript gave %q", got)
	}
}

// FuzzTranscript feeds arbitrary stored bytes and keywords to the decoders:
// no panics, results are valid JSON objects whose text contains the keyword,
// and the three entry points agree with each other.
func FuzzTranscript(f *testing.F) {
	f.Add([]byte(goldenTranscript), "print")
	f.Add([]byte(`[{"text":"A"},{"text":1},null]`), "a")
	f.Add([]byte(`"\"[]\""`), "")
	f.Add([]byte(`"[{\"text\":\"\\u0130\"}]"`), "i")
	f.Add([]byte("\xff\xfe"), "\x00")
	f.Fuzz(func(t *testing.T, stored []byte, kw string) {
		entries, derr := DecodeTranscript(stored)
		res, serr := SearchTranscript(stored, kw)
		if (derr == nil) != (serr == nil) {
			t.Fatalf("Decode err %v, Search err %v", derr, serr)
		}
		texts := TranscriptTexts(stored)
		if derr != nil {
			if texts != nil {
				t.Fatal("texts from an undecodable transcript")
			}
			return
		}
		if len(res) > len(entries) || len(texts) > len(entries) {
			t.Fatal("more results than entries")
		}
		for _, e := range res {
			var v struct{ Text string }
			if !json.Valid(e) || json.Unmarshal(e, &v) != nil {
				t.Fatalf("result %q is not a JSON object with text", e)
			}
			if !strings.Contains(strings.ToLower(v.Text), strings.ToLower(kw)) {
				t.Fatalf("result %q does not contain %q", e, kw)
			}
		}
		all, _ := SearchTranscript(stored, "")
		if len(all) != len(texts) {
			t.Fatalf("empty keyword matched %d entries, %d texts", len(all), len(texts))
		}
		words := FrequentWords(string(stored), texts)
		if len(words) > TopN {
			t.Fatalf("%d frequent words", len(words))
		}
		for _, w := range words {
			if w == "" || IsStopWord(w) || strings.ContainsFunc(w, notWordRune) {
				t.Fatalf("bad frequent word %q", w)
			}
		}
	})
}
