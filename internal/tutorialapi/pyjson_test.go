package tutorialapi

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// Expected outputs were produced by CPython 3.11's json.dumps.
func TestPyQuoteMatchesPythonJSONDumps(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"", `""`},
		{`[{"timestamp":0,"scroll":0}]`, `"[{\"timestamp\":0,\"scroll\":0}]"`},
		{"é😀\x7f<>&\"\\\n\t\r\b\f\x01 ü/", `"\u00e9\ud83d\ude00\u007f<>&\"\\\n\t\r\b\f\u0001 \u00fc/"`},
		{"bad \xff utf8", `"bad \ufffd utf8"`},
	}
	for _, c := range cases {
		if got := string(pyQuote(c.in)); got != c.want {
			t.Errorf("pyQuote(%q) = %s, want %s", c.in, got, c.want)
		}
		got, err := io.ReadAll(iotest.OneByteReader(newPyStringReader(iotest.HalfReader(strings.NewReader(c.in)))))
		if err != nil || string(got) != c.want {
			t.Errorf("streamed %q = %s (%v), want %s", c.in, got, err, c.want)
		}
	}
}

func TestPyStringReaderHandlesLongInputAcrossBuffers(t *testing.T) {
	t.Parallel()
	in := strings.Repeat("ab\"ü😀\n", 40000) // runes straddle every buffer boundary
	got, err := io.ReadAll(newPyStringReader(iotest.HalfReader(strings.NewReader(in))))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(pyQuote(in)) {
		t.Fatal("streamed encoding differs from pyQuote")
	}
	var back string
	if err := json.Unmarshal(got, &back); err != nil || back != in {
		t.Fatalf("does not decode back: %v", err)
	}
}

func FuzzPyStringReaderMatchesPyQuote(f *testing.F) {
	f.Add("[{\"content\":\"print(1)\"}]")
	f.Add("é😀\x00\xff")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := io.ReadAll(newPyStringReader(iotest.HalfReader(strings.NewReader(s))))
		if err != nil || string(got) != string(pyQuote(s)) {
			t.Fatalf("stream %q != pyQuote %q (%v)", got, pyQuote(s), err)
		}
		if !json.Valid(got) {
			t.Fatalf("not JSON: %q", got)
		}
	})
}

func TestPyDumpsKeepsKeyOrderWithPythonSeparators(t *testing.T) {
	t.Parallel()
	got, err := pyDumps([]byte(`{"a":[1,2.5,{"b":null,"c":true}],"é":"x","e":{},"f":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a": [1, 2.5, {"b": null, "c": true}], "\u00e9": "x", "e": {}, "f": []}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	for _, bad := range []string{`{"a":`, `1 2`, ``, `{"a":1}}`} {
		if _, err := pyDumps([]byte(bad)); err == nil {
			t.Errorf("pyDumps(%q) accepted", bad)
		}
	}
}

func TestFrequentWordJSONConvertsPythonRepr(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	cases := []struct {
		in   *string
		want any
	}{
		{nil, nil},
		{s(`["print", "hello"]`), `["print", "hello"]`},
		{s(`['print', 'hello', 'python', 'section', 'shows']`), `["print", "hello", "python", "section", "shows"]`},
		{s(`[]`), `[]`},
		{s(`["it's", 'a\'b']`), `["it's", "a'b"]`},
		{s(`not a list`), `not a list`},
	}
	for _, c := range cases {
		got := frequentWordJSON(c.in)
		if (got == nil) != (c.want == nil) || (got != nil && *got != c.want) {
			t.Errorf("frequentWordJSON(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
