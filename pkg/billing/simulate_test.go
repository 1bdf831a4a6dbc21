package billing

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSimulate(t *testing.T) {
	p := DefaultPricing()
	tests := []struct {
		name                  string
		events                int64
		share                 float64
		identified, anonymous int64
		total                 string
	}{
		{"all anonymous", 10_000_000, 0, 0, 10_000_000, "324.40"},
		{"all identified", 10_000_000, 1, 10_000_000, 0, "1080"},
		{"30% identified", 10_000_000, 0.3, 3_000_000, 7_000_000, "573.50"}, // 352 + 221.50
		{"nothing", 0, 0.5, 0, 0, "0"},
		{"half of three rounds up", 3, 0.5, 2, 1, "0"},
		{"0.15 is what was typed", 10, 0.15, 2, 8, "0"}, // 1.5 → 2, not 1.4999… → 1
		{"0.29 of 100", 100, 0.29, 29, 71, "0"},         // 0.29 × 100 in float64 is 28.999999999999996
		{"share below one half event", 1, 0.4999, 0, 1, "0"},
		{"huge and exact", 1 << 48, 1.0 / 3, 93_824_992_236_885, 187_649_984_473_771, ""}, // beyond float64's exact products
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Simulate(p, tt.events, tt.share)
			require.NoError(t, err)
			assert.Equal(t, tt.identified, s.Identified.Events)
			assert.Equal(t, tt.anonymous, s.Anonymous.Events)
			assert.Equal(t, tt.events, s.Identified.Events+s.Anonymous.Events, "the split adds up")
			if tt.total != "" {
				assert.Equal(t, usd(t, tt.total), s.Total, "got %s", s.Total)
			}
			assert.Equal(t, s.Identified.Total+s.Anonymous.Total, s.Total)
			assert.Equal(t, p.Cost(Identified, tt.events).Total, s.AllIdentified)
			assert.Equal(t, p.Cost(Anonymous, tt.events).Total, s.AllAnonymous)
			assert.Equal(t, s.AllIdentified-s.Total, s.Saving)
		})
	}
}

// Each class climbs its own tiers from zero, so at high volume a mix of
// classes can cost more than the same traffic all identified: the saving is
// negative. This pins that consequence of per-class tiers (docs/SEMANTICS.md §7).
func TestSimulateSplitCanCostMore(t *testing.T) {
	s, err := Simulate(DefaultPricing(), 300_000_000, 0.25)
	require.NoError(t, err)
	assert.Equal(t, usd(t, "9295.90"), s.Total)
	assert.Equal(t, usd(t, "9017.50"), s.AllIdentified)
	assert.Equal(t, usd(t, "-278.40"), s.Saving)
	assert.Equal(t, usd(t, "5318.40"), s.AllAnonymous)
}

func TestSimulateRejects(t *testing.T) {
	p := DefaultPricing()
	for _, share := range []float64{-0.01, 1.0000001, math.NaN(), math.Inf(1), math.Inf(-1)} {
		_, err := Simulate(p, 100, share)
		assert.ErrorIs(t, err, ErrInvalidShare, "%v", share)
	}
	_, err := Simulate(p, -1, 0.5)
	assert.ErrorIs(t, err, ErrNegativeEvents)
	_, err = Simulate(p, math.MaxInt64, 0.5)
	assert.ErrorIs(t, err, ErrOverflow)
}

func TestSimulateGolden(t *testing.T) {
	s, err := Simulate(DefaultPricing(), 300_000_000, 0.25)
	require.NoError(t, err)
	var table, js bytes.Buffer
	require.NoError(t, s.WriteTable(&table))
	require.NoError(t, s.WriteJSON(&js))
	golden(t, "simulate.table.golden", table.Bytes())
	golden(t, "simulate.json.golden", js.Bytes())
}
