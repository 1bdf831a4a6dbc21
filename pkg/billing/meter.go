package billing

import (
	"fmt"
	"slices"
)

// Meter accumulates event counts per Key (team, month, class), typically for
// one batch, whose Deltas are then produced to billing_usage in the batch's
// transaction; the next batch starts a new Meter.
//
// A Meter is not safe for concurrent use: give each partition worker its own.
// The zero Meter is ready to use.
type Meter struct {
	counts map[Key]int64
}

// NewMeter returns an empty Meter.
func NewMeter() *Meter { return &Meter{counts: make(map[Key]int64)} }

// Add counts n more events of class c for team in month (see Month). Adding
// 0 does nothing. n must not be negative: counts only grow, and a negative n
// is a bug in the caller, so Add panics on it rather than corrupt a bill.
func (m *Meter) Add(team, month string, c Class, n int64) {
	if n == 0 {
		return
	}
	if n < 0 {
		panic(fmt.Sprintf("billing: Meter.Add(%q, %q, %s, %d): negative count", team, month, c, n))
	}
	if m.counts == nil {
		m.counts = make(map[Key]int64)
	}
	m.counts[Key{Team: team, Month: month, Class: c}] += n
}

// Len returns the number of distinct keys counted.
func (m *Meter) Len() int { return len(m.counts) }

// Deltas returns one Delta per key counted, sorted by team, then month, then
// class (excluded, anonymous, identified), so the same batch always yields
// the same records in the same order. The Meter keeps its counts.
func (m *Meter) Deltas() []Delta {
	out := make([]Delta, 0, len(m.counts))
	for k, n := range m.counts {
		out = append(out, Delta{Team: k.Team, Month: k.Month, Class: k.Class, Count: n})
	}
	slices.SortFunc(out, func(a, b Delta) int { return compareKeys(a.Key(), b.Key()) })
	return out
}
