package sfu

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestPionLogsLevels(t *testing.T) {
	var buf bytes.Buffer
	l := pionLogs{l: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))}.NewLogger("ice")
	l.Errorf("bad %d", 7)
	l.Warnf("noisy %d", 8) // debug: below the handler's level
	l.Info("dropped")
	out := buf.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "sfu: pion: bad 7") || !strings.Contains(out, "component=ice") {
		t.Fatalf("error not logged as a warning with its component: %q", out)
	}
	if strings.Contains(out, "noisy") || strings.Contains(out, "dropped") {
		t.Fatalf("low-level pion logs leaked: %q", out)
	}
}
