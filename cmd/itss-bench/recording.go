package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"strconv"
	"strings"
)

// WAV as the frontend records it: 16-bit PCM, stereo, at the AudioContext
// rate (48 kHz on most machines), about 11.5 MB a minute.
const (
	wavRate     = 48000
	wavChannels = 2
	wavBits     = 16
)

// makeWAV returns a WAV file of the given length: a quiet tone with a little
// noise, so that nothing on the way could shrink it by compression.
func makeWAV(seconds int) []byte {
	frames := seconds * wavRate
	dataLen := frames * wavChannels * wavBits / 8
	var b bytes.Buffer
	b.Grow(44 + dataLen)
	le := binary.LittleEndian
	b.WriteString("RIFF")
	_ = binary.Write(&b, le, uint32(36+dataLen))
	b.WriteString("WAVEfmt ")
	_ = binary.Write(&b, le, uint32(16))                            // fmt chunk size
	_ = binary.Write(&b, le, uint16(1))                             // PCM
	_ = binary.Write(&b, le, uint16(wavChannels))                   // channels
	_ = binary.Write(&b, le, uint32(wavRate))                       // sample rate
	_ = binary.Write(&b, le, uint32(wavRate*wavChannels*wavBits/8)) // byte rate
	_ = binary.Write(&b, le, uint16(wavChannels*wavBits/8))         // block align
	_ = binary.Write(&b, le, uint16(wavBits))                       // bits per sample
	b.WriteString("data")
	_ = binary.Write(&b, le, uint32(dataLen))
	var seed uint32 = 2463534242
	sample := make([]byte, 2)
	for i := 0; i < frames; i++ {
		seed ^= seed << 13
		seed ^= seed >> 17
		seed ^= seed << 5
		v := 2000*math.Sin(2*math.Pi*220*float64(i)/wavRate) + float64(int32(seed%512)-256)
		le.PutUint16(sample, uint16(int16(v)))
		for range wavChannels {
			b.Write(sample)
		}
	}
	return b.Bytes()
}

// program is a learner's program in one language, with input and the line
// its output must contain.
type program struct {
	lang, filename, source, input, want string
}

var programs = map[string]program{
	"python": {lang: "python", filename: "main", input: "12\n", want: "sum=650",
		source: "n = int(input())\n" +
			"squares = [i * i for i in range(1, n + 1)]\n" +
			"print('sum=' + str(sum(squares)))\n" +
			"for i, s in enumerate(squares[:3], start=1):\n" +
			"    print(i, s)\n"},
	"java": {lang: "java", filename: "Main", input: "12\n", want: "sum=650",
		source: "import java.util.Scanner;\n\n" +
			"public class Main {\n" +
			"    public static void main(String[] args) {\n" +
			"        Scanner in = new Scanner(System.in);\n" +
			"        int n = in.nextInt();\n" +
			"        long sum = 0;\n" +
			"        for (int i = 1; i <= n; i++) {\n" +
			"            sum += (long) i * i;\n" +
			"        }\n" +
			"        System.out.println(\"sum=\" + sum);\n" +
			"    }\n" +
			"}\n"},
	"javascript": {lang: "javascript", filename: "main", input: "12\n", want: "sum=650",
		source: "const n = parseInt(require('fs').readFileSync(0, 'utf8'), 10);\n" +
			"let sum = 0;\n" +
			"for (let i = 1; i <= n; i++) {\n" +
			"  sum += i * i;\n" +
			"}\n" +
			"console.log('sum=' + sum);\n"},
}

// recordingFields are the text fields of /upload_recording for one language
// and length, shaped as the section editor sends them (API.md T10).
type recordingFields struct {
	ordered [][2]string // name, value, in the editor's order
	payload []byte      // base64 of the WAV, the `file` field
}

var transcriptLines = []string{
	"today we write a small program that reads a number",
	"first we read the input and convert it to an integer",
	"then a loop adds up the squares of every number up to n",
	"print shows the result in the output pane",
	"try changing the input and run the program again",
	"notice how the loop variable starts at one",
}

