package admin

import (
	"fmt"

	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/state"
)

// BillingSource makes the billing report of /v1/billing.
//
// Threading contract: Report is called from HTTP handler goroutines,
// concurrently, while the pipeline runs.
type BillingSource interface {
	// Report returns the report of the statements f selects; f.Month is
	// empty or valid. An error wrapping ErrUnavailable or state.ErrClosed
	// makes the endpoint answer 503.
	Report(f billing.Filter) (*billing.Report, error)
}

// Totals is what TotalsReport reads: the billing view of a replica
// (*state.Store).
type Totals interface {
	// BillingTotals calls fn for every total, by team, month and class.
	BillingTotals(fn func(team, month, class string, n int64) error) error
}

var _ Totals = (*state.Store)(nil)

// TotalsReport is the BillingSource over a replica's billing view, priced
// with p (nil: billing.DefaultPricing): the same report as `resolver
// billing report` makes of a stopped instance's state.
func TotalsReport(t Totals, p billing.Pricing) BillingSource {
	if p == nil {
		p = billing.DefaultPricing()
	}
	return totalsReport{t: t, p: p}
}

type totalsReport struct {
	t Totals
	p billing.Pricing
}

// Report reads the totals f selects and prices them. A total this binary
// cannot price — a class it does not know, a negative or a huge count —
// makes its team-month's statement carry an error (billing.NewReport);
// every other statement is priced, so one team's bad totals never turn the
// whole endpoint into an error. Only a failure to read the view fails.
func (r totalsReport) Report(f billing.Filter) (*billing.Report, error) {
	totals := map[billing.Key]int64{}
	err := r.t.BillingTotals(func(team, month, class string, n int64) error {
		if (f.Team != "" && team != f.Team) || (f.Month != "" && month != f.Month) {
			return nil
		}
		c, err := billing.ParseClass(class)
		if err != nil {
			c = unknownClass // NewReport gives its team-month an error statement
		}
		totals[billing.Key{Team: team, Month: month, Class: c}] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("admin: read billing view: %w", err)
	}
	return billing.NewReport(totals, r.p, f)
}

// unknownClass stands for a stored class name that billing.ParseClass does
// not know (one a later binary may write): not a valid billing.Class.
const unknownClass billing.Class = 255
