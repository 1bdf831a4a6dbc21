package billing

import (
	"cmp"
	"encoding/json"
	"fmt"
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

// Validate reports whether d can be folded into totals: a non-empty team, a
// "YYYY-MM" month, a defined class and a count of zero or more. The error
// wraps ErrInvalidDelta and the specific reason.
func (d Delta) Validate() error {
	switch {
	case d.Team == "":
		return fmt.Errorf("billing: %w: empty team", ErrInvalidDelta)
	case !d.Class.Valid():
		return fmt.Errorf("billing: %w: %w %s", ErrInvalidDelta, ErrUnknownClass, d.Class)
	case d.Count < 0:
		return fmt.Errorf("billing: %w: %w %d", ErrInvalidDelta, ErrNegativeEvents, d.Count)
	}
	if _, err := ParseMonth(d.Month); err != nil {
		return fmt.Errorf("billing: %w: %w %q", ErrInvalidDelta, ErrInvalidMonth, d.Month)
	}
	return nil
}

// DecodeDelta decodes and validates one billing_usage record value. Unknown
// JSON fields are ignored (newer writers may add some). Every error wraps
// ErrInvalidDelta, with a reason fit for a dead-letter header.
func DecodeDelta(b []byte) (Delta, error) {
	var d Delta
	if err := json.Unmarshal(b, &d); err != nil {
		return Delta{}, fmt.Errorf("billing: %w: %v", ErrInvalidDelta, err)
	}
	if err := d.Validate(); err != nil {
		return Delta{}, err
	}
	return d, nil
}
