package billing

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// Simulation is the monthly cost of a given traffic under a Pricing, split
// between identified and anonymous events, next to the two extremes: all
// events identified and all events anonymous (personless).
type Simulation struct {
	Events          int64   `json:"events"`
	IdentifiedShare float64 `json:"identified_share"`
	Identified      Cost    `json:"identified"`
	Anonymous       Cost    `json:"anonymous"`
	Total           Money   `json:"total"`          // Identified.Total + Anonymous.Total
	AllIdentified   Money   `json:"all_identified"` // cost if every event were identified
	AllAnonymous    Money   `json:"all_anonymous"`  // cost if every event were anonymous
	Saving          Money   `json:"saving"`         // AllIdentified − Total
}

// Simulate prices one month of events events, identifiedShare of them
// identified and the rest anonymous, under p (which should have passed
// Validate).
//
// The split is exact and always adds up to events. The share is read as the
// shortest decimal that round-trips to the float64 (what the user typed:
// 0.15 is 15/100, not 0.1499999999999999944…), then
//
//	identified = events × share, rounded to the nearest integer, halves up
//	anonymous  = events − identified
//
// so 3 events at 0.5 are 2 identified and 1 anonymous, and 10 at 0.15 are 2
// and 8.
//
// It returns an error wrapping ErrInvalidShare for a share outside [0, 1] or
// NaN, ErrNegativeEvents for events < 0, and ErrOverflow for a cost beyond
// the range of Money.
func Simulate(p Pricing, events int64, identifiedShare float64) (Simulation, error) {
	if math.IsNaN(identifiedShare) || identifiedShare < 0 || identifiedShare > 1 {
		return Simulation{}, fmt.Errorf("billing: simulate: %w, got %v", ErrInvalidShare, identifiedShare)
	}
	if events < 0 {
		return Simulation{}, fmt.Errorf("billing: simulate: %w %d", ErrNegativeEvents, events)
	}
	identified := splitEvents(events, identifiedShare)
	s := Simulation{Events: events, IdentifiedShare: identifiedShare}
	var err error
	if s.Identified, err = p.CheckedCost(Identified, identified); err != nil {
		return Simulation{}, fmt.Errorf("billing: simulate: %w", err)
	}
	if s.Anonymous, err = p.CheckedCost(Anonymous, events-identified); err != nil {
		return Simulation{}, fmt.Errorf("billing: simulate: %w", err)
	}
	if s.Total, s.AllIdentified, s.Saving, err = compare(p, s.Anonymous, s.Identified); err != nil {
		return Simulation{}, fmt.Errorf("billing: simulate: %w", err)
	}
	allAnon, err := p.CheckedCost(Anonymous, events)
	if err != nil {
		return Simulation{}, fmt.Errorf("billing: simulate: %w", err)
	}
	s.AllAnonymous = allAnon.Total
	return s, nil
}

// splitEvents returns round-half-up(events × share) for 0 ≤ share ≤ 1, with
// share taken as its shortest round-tripping decimal.
func splitEvents(events int64, share float64) int64 {
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(share, 'f', -1, 64))
	if !ok { // cannot happen for a finite float; fall back to the exact binary value
		r = new(big.Rat).SetFloat64(share)
	}
	num := new(big.Int).Mul(r.Num(), big.NewInt(events))
	den := r.Denom()
	q, rem := new(big.Int).QuoRem(num, den, new(big.Int))
	if rem.Lsh(rem, 1).Cmp(den) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	return q.Int64() // 0 ≤ q ≤ events, since 0 ≤ share ≤ 1
}
