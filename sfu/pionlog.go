package sfu

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLogs routes pion's logs to the SFU's slog.Logger: pion errors become
// warnings, pion warnings debug messages, and the rest is dropped. It also
// avoids pion's default factory, which builds a log.Logger per component
// per connection.
type pionLogs struct{ l *slog.Logger }

// NewLogger implements logging.LoggerFactory.
func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{l: f.l, scope: scope}
}

type pionLogger struct {
	l     *slog.Logger
	scope string
}

func (p pionLogger) log(level slog.Level, msg string) {
	p.l.Log(context.Background(), level, "sfu: pion: "+msg, "component", p.scope)
}

func (p pionLogger) logf(level slog.Level, format string, args ...any) {
	if p.l.Enabled(context.Background(), level) {
		p.log(level, fmt.Sprintf(format, args...))
	}
}

func (pionLogger) Trace(string)          {}
func (pionLogger) Tracef(string, ...any) {}
func (pionLogger) Debug(string)          {}
func (pionLogger) Debugf(string, ...any) {}
func (pionLogger) Info(string)           {}
func (pionLogger) Infof(string, ...any)  {}

func (p pionLogger) Warn(msg string) {
	if p.l.Enabled(context.Background(), slog.LevelDebug) {
		p.log(slog.LevelDebug, msg)
	}
}
func (p pionLogger) Warnf(format string, args ...any) { p.logf(slog.LevelDebug, format, args...) }

func (p pionLogger) Error(msg string) {
	if p.l.Enabled(context.Background(), slog.LevelWarn) {
		p.log(slog.LevelWarn, msg)
	}
}
func (p pionLogger) Errorf(format string, args ...any) { p.logf(slog.LevelWarn, format, args...) }
