package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/itss-go/itss/internal/itss"
)

func TestLoggerAddsTheRequestIDToEveryContextLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := NewLogger(&buf, slog.LevelInfo).With("service", "test")
	ctx := itss.WithRequestID(context.Background(), "rid-42")
	log.InfoContext(ctx, "plain line")
	Event(ctx, log, "Open Tutorial")
	LoggerFrom(context.WithValue(ctx, loggerKey, log)).InfoContext(ctx, "through LoggerFrom")
	log.Info("no context")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	for i, line := range lines[:3] {
		if n := strings.Count(line, `"request_id"`); n != 1 {
			t.Fatalf("line %d has request_id %d times: %s", i, n, line)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["request_id"] != "rid-42" || m["service"] != "test" {
			t.Fatalf("line %d: %s", i, line)
		}
	}
	if strings.Contains(lines[3], "request_id") {
		t.Fatalf("a line without a request context got an id: %s", lines[3])
	}
}
