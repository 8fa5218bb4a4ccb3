package keywords

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrTranscript is wrapped by the errors of undecodable transcripts.
var ErrTranscript = errors.New("keywords: transcript is not a JSON array")

// DecodeTranscript returns the entries of a stored transcript file, each
// exactly as it appears in the array text. The original stored the
// frontend's JSON.stringify output through json.dumps, so the file holds a
// JSON string literal whose content is the array; a plain (single-encoded)
// array is accepted too, since tools and fixtures write that. An empty file
// or null means no entries.
func DecodeTranscript(stored []byte) ([]json.RawMessage, error) {
	body := bytes.TrimSpace(stored)
	if len(body) == 0 {
		return []json.RawMessage{}, nil
	}
	if body[0] == '"' {
		var inner string
		if err := json.Unmarshal(body, &inner); err != nil {
			return nil, fmt.Errorf("%w: outer string: %v", ErrTranscript, err)
		}
		body = bytes.TrimSpace([]byte(inner))
		if len(body) == 0 {
			return []json.RawMessage{}, nil
		}
	}
	if body[0] != '[' && !bytes.Equal(body, []byte("null")) {
		return nil, ErrTranscript
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(body, &entries); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTranscript, err)
	}
	if entries == nil {
		entries = []json.RawMessage{}
	}
	return entries, nil
}

// entryText returns the text of a transcript entry, if it is an object
// whose "text" is a string.
func entryText(e json.RawMessage) (string, bool) {
	var v struct {
		Text *string `json:"text"`
	}
	if len(e) == 0 || e[0] != '{' || json.Unmarshal(e, &v) != nil || v.Text == nil {
		return "", false
	}
	return *v.Text, true
}

// TranscriptTexts returns the phrase texts of a stored transcript, in order,
// for FrequentWords. An undecodable transcript yields none: keywords are a
// convenience and must not fail an upload.
func TranscriptTexts(stored []byte) []string {
	entries, err := DecodeTranscript(stored)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if t, ok := entryText(e); ok {
			out = append(out, t)
		}
	}
	return out
}

// SearchTranscript returns the entries whose text contains keyword,
// case-insensitively, verbatim and in transcript order (T20 as intended:
// the original decoded once, got a string, and always answered []). The
// result is never nil. Entries without a string text never match.
func SearchTranscript(stored []byte, keyword string) ([]json.RawMessage, error) {
	entries, err := DecodeTranscript(stored)
	if err != nil {
		return nil, err
	}
	kw := strings.ToLower(keyword)
	out := []json.RawMessage{}
	for _, e := range entries {
		if t, ok := entryText(e); ok && strings.Contains(strings.ToLower(t), kw) {
			out = append(out, e)
		}
	}
	return out, nil
}
