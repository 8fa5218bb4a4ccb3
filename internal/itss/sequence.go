package itss

import (
	"encoding/json"
	"fmt"
	"strings"
)

// ParseSequence decodes the stored text of tutorial.sequence. It accepts the
// canonical JSON array and the Python list repr ("['a', 'b']") that the
// original system wrote; legacy reports the latter so callers can repair the
// row on their next write. NULL and blank text are an empty sequence.
func ParseSequence(text *string) (ids []string, legacy bool, err error) {
	if text == nil || strings.TrimSpace(*text) == "" {
		return []string{}, false, nil
	}
	raw := strings.TrimSpace(*text)
	if err := json.Unmarshal([]byte(raw), &ids); err == nil {
		if ids == nil {
			ids = []string{}
		}
		return ids, false, nil
	}
	// Section ids are hex, so swapping quotes is a safe repair of a repr;
	// anything that still does not decode is rejected rather than guessed.
	if strings.HasPrefix(raw, "[") && strings.Contains(raw, "'") && !strings.Contains(raw, `"`) {
		if err := json.Unmarshal([]byte(strings.ReplaceAll(raw, "'", `"`)), &ids); err == nil {
			if ids == nil {
				ids = []string{}
			}
			return ids, true, nil
		}
	}
	return nil, false, fmt.Errorf("sequence is neither a JSON array nor a list repr: %.40q", raw)
}

// FormatSequence encodes ids as the canonical stored text: a JSON array with
// ", " separators, as Python's json.dumps writes it.
func FormatSequence(ids []string) string {
	if len(ids) == 0 {
		return "[]"
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		b, _ := json.Marshal(id)
		parts[i] = string(b)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
