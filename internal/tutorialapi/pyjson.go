package tutorialapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The original stored every recording event file as json.dumps(<form field
// string>) and the frontend decodes them twice, so files written here must be
// byte-for-byte what Python wrote: a JSON string literal with non-ASCII
// escaped as \uXXXX (ensure_ascii), lower-case hex, no HTML escaping, and the
// short escapes \" \\ \n \r \t \b \f.

const hexDigits = "0123456789abcdef"

// appendPyRune appends the json.dumps(ensure_ascii=True) form of r.
func appendPyRune(dst []byte, r rune) []byte {
	switch r {
	case '"':
		return append(dst, '\\', '"')
	case '\\':
		return append(dst, '\\', '\\')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	}
	if r >= 0x20 && r < 0x7f {
		return append(dst, byte(r))
	}
	if r > 0xffff {
		hi, lo := utf16.EncodeRune(r)
		return appendU4(appendU4(dst, hi), lo)
	}
	return appendU4(dst, r)
}

func appendU4(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// pyQuote returns json.dumps(s) as Python writes it. Invalid UTF-8 becomes
// U+FFFD, as the original's form decoding did.
func pyQuote(s string) []byte {
	out := make([]byte, 0, len(s)+len(s)/8+2)
	out = append(out, '"')
	for _, r := range s {
		out = appendPyRune(out, r)
	}
	return append(out, '"')
}

// pyStringReader streams src as a json.dumps string literal, so event fields
// of any size go to storage without being held in memory.
type pyStringReader struct {
	src   *bufio.Reader
	buf   []byte
	off   int
	state int // 0 before the opening quote, 1 inside, 2 after the closing quote
}

func newPyStringReader(src io.Reader) *pyStringReader {
	return &pyStringReader{src: bufio.NewReaderSize(src, 32<<10), buf: make([]byte, 0, 36<<10)}
}

func (p *pyStringReader) Read(b []byte) (int, error) {
	for p.off == len(p.buf) {
		if p.state == 2 {
			return 0, io.EOF
		}
		if err := p.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(b, p.buf[p.off:])
	p.off += n
	return n, nil
}

func (p *pyStringReader) fill() error {
	p.buf, p.off = p.buf[:0], 0
	if p.state == 0 {
		p.buf = append(p.buf, '"')
		p.state = 1
	}
	for len(p.buf) < 32<<10 {
		r, _, err := p.src.ReadRune()
		if errors.Is(err, io.EOF) {
			p.buf = append(p.buf, '"')
			p.state = 2
			return nil
		}
		if err != nil {
			return err
		}
		p.buf = appendPyRune(p.buf, r)
	}
	return nil
}

// pyDumps re-encodes one JSON value the way Python's json.dumps writes it
// (", " and ": " separators, ensure_ascii), keeping the order of object keys
// and the literal text of numbers. question.json is written this way.
func pyDumps(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	type frame struct {
		obj      bool
		n        int
		afterKey bool
	}
	var (
		out   []byte
		stack []frame
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("re-encode JSON: %w", err)
		}
		if d, ok := tok.(json.Delim); ok && (d == ']' || d == '}') {
			stack = stack[:len(stack)-1]
			out = append(out, byte(d))
			continue
		}
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.obj && !top.afterKey {
				if top.n > 0 {
					out = append(out, ',', ' ')
				}
				out = append(out, pyQuote(tok.(string))...)
				out = append(out, ':', ' ')
				top.afterKey = true
				continue
			}
			if !top.obj && top.n > 0 {
				out = append(out, ',', ' ')
			}
			top.afterKey = false
			top.n++
		} else if out != nil {
			return nil, errors.New("re-encode JSON: more than one value")
		}
		switch v := tok.(type) {
		case json.Delim:
			out = append(out, byte(v))
			stack = append(stack, frame{obj: v == '{'})
		case string:
			out = append(out, pyQuote(v)...)
		case json.Number:
			out = append(out, v...)
		case bool:
			if v {
				out = append(out, "true"...)
			} else {
				out = append(out, "false"...)
			}
		case nil:
			out = append(out, "null"...)
		}
	}
	if out == nil || len(stack) != 0 {
		return nil, errors.New("re-encode JSON: incomplete value")
	}
	return out, nil
}

// pyStringList formats words as json.dumps(list) does: ["a", "b"].
func pyStringList(words []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, w := range words {
		if i > 0 {
			b.WriteString(", ")
		}
		b.Write(pyQuote(w))
	}
	b.WriteByte(']')
	return b.String()
}

// frequentWordJSON returns stored frequent_word text as JSON array text. The
// original stored str(list) ("['a', 'b']"), which the frontend's JSON.parse
// rejects; such rows are converted on the way out (and rewritten as JSON the
// next time the section is saved). Text that is neither is returned as is:
// the frontend parses it inside a try/catch.
func frequentWordJSON(stored *string) *string {
	if stored == nil {
		return nil
	}
	var words []string
	if json.Unmarshal([]byte(*stored), &words) == nil {
		return stored
	}
	if words, ok := parsePyStringList(*stored); ok {
		s := pyStringList(words)
		return &s
	}
	return stored
}

// parsePyStringList parses the repr of a Python list of str.
func parsePyStringList(s string) ([]string, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, false
	}
	body := strings.TrimSpace(s[1 : len(s)-1])
	words := []string{}
	for body != "" {
		w, rest, ok := parsePyStr(body)
		if !ok {
			return nil, false
		}
		words = append(words, w)
		rest = strings.TrimSpace(rest)
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return nil, false
		}
		body = strings.TrimSpace(rest[1:])
	}
	return words, true
}

// parsePyStr parses one quoted Python str literal at the start of s.
func parsePyStr(s string) (word, rest string, ok bool) {
	if s == "" || (s[0] != '\'' && s[0] != '"') {
		return "", "", false
	}
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), s[i+1:], true
		case c == '\\' && i+1 < len(s):
			i++
			switch e := s[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'x', 'u':
				width := 2
				if e == 'u' {
					width = 4
				}
				if i+width >= len(s) {
					return "", "", false
				}
				var r rune
				if _, err := fmt.Sscanf(s[i+1:i+1+width], "%x", &r); err != nil {
					return "", "", false
				}
				b.WriteRune(r)
				i += width
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

// validJSON reports whether b is one complete JSON value in UTF-8.
func validJSON(b []byte) bool { return utf8.Valid(b) && json.Valid(b) }
