package main

import (
	"io"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/term"
)

// newLogger builds the process logger from the log section, writing to w
// (stderr): JSON lines by default, the console encoder when log.format is
// "console" or is "" and w is a terminal. Components get named children
// (log.Named("stream")); the Badger adapter is in pkg/state and franz-go's
// kzap bridge in pkg/stream.
func newLogger(lc LogConfig, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(lc.Level)
	if err != nil {
		return nil, &FieldError{Key: "log.level", Value: lc.Level, Reason: err.Error()}
	}
	terminal := isTerminal(w)
	format := lc.Format
	if format == "" {
		format = "json"
		if terminal {
			format = "console"
		}
	}
	var enc zapcore.Encoder
	if format == "console" {
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		if terminal {
			ec.EncodeLevel = zapcore.CapitalColorLevelEncoder
		}
		enc = zapcore.NewConsoleEncoder(ec)
	} else {
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		ec.EncodeDuration = zapcore.StringDurationEncoder
		enc = zapcore.NewJSONEncoder(ec)
	}
	out := zapcore.Lock(zapcore.AddSync(w))
	return zap.New(zapcore.NewCore(enc, out, level), zap.AddCaller(), zap.ErrorOutput(out)), nil
}

// isTerminal reports whether w is a terminal, by asking the terminal
// driver (golang.org/x/term). /dev/null and other character devices are
// not terminals.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// syncLog flushes the logger: the last step of every shutdown. Syncing a
// terminal fails with EINVAL on Linux, which is of no interest.
func syncLog(log *zap.Logger) { _ = log.Sync() }
