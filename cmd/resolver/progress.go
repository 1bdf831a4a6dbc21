package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/stream"
)

// rebuildProgress shows how a rebuild advances: on a terminal, a bar
// redrawn in place on stderr; otherwise (a log file, a pipe, systemd) a log
// line every interval, with records/s and ETA.
//
// A bar is a dozen lines, so it is drawn here rather than with a progress
// bar module.
type rebuildProgress struct {
	w        io.Writer // the terminal, for the bar
	terminal bool
	log      *zap.Logger
	every    time.Duration

	lastLog time.Time
	drawn   bool
}

func newRebuildProgress(stderr io.Writer, log *zap.Logger, every time.Duration) *rebuildProgress {
	return &rebuildProgress{w: stderr, terminal: isTerminal(stderr), log: log, every: every}
}

// update takes a report of stream.Rebuild.
func (r *rebuildProgress) update(p stream.RebuildProgress) {
	if r.terminal {
		fmt.Fprintf(r.w, "\r%s", progressLine(p, 30))
		r.drawn = true
		return
	}
	now := time.Now()
	if r.lastLog.IsZero() {
		r.lastLog = now // the first line after one interval, not at once
		return
	}
	if now.Sub(r.lastLog) < r.every {
		return
	}
	r.lastLog = now
	r.logLine("rebuild progress", p)
}

// finish ends the bar's line, or logs the final numbers.
func (r *rebuildProgress) finish(p stream.RebuildProgress) {
	if r.terminal {
		if r.drawn {
			fmt.Fprintf(r.w, "\r%s\n", progressLine(p, 30))
		}
		return
	}
	r.logLine("rebuild replayed", p)
}

func (r *rebuildProgress) logLine(msg string, p stream.RebuildProgress) {
	rate, eta := rateETA(p)
	r.log.Info(msg,
		zap.Int64("records", p.Done()),
		zap.Int64("of", p.Total()),
		zap.Int64("identity_log", p.IdentityDone),
		zap.Int64("billing_usage", p.BillingDone),
		zap.Float64("percent", percent(p)),
		zap.Float64("records_per_s", rate),
		zap.Duration("eta", eta),
		zap.Duration("elapsed", p.Elapsed.Round(time.Millisecond)))
}

// progressLine is one line of the bar, width characters of bar:
//
//	rebuild [###########...................]  37%  4200/11300 records  2100 rec/s  ETA 3s
func progressLine(p stream.RebuildProgress, width int) string {
	pc := percent(p)
	n := int(pc / 100 * float64(width))
	rate, eta := rateETA(p)
	return fmt.Sprintf("rebuild [%s%s] %3.0f%%  %d/%d records  %.0f rec/s  ETA %s ",
		strings.Repeat("#", n), strings.Repeat(".", width-n), pc, p.Done(), p.Total(), rate, eta)
}

func percent(p stream.RebuildProgress) float64 {
	if p.Total() == 0 {
		return 100
	}
	return 100 * float64(p.Done()) / float64(p.Total())
}

// rateETA is the average rate since the start and the time left at that
// rate (0 when done or unknown).
func rateETA(p stream.RebuildProgress) (perSecond float64, eta time.Duration) {
	if p.Elapsed <= 0 || p.Done() == 0 {
		return 0, 0
	}
	perSecond = float64(p.Done()) / p.Elapsed.Seconds()
	left := p.Total() - p.Done()
	if left <= 0 {
		return perSecond, 0
	}
	return perSecond, time.Duration(float64(left) / perSecond * float64(time.Second)).Round(time.Second)
}
