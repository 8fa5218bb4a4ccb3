package migrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile writes the report as indented JSON to
// dir/migration_report_<UTC start time>.json and returns the path. An
// existing report is never overwritten: a run started in the same second
// gets a numbered name instead.
func (r *Report) WriteFile(dir string) (string, error) {
	body, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode migration report: %w", err)
	}
	body = append(body, '\n')
	base := "migration_report_" + r.StartedAt.UTC().Format("20060102_150405")
	for i := 1; i <= 100; i++ {
		name := base + ".json"
		if i > 1 {
			name = fmt.Sprintf("%s_%d.json", base, i)
		}
		p := filepath.Join(dir, name)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("write migration report: %w", err)
		}
		_, werr := f.Write(body)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(p) //nolint:errcheck // best effort; the write error is what matters
			return "", fmt.Errorf("write migration report: %w", werr)
		}
		return p, nil
	}
	return "", fmt.Errorf("write migration report: too many reports named %s*.json in %s", base, dir)
}
