package billing

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// usd parses a price for test tables.
func usd(t testing.TB, s string) Money {
	t.Helper()
	m, err := ParsePrice(s)
	require.NoError(t, err)
	return m
}

func TestDefaultPricingIsValidAndMatchesSemantics(t *testing.T) {
	p := DefaultPricing()
	require.NoError(t, p.Validate("billing.tiers"))
	assert.Equal(t, Tiers{
		{1_000_000, 0},
		{2_000_000, 248_000},
		{15_000_000, 104_000},
		{50_000_000, 65_500},
		{100_000_000, 36_400},
		{250_000_000, 18_700},
		{0, 10_000},
	}, p[Identified])
	assert.Equal(t, Tiers{
		{1_000_000, 0},
		{2_000_000, 50_000},
		{15_000_000, 34_300},
		{50_000_000, 29_500},
		{100_000_000, 21_800},
		{250_000_000, 15_000},
		{0, 9_000},
	}, p[Anonymous])
	_, ok := p[Excluded]
	assert.False(t, ok)

	p[Anonymous][0].UnitPrice = Dollar
	assert.Equal(t, Money(0), DefaultPricing()[Anonymous][0].UnitPrice, "each call returns fresh tiers")
}

func TestCostDefaultTiers(t *testing.T) {
	p := DefaultPricing()
	tests := []struct {
		name  string
		class Class
		n     int64
		want  string
	}{
		// docs/SEMANTICS.md §7's check: 1M×0 + 1M×0.00005 + 8M×0.0000343.
		{"semantics check", Anonymous, 10_000_000, "324.40"},

		{"anonymous none", Anonymous, 0, "0"},
		{"anonymous one", Anonymous, 1, "0"},
		{"anonymous free tier full", Anonymous, 1_000_000, "0"},
		{"anonymous first paid event", Anonymous, 1_000_001, "0.00005"},
		{"anonymous 2M", Anonymous, 2_000_000, "50"},
		{"anonymous 2M+1", Anonymous, 2_000_001, "50.0000343"},
		{"anonymous 250M", Anonymous, 250_000_000, "4868.40"},
		{"anonymous 300M", Anonymous, 300_000_000, "5318.40"},

		{"identified none", Identified, 0, "0"},
		{"identified one", Identified, 1, "0"},
		{"identified free tier full", Identified, 1_000_000, "0"},
		{"identified first paid event", Identified, 1_000_001, "0.000248"},
		{"identified 2M", Identified, 2_000_000, "248"},
		{"identified 10M", Identified, 10_000_000, "1080"},
		{"identified 15M", Identified, 15_000_000, "1600"},
		{"identified 300M", Identified, 300_000_000, "9017.50"},
		// 1e12 events: well past 250M, no overflow anywhere near.
		{"identified 1e12", Identified, 1_000_000_000_000, "10006017.50"},

		{"excluded costs nothing", Excluded, 10_000_000, "0"},
		{"negative is priced as zero", Anonymous, -5, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := p.Cost(tt.class, tt.n)
			assert.Equal(t, usd(t, tt.want), c.Total, "%s: got %s", tt.name, c.Total)
			assert.Equal(t, tt.class, c.Class)
			assert.Equal(t, max(tt.n, 0), c.Events)
			assert.False(t, c.Overflow)
			assert.NotNil(t, c.Tiers, "tiers encode as [] not null")

			var events int64
			var sum Money
			for _, tc := range c.Tiers {
				assert.Positive(t, tc.Events)
				events += tc.Events
				sum += tc.Amount
				assert.Equal(t, Money(tc.Events)*tc.UnitPrice, tc.Amount)
			}
			assert.Equal(t, sum, c.Total, "the total is the sum of the tiers")
			if tt.class != Excluded {
				assert.Equal(t, max(tt.n, 0), events, "every event falls in exactly one tier")
			}
		})
	}
}

func TestCostBreakdown(t *testing.T) {
	c := DefaultPricing().Cost(Anonymous, 10_000_000)
	assert.Equal(t, []TierCost{
		{From: 0, UpTo: 1_000_000, Events: 1_000_000, UnitPrice: 0, Amount: 0},
		{From: 1_000_000, UpTo: 2_000_000, Events: 1_000_000, UnitPrice: usd(t, "0.00005"), Amount: 50 * Dollar},
		{From: 2_000_000, UpTo: 15_000_000, Events: 8_000_000, UnitPrice: usd(t, "0.0000343"), Amount: usd(t, "274.40")},
	}, c.Tiers)

	open := DefaultPricing().Cost(Identified, 250_000_001).Tiers
	assert.Equal(t, TierCost{From: 250_000_000, UpTo: 0, Events: 1, UnitPrice: usd(t, "0.00001"), Amount: usd(t, "0.00001")},
		open[len(open)-1])
}

