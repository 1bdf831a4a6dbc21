package billing

import (
	"fmt"
	"slices"
)

// Filter selects the statements of a Report. An empty field selects
// everything.
type Filter struct {
	Month string // "YYYY-MM", or "" for every month
	Team  string // a team as the resolver writes it ("1", "phc_abc"), or "" for every team
}

// Statement is the bill of one team for one month.
type Statement struct {
	Team           string `json:"team"`
	Month          string `json:"month"`
	ExcludedEvents int64  `json:"excluded_events"` // counted, never billed
	Anonymous      Cost   `json:"anonymous"`
	Identified     Cost   `json:"identified"`
	// Total is Anonymous.Total + Identified.Total: the bill.
	Total Money `json:"total"`
	// AllIdentified is what the month's billed events (anonymous and
	// identified; excluded events stay free) would cost if every one of them
	// were identified: one identified Cost of their sum.
	AllIdentified Money `json:"all_identified"`
	// Saving is AllIdentified − Total: what personless events save. It can
	// be negative even with the default tiers: each class climbs its own
	// tiers from zero, so splitting a large month between two classes gives
	// up volume discounts (300M events, a quarter identified, cost $278.40
	// more than all identified).
	Saving Money `json:"saving"`
}

// BilledEvents is the number of events the statement bills (anonymous and
// identified).
func (s Statement) BilledEvents() int64 { return s.Anonymous.Events + s.Identified.Events }

// Report is the billing statements of a set of teams and months, sorted by
// team, then month (bytewise: team "10" before team "2").
type Report struct {
	Month      string      `json:"month,omitempty"` // the filter it was built with
	Team       string      `json:"team,omitempty"`
	Statements []Statement `json:"statements"`
}

// NewReport prices the monthly totals held in totals (per team, month and
// class: the billing view) under p, keeping the team-months that f selects.
// Each team-month that has a key in totals, of any class, gets a Statement.
//
// It returns an error wrapping ErrInvalidMonth for a bad f.Month,
// ErrUnknownClass or ErrNegativeEvents for a bad entry of totals, and
// ErrOverflow for a cost beyond the range of Money.
func NewReport(totals map[Key]int64, p Pricing, f Filter) (*Report, error) {
	if f.Month != "" {
		if _, err := ParseMonth(f.Month); err != nil {
			return nil, fmt.Errorf("billing: report: %w", err)
		}
	}
	type teamMonth struct{ team, month string }
	counts := make(map[teamMonth]*[numClasses]int64)
	for k, n := range totals {
		if (f.Team != "" && k.Team != f.Team) || (f.Month != "" && k.Month != f.Month) {
			continue
		}
		if !k.Class.Valid() {
			return nil, fmt.Errorf("billing: report: team %q month %q: %w %s", k.Team, k.Month, ErrUnknownClass, k.Class)
		}
		if n < 0 {
			return nil, fmt.Errorf("billing: report: team %q month %q %s: %w %d", k.Team, k.Month, k.Class, ErrNegativeEvents, n)
		}
		tm := teamMonth{k.Team, k.Month}
		if counts[tm] == nil {
			counts[tm] = new([numClasses]int64)
		}
		counts[tm][k.Class] = n
	}

	r := &Report{Month: f.Month, Team: f.Team, Statements: make([]Statement, 0, len(counts))}
	for tm, c := range counts {
		s, err := newStatement(p, tm.team, tm.month, c[Excluded], c[Anonymous], c[Identified])
		if err != nil {
			return nil, fmt.Errorf("billing: report: team %q month %q: %w", tm.team, tm.month, err)
		}
		r.Statements = append(r.Statements, s)
	}
	slices.SortFunc(r.Statements, func(a, b Statement) int {
		return compareKeys(Key{Team: a.Team, Month: a.Month}, Key{Team: b.Team, Month: b.Month})
	})
	return r, nil
}

// newStatement prices one team-month.
func newStatement(p Pricing, team, month string, excluded, anonymous, identified int64) (Statement, error) {
	s := Statement{Team: team, Month: month, ExcludedEvents: excluded}
	var err error
	if s.Anonymous, err = p.CheckedCost(Anonymous, anonymous); err != nil {
		return Statement{}, err
	}
	if s.Identified, err = p.CheckedCost(Identified, identified); err != nil {
		return Statement{}, err
	}
	s.Total, s.AllIdentified, s.Saving, err = compare(p, s.Anonymous, s.Identified)
	return s, err
}

// compare returns the total of an anonymous and an identified cost, the cost
// of all their events as identified, and the difference of the two.
func compare(p Pricing, anon, ident Cost) (total, allIdentified, saving Money, err error) {
	var ok bool
	if total, ok = addMoney(anon.Total, ident.Total); !ok {
		return 0, 0, 0, fmt.Errorf("total of %s and %s: %w", anon.Total, ident.Total, ErrOverflow)
	}
	billed, ok := addCount(anon.Events, ident.Events)
	if !ok {
		return 0, 0, 0, fmt.Errorf("%d + %d events: %w", anon.Events, ident.Events, ErrOverflow)
	}
	all, err := p.CheckedCost(Identified, billed)
	if err != nil {
		return 0, 0, 0, err
	}
	if saving, ok = subMoney(all.Total, total); !ok {
		return 0, 0, 0, fmt.Errorf("saving %s − %s: %w", all.Total, total, ErrOverflow)
	}
	return total, all.Total, saving, nil
}