func newRecordingFields(lang string, seconds int, wavB64 []byte) recordingFields {
	p := programs[lang]
	ms := seconds * 1000

	// Editor events hold the whole editor text, about four per second of typing.
	type pos struct {
		Row    int `json:"row"`
		Column int `json:"column"`
	}
	type keystroke struct {
		Content   string `json:"content"`
		Selection struct {
			Start pos `json:"start"`
			End   pos `json:"end"`
		} `json:"selection"`
		Timestamp int `json:"timestamp"`
	}
	events := max(1, seconds*4)
	var keys []keystroke
	for i := 1; i <= events; i++ {
		n := len(p.source) * i / events
		var k keystroke
		k.Content = p.source[:n]
		row := strings.Count(k.Content, "\n")
		col := n - (strings.LastIndex(k.Content, "\n") + 1)
		k.Selection.Start, k.Selection.End = pos{row, col}, pos{row, col}
		k.Timestamp = ms * i / (events + 1)
		keys = append(keys, k)
	}
	type transcript struct {
		Text      string `json:"text"`
		Timestamp int    `json:"timestamp"`
		EndTime   int    `json:"endTime"`
		End       string `json:"end,omitempty"`
	}
	var tr []transcript
	for t, i := 0, 0; t < ms; t, i = t+4000, i+1 {
		tr = append(tr, transcript{Text: transcriptLines[i%len(transcriptLines)], Timestamp: t, EndTime: min(t+3800, ms)})
	}
	tr[len(tr)-1].End = "transcript"
	scroll := `[{"timestamp":0,"scroll":0}]`
	layout := map[string]any{"layout": map[string]any{"dockbox": map[string]any{
		"id": "+1", "size": 200, "mode": "horizontal", "children": []any{
			map[string]any{"id": "+2", "size": 100, "tabs": []any{map[string]string{"id": "description"}}, "activeId": "description"},
			map[string]any{"id": "+3", "size": 100, "mode": "vertical", "children": []any{
				map[string]any{"id": "+4", "size": 200, "tabs": []any{map[string]string{"id": "editor"}}, "activeId": "editor"},
				map[string]any{"id": "+5", "size": 100, "tabs": []any{map[string]string{"id": "input"}, map[string]string{"id": "output"}}, "activeId": "output"},
			}},
		}}}, "timestamp": 0}
	desc := fmt.Sprintf("# Sums of squares in %s\n\n"+
		"This section reads a number **n** from the input and prints the sum of the squares "+
		"from 1 to n. Watch how the loop accumulates the result, then change the input and run "+
		"the program yourself.\n\n- read the input\n- loop from 1 to n\n- print the result\n", lang)
	enc := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	return recordingFields{
		ordered: [][2]string{
			{"keystroke", enc(keys)},
			{"consoleAction", enc([]map[string]any{{"content": "> " + p.want + "\n", "timestamp": ms * 9 / 10}})},
			{"consoleScrollAction", scroll},
			{"inputKeystrokes", enc([]map[string]any{{"content": strings.TrimSpace(p.input), "timestamp": ms / 2}})},
			{"inputScrollAction", scroll},
			{"layoutAction", enc([]any{layout})},
			{"selectAction", `[{"timestamp":0,"data":null}]`},
			{"scrollAction", scroll},
			{"editorScrollAction", scroll},
			{"tutorial_type", "Code"},
			{"language", lang},
			{"description", desc},
			{"code_content", p.source},
			{"code_input", p.input},
			{"duration", strconv.Itoa(ms)},
			{"transcript", enc(tr)},
		},
		payload: wavB64,
	}
}

// encodeWAV returns the base64 text the browser puts in the `file` field.
func encodeWAV(wav []byte) []byte {
	out := make([]byte, base64.StdEncoding.EncodedLen(len(wav)))
	base64.StdEncoding.Encode(out, wav)
	return out
}

// body returns the multipart body for one section. The audio is not copied:
// the body reads the shared payload between a head and a tail.
func (f recordingFields) body(sectionID, name string) (io.Reader, int64, string) {
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	boundary := mw.Boundary()
	_ = mw.WriteField("tutorial_section_id", sectionID)
	_ = mw.WriteField("name", name)
	for _, kv := range f.ordered {
		if kv[0] != "transcript" {
			_ = mw.WriteField(kv[0], kv[1])
		}
	}
	_, _ = mw.CreateFormField("file") // header only: the payload follows
	var tail bytes.Buffer
	tail.WriteString("\r\n")
	tw := multipart.NewWriter(&tail)
	_ = tw.SetBoundary(boundary)
	for _, kv := range f.ordered {
		if kv[0] == "transcript" {
			_ = tw.WriteField(kv[0], kv[1])
		}
	}
	_ = tw.Close()
	size := int64(head.Len() + len(f.payload) + tail.Len())
	return io.MultiReader(bytes.NewReader(head.Bytes()), bytes.NewReader(f.payload), bytes.NewReader(tail.Bytes())),
		size, mw.FormDataContentType()
}