// A month's cost is a function of its total. Pricing deltas one by one
// would restart the tiers at every delta; DeltaCost prices a delta against
// the month's running total instead.
func TestTierBoundaryCrossedInsideOneDelta(t *testing.T) {
	p := DefaultPricing()
	const before, delta = 900_000, 200_000 // crosses 1,000,000 inside the delta

	month := p.Cost(Anonymous, before+delta)
	assert.Equal(t, usd(t, "5.00"), month.Total, "100,000 events past the free tier × $0.00005")
	require.Len(t, month.Tiers, 2)
	assert.Equal(t, int64(1_000_000), month.Tiers[0].Events)
	assert.Equal(t, int64(100_000), month.Tiers[1].Events)

	perDelta := p.Cost(Anonymous, before).Total + p.Cost(Anonymous, delta).Total
	assert.Equal(t, Money(0), perDelta, "summing per-delta costs bills the free tier twice: wrong")

	marginal, err := p.DeltaCost(Anonymous, before, delta)
	require.NoError(t, err)
	assert.Equal(t, month.Total, p.Cost(Anonymous, before).Total+marginal)
}

func TestDeltaCostTelescopes(t *testing.T) {
	p := DefaultPricing()
	deltas := []int64{1, 999_998, 2, 1_000_000, 13_000_000, 0, 7, 300_000_000}
	for _, c := range []Class{Anonymous, Identified, Excluded} {
		var total int64
		var sum Money
		for _, d := range deltas {
			m, err := p.DeltaCost(c, total, d)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, m, Money(0))
			sum += m
			total += d
		}
		assert.Equal(t, p.Cost(c, total).Total, sum, "%s: the marginal costs add up to the month's cost", c)
	}
	_, err := p.DeltaCost(Anonymous, -1, 1)
	assert.ErrorIs(t, err, ErrNegativeEvents)
	_, err = p.DeltaCost(Anonymous, math.MaxInt64, 1)
	assert.ErrorIs(t, err, ErrOverflow)
}

func TestCostOverflow(t *testing.T) {
	p := DefaultPricing()
	_, err := p.CheckedCost(Identified, math.MaxInt64)
	assert.ErrorIs(t, err, ErrOverflow)
	c := p.Cost(Identified, math.MaxInt64)
	assert.True(t, c.Overflow)
	assert.Equal(t, MaxMoney, c.Total)

	// 9e14 events, just under the ~9.2e14 limit of the open-ended identified rate, still fit.
	fits := int64(900_000_000_000_000) // 9e14 events
	c2, err := p.CheckedCost(Identified, fits)
	require.NoError(t, err)
	assert.Equal(t, usd(t, "9000006017.50"), c2.Total)

	_, err = p.CheckedCost(Anonymous, -1)
	assert.ErrorIs(t, err, ErrNegativeEvents)
}

func TestCostCustomTiers(t *testing.T) {
	p := Pricing{
		Identified: Tiers{{100, 0}, {200, usd(t, "0.01")}, {0, usd(t, "0.001")}},
		Anonymous:  Tiers{{0, usd(t, "0.0000001")}}, // one flat, open-ended tier
	}
	require.NoError(t, p.Validate("billing.tiers"))
	tests := []struct {
		class Class
		n     int64
		want  string
	}{
		{Identified, 100, "0"},
		{Identified, 101, "0.01"},
		{Identified, 200, "1"},
		{Identified, 250, "1.05"},
		{Anonymous, 0, "0"},
		{Anonymous, 10, "0.000001"},
		{Anonymous, 10_000_000, "1"},
	}
	for _, tt := range tests {
		assert.Equal(t, usd(t, tt.want), p.Cost(tt.class, tt.n).Total, "%s %d", tt.class, tt.n)
	}
}

func TestCostInvalidTiersNeverPanics(t *testing.T) {
	p := Pricing{
		Identified: Tiers{{200, 1}, {100, 2}, {0, 3}, {50, 4}},
		Anonymous:  Tiers{{100, 1}}, // no open-ended tier: events above 100 are unpriced
	}
	require.Error(t, p.Validate(""))
	assert.Equal(t, Money(200*1+800*3), p.Cost(Identified, 1000).Total)
	assert.Equal(t, Money(100), p.Cost(Anonymous, 1000).Total)
	assert.Equal(t, Money(0), Pricing{}.Cost(Identified, 1000).Total, "no tiers: nothing to bill")
	negative := Pricing{Identified: Tiers{{math.MinInt64, 1}, {-5, 1}, {100, 2}, {0, 3}}}
	assert.Equal(t, Money(100*2+900*3), negative.Cost(Identified, 1000).Total, "negative bounds cover nothing")
}
