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
	// Error, when not empty, says why this team-month could not be priced
	// (a total beyond the range of Money, a negative total, a class this
	// binary does not know); its amounts are then zero and its counts are
	// those of the classes it could read. Only this statement is affected:
	// the rest of the report is priced as usual. Err is the same error,
	// for errors.Is (ErrOverflow, ErrNegativeEvents, ErrUnknownClass).
	Error string `json:"error,omitempty"`
	Err   error  `json:"-"`
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
// It returns an error (wrapping ErrInvalidMonth) only for a bad f.Month. A
// team-month that cannot be priced — a class that is not defined, a
// negative total, a cost beyond the range of Money (ErrOverflow) — gets a
// Statement with Error set and zero amounts, and the others are priced as
// usual: one team's bad totals never fail the report of every team.
func NewReport(totals map[Key]int64, p Pricing, f Filter) (*Report, error) {
	if f.Month != "" {
		if _, err := ParseMonth(f.Month); err != nil {
			return nil, fmt.Errorf("billing: report: %w", err)
		}
	}
	type teamMonth struct{ team, month string }
	type acc struct {
		n                     [numClasses]int64
		badClass, badNegative bool
	}
	counts := make(map[teamMonth]*acc)
	for k, n := range totals {
		if (f.Team != "" && k.Team != f.Team) || (f.Month != "" && k.Month != f.Month) {
			continue
		}
		tm := teamMonth{k.Team, k.Month}
		a := counts[tm]
		if a == nil {
			a = new(acc)
			counts[tm] = a
		}
		switch {
		case !k.Class.Valid():
			a.badClass = true
		case n < 0:
			a.badNegative = true
		default:
			a.n[k.Class] = n
		}
	}

	r := &Report{Month: f.Month, Team: f.Team, Statements: make([]Statement, 0, len(counts))}
	for tm, a := range counts {
		var s Statement
		var err error
		switch {
		case a.badClass:
			err = fmt.Errorf("billing: report: a total of a class this binary does not know: %w", ErrUnknownClass)
		case a.badNegative:
			err = fmt.Errorf("billing: report: a negative total: %w", ErrNegativeEvents)
		default:
			s, err = newStatement(p, tm.team, tm.month, a.n[Excluded], a.n[Anonymous], a.n[Identified])
		}
		if err != nil {
			s = Statement{Team: tm.team, Month: tm.month, ExcludedEvents: a.n[Excluded],
				Anonymous:  Cost{Class: Anonymous, Events: a.n[Anonymous], Tiers: []TierCost{}},
				Identified: Cost{Class: Identified, Events: a.n[Identified], Tiers: []TierCost{}},
				Error:      err.Error(), Err: err}
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
