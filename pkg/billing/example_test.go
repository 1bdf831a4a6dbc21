package billing_test

import (
	"fmt"
	"os"
	"time"

	"github.com/resolver-dev/resolver/pkg/billing"
)

// The check of docs/SEMANTICS.md §7: 10,000,000 anonymous events in a month.
func ExamplePricing_Cost() {
	c := billing.DefaultPricing().Cost(billing.Anonymous, 10_000_000)
	for _, t := range c.Tiers {
		fmt.Printf("%d events from %d at $%s = $%s\n", t.Events, t.From, t.UnitPrice, t.Amount)
	}
	fmt.Println("total", c.Total)
	// Output:
	// 1000000 events from 0 at $0.00 = $0.00
	// 1000000 events from 1000000 at $0.00005 = $50.00
	// 8000000 events from 2000000 at $0.0000343 = $274.40
	// total 324.40
}

// Deltas add to the month's total; a delta is priced against it.
func ExamplePricing_DeltaCost() {
	p := billing.DefaultPricing()
	m, _ := p.DeltaCost(billing.Anonymous, 900_000, 200_000)
	fmt.Println("marginal", m)
	fmt.Println("alone   ", p.Cost(billing.Anonymous, 200_000).Total, "(wrong: restarts the free tier)")
	// Output:
	// marginal 5.00
	// alone    0.00 (wrong: restarts the free tier)
}

func ExampleSimulate() {
	s, err := billing.Simulate(billing.DefaultPricing(), 10_000_000, 0.3)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("identified", s.Identified.Events, s.Identified.Total)
	fmt.Println("anonymous ", s.Anonymous.Events, s.Anonymous.Total)
	fmt.Println("total     ", s.Total)
	fmt.Println("all ident.", s.AllIdentified)
	fmt.Println("saving    ", s.Saving)
	// Output:
	// identified 3000000 352.00
	// anonymous  7000000 221.50
	// total      573.50
	// all ident. 1080.00
	// saving     506.50
}

func ExampleSimulation_WriteTable() {
	s, _ := billing.Simulate(billing.DefaultPricing(), 2_000_000, 0.5)
	_ = s.WriteTable(os.Stdout)
	// Output:
	// events            2,000,000
	// identified share  0.5
	//
	// CLASS              EVENTS     TIER           UNIT PRICE  USD
	// identified         1,000,000                             0.00
	//                    1,000,000  0 - 1,000,000  0.00        0.00
	// anonymous          1,000,000                             0.00
	//                    1,000,000  0 - 1,000,000  0.00        0.00
	// total              2,000,000                             0.00
	// if all identified  2,000,000                             248.00
	// saving                                                   248.00
	// if all anonymous   2,000,000                             50.00
}

func ExampleMeter() {
	c := billing.NewClassifier(billing.DefaultExcludedEvents())
	m := billing.NewMeter()
	for _, e := range []struct{ team, ts, name, mode string }{
		{"1", "2026-11-30T23:59:59Z", "$pageview", "propertyless"},
		{"1", "2026-12-01T00:30:00+01:00", "$pageview", "full"}, // still November in UTC
		{"1", "2026-12-01T00:00:00Z", "$feature_flag_called", "full"},
	} {
		ts, _ := time.Parse(time.RFC3339, e.ts)
		m.Add(e.team, billing.Month(ts), c.Classify(e.name, e.mode), 1)
	}
	for _, d := range m.Deltas() {
		fmt.Printf("%s %s %s %d\n", d.Team, d.Month, d.Class, d.Count)
	}
	// Output:
	// 1 2026-11 anonymous 1
	// 1 2026-11 identified 1
	// 1 2026-12 excluded 1
}

// The billing class of a stamped event, then the month's price of each
// class: the classes are priced apart, each with its own free tier
// (docs/SEMANTICS.md §7).
func ExampleClassifier_Classify() {
	c := billing.NewClassifier(billing.DefaultExcludedEvents())
	for _, e := range []struct{ name, mode string }{
		{"$pageview", "full"},
		{"$pageview", "propertyless"},
		{"$pageview", "force_upgrade"},
		{"$feature_flag_called", "full"},
	} {
		fmt.Println(e.name, e.mode, c.Classify(e.name, e.mode))
	}
	p := billing.DefaultPricing()
	fmt.Println("3M identified:", p.Cost(billing.Identified, 3_000_000).Total)
	fmt.Println("3M anonymous: ", p.Cost(billing.Anonymous, 3_000_000).Total)
	// Output:
	// $pageview full identified
	// $pageview propertyless anonymous
	// $pageview force_upgrade identified
	// $feature_flag_called full excluded
	// 3M identified: 352.00
	// 3M anonymous:  84.30
}
