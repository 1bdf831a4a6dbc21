package billing

import (
	"cmp"
	"encoding/json"
	"fmt"

	"github.com/resolver-dev/resolver/internal/teamrule"
)

// Key identifies one billing counter: a team, a calendar month ("YYYY-MM",
// UTC) and a class. It is comparable and used as a map key.
type Key struct {
	Team  string
	Month string
	Class Class
}

// compareKeys orders keys by team, then month, then class (excluded,
// anonymous, identified); strings compare bytewise, so team "10" sorts
// before team "2".
func compareKeys(a, b Key) int {
	if c := cmp.Compare(a.Team, b.Team); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Month, b.Month); c != 0 {
		return c
	}
	return cmp.Compare(a.Class, b.Class)
}

// Delta is the value of one billing_usage record: Count more events of Class
// for Team in Month. Class encodes as its name:
//
//	{"team":"1","month":"2026-11","class":"anonymous","count":42}
//
// Deltas are added to running totals; their costs are never added (see the
// package documentation, "Pricing deltas").
type Delta struct {
	Team  string `json:"team"`
	Month string `json:"month"`
	Class Class  `json:"class"`
	Count int64  `json:"count"`
}

// Key returns the counter that d adds to.
func (d Delta) Key() Key { return Key{Team: d.Team, Month: d.Month, Class: d.Class} }

// Bounds of a Delta that can be folded (Validate). billing_usage can be
// written by anyone with access to the topic, so its deltas are checked
// like input before they reach a key or a total.
const (
	// MaxTeamBytes is the longest team of a delta: the bound of a team
	// everywhere (docs/SEMANTICS.md §1, invalid_team; teamrule.MaxBytes), since
	// the team is part of a key.
	MaxTeamBytes = teamrule.MaxBytes

	// MaxDeltaCount is the largest count of one delta. The resolver writes
	// one delta per team, month and class of a batch, so a count is at
	// most one batch's records (stream.max_batch_records, 2,000 by
	// default); a billion leaves room for any batch and keeps a month's
	// total far from the range of int64 for nine billion deltas.
	MaxDeltaCount = 1_000_000_000

	// MinMonth and MaxMonth bound the month of a delta: every month a
	// Kafka record timestamp (milliseconds since 1970, docs/SEMANTICS.md §7)
	// can fall in up to year 9999. Months compare as strings.
	MinMonth = "1970-01"
	MaxMonth = "9999-12"
)

// Validate reports whether d can be folded into totals: a team that is not
// empty and passes the team rule of pkg/event (teamrule.Problem: at most
// MaxTeamBytes bytes, valid UTF-8, no control characters, not only white
// space), so that every delta the resolver writes passes, a "YYYY-MM"
// month within [MinMonth, MaxMonth], a defined class and a count of 1 to
// MaxDeltaCount. The error wraps ErrInvalidDelta and the specific reason;
// it never carries the team (it may be 200 bytes of anything).
func (d Delta) Validate() error {
	if d.Team == "" {
		return fmt.Errorf("billing: %w: empty team", ErrInvalidDelta)
	}
	if why := teamrule.Problem(d.Team); why != "" {
		return fmt.Errorf("billing: %w: %w: team %s", ErrInvalidDelta, ErrInvalidTeam, why)
	}
	switch {
	case !d.Class.Valid():
		return fmt.Errorf("billing: %w: %w %s", ErrInvalidDelta, ErrUnknownClass, d.Class)
	case d.Count < 0:
		return fmt.Errorf("billing: %w: %w %d", ErrInvalidDelta, ErrNegativeEvents, d.Count)
	case d.Count == 0 || d.Count > MaxDeltaCount:
		return fmt.Errorf("billing: %w: %w: %d, want 1 to %d", ErrInvalidDelta, ErrDeltaCount, d.Count, MaxDeltaCount)
	}
	if _, err := ParseMonth(d.Month); err != nil || d.Month < MinMonth || d.Month > MaxMonth {
		return fmt.Errorf("billing: %w: %w %.16q (from %s to %s)", ErrInvalidDelta, ErrInvalidMonth, d.Month, MinMonth, MaxMonth)
	}
	return nil
}

// DecodeDelta decodes and validates one billing_usage record value. Unknown
// JSON fields are ignored (newer writers may add some). Every error wraps
// ErrInvalidDelta, with a reason fit for a dead-letter header.
func DecodeDelta(b []byte) (Delta, error) {
	var d Delta
	if err := json.Unmarshal(b, &d); err != nil {
		return Delta{}, fmt.Errorf("billing: %w: %w", ErrInvalidDelta, err)
	}
	if err := d.Validate(); err != nil {
		return Delta{}, err
	}
	return d, nil
}
