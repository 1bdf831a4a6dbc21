package billing

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Pricing is the graduated price list of each billed class. Excluded events
// have no entry: they cost nothing. A Pricing is read-only once validated and
// may be shared between goroutines.
type Pricing map[Class]Tiers

// DefaultPricing returns the default tiers of docs/SEMANTICS.md §7 (USD per event,
// each tier at its own rate), as a new map on every call:
//
//	monthly events   identified   anonymous
//	first 1M         0            0
//	1M – 2M          0.000248     0.0000500
//	2M – 15M         0.000104     0.0000343
//	15M – 50M        0.0000655    0.0000295
//	50M – 100M       0.0000364    0.0000218
//	100M – 250M      0.0000187    0.0000150
//	over 250M        0.0000100    0.0000090
func DefaultPricing() Pricing {
	bounds := []int64{1_000_000, 2_000_000, 15_000_000, 50_000_000, 100_000_000, 250_000_000, 0}
	tiers := func(prices ...string) Tiers {
		t := make(Tiers, len(bounds))
		for i, b := range bounds {
			p, err := ParsePrice(prices[i])
			if err != nil {
				panic(err) // the literals below are fixed; a typo fails every test
			}
			t[i] = Tier{UpTo: b, UnitPrice: p}
		}
		return t
	}
	return Pricing{
		Identified: tiers("0", "0.000248", "0.000104", "0.0000655", "0.0000364", "0.0000187", "0.0000100"),
		Anonymous:  tiers("0", "0.0000500", "0.0000343", "0.0000295", "0.0000218", "0.0000150", "0.0000090"),
	}
}

// Validate checks that p prices exactly the billed classes, anonymous and
// identified, each with valid Tiers (see Tiers.Validate). Every problem is
// returned, joined, as a *ConfigError naming the key (key.anonymous[i]...,
// key.identified[i]...) and the bad value. key is where the pricing came
// from, e.g. "billing.tiers"; it may be empty.
func (p Pricing) Validate(key string) error {
	var errs []error
	for _, c := range slices.Sorted(maps.Keys(p)) {
		switch {
		case !c.Valid():
			errs = append(errs, configErr(joinKey(key, c.String()), c.String(), ErrUnknownClass,
				"want anonymous or identified"))
		case c == Excluded:
			errs = append(errs, configErr(joinKey(key, c.String()), "", ErrExcludedPriced, ""))
		}
	}
	for _, c := range []Class{Anonymous, Identified} {
		t, ok := p[c]
		if !ok {
			errs = append(errs, configErr(joinKey(key, c.String()), "", ErrMissingClass, ""))
			continue
		}
		if err := t.Validate(joinKey(key, c.String())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// joinKey appends a child to a dotted config key.
func joinKey(key, child string) string {
	if key == "" {
		return child
	}
	return key + "." + child
}

// Cost is the price of one class's events for one team in one month.
type Cost struct {
	Class  Class `json:"class"`
	Events int64 `json:"events"`
	// Total is the sum of the tiers' amounts.
	Total Money `json:"total"`
	// Tiers has one entry per tier that holds at least one event, in order.
	Tiers []TierCost `json:"tiers"`
	// Overflow is set by Pricing.Cost when the exact amount does not fit in
	// Money (over $9.2 billion); Total is then MaxMoney and Tiers is empty.
	Overflow bool `json:"overflow,omitempty"`
}

// TierCost is the share of one tier in a Cost: Events events numbered From+1
// to From+Events of the month, at UnitPrice each.
type TierCost struct {
	From      int64 `json:"from"`            // the tier starts after this many monthly events
	UpTo      int64 `json:"up_to,omitempty"` // the tier's bound; 0 (omitted) = open-ended
	Events    int64 `json:"events"`          // events of this month in this tier
	UnitPrice Money `json:"unit_price"`      // price per event
	Amount    Money `json:"amount"`          // Events × UnitPrice, exact
}

// Cost prices a month's total of n events of class c. The cost is a function
// of the month's total, not of how the events arrived: price the total the
// totals view holds, never sum the costs of deltas (see DeltaCost).
//
// Excluded events, and any class p has no tiers for, cost nothing. A
// negative n is priced as zero events. If the amount overflows Money, the
// result has Overflow set and Total = MaxMoney; use CheckedCost to get an
// error instead. Cost expects p to have passed Validate.
func (p Pricing) Cost(c Class, n int64) Cost {
	cost, err := p.CheckedCost(c, max(n, 0))
	if err != nil {
		return Cost{Class: c, Events: n, Total: MaxMoney, Tiers: []TierCost{}, Overflow: true}
	}
	return cost
}

// CheckedCost is Cost that returns ErrNegativeEvents for n < 0 and
// ErrOverflow for an amount beyond the range of Money, instead of clamping.
func (p Pricing) CheckedCost(c Class, n int64) (Cost, error) {
	if n < 0 {
		return Cost{}, fmt.Errorf("billing: cost of %d %s events: %w", n, c, ErrNegativeEvents)
	}
	if c == Excluded {
		return Cost{Class: c, Events: n, Tiers: []TierCost{}}, nil
	}
	total, breakdown, ok := p[c].cost(n)
	if !ok {
		return Cost{}, fmt.Errorf("billing: cost of %d %s events: %w", n, c, ErrOverflow)
	}
	return Cost{Class: c, Events: n, Total: total, Tiers: breakdown}, nil
}

// DeltaCost is the marginal cost of delta more events of class c in a month
// that already had before of them: Cost(before+delta) − Cost(before). It is
// how an incremental delta is priced. Summing DeltaCost over a month's deltas
// in order gives exactly the Cost of the month's total, whereas pricing each
// delta on its own (Cost(delta)) would restart the tiers at zero every time
// and bill the free tier over and over.
func (p Pricing) DeltaCost(c Class, before, delta int64) (Money, error) {
	if before < 0 || delta < 0 {
		return 0, fmt.Errorf("billing: delta cost of %d after %d %s events: %w", delta, before, c, ErrNegativeEvents)
	}
	after, ok := addCount(before, delta)
	if !ok {
		return 0, fmt.Errorf("billing: delta cost of %d after %d %s events: %w", delta, before, c, ErrOverflow)
	}
	b, err := p.CheckedCost(c, before)
	if err != nil {
		return 0, err
	}
	a, err := p.CheckedCost(c, after)
	if err != nil {
		return 0, err
	}
	d, ok := subMoney(a.Total, b.Total)
	if !ok {
		return 0, fmt.Errorf("billing: delta cost of %d after %d %s events: %w", delta, before, c, ErrOverflow)
	}
	return d, nil
}
