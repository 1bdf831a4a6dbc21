package billing

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTiersValidate(t *testing.T) {
	const key = "billing.tiers.identified"
	tests := []struct {
		name  string
		tiers Tiers
		// each wanted problem: the sentinel, and the key and value it must name
		want []wantConfigErr
	}{
		{"valid single open-ended tier", Tiers{{0, 5}}, nil},
		{"valid default", DefaultPricing()[Identified], nil},
		{"empty", Tiers{}, []wantConfigErr{{ErrNoTiers, key, "[]"}}},
		{"overlapping", Tiers{{100, 0}, {100, 5}, {0, 1}},
			[]wantConfigErr{{ErrTierOverlap, key + "[1].up_to", "100"}}},
		{"unordered", Tiers{{1_000_000, 0}, {500, 5}, {0, 1}},
			[]wantConfigErr{{ErrTierOrder, key + "[1].up_to", "500"}}},
		{"unordered after a good pair", Tiers{{100, 0}, {200, 1}, {150, 1}, {0, 1}},
			[]wantConfigErr{{ErrTierOrder, key + "[2].up_to", "150"}}},
		{"negative price", Tiers{{100, 0}, {0, -100}},
			[]wantConfigErr{{ErrNegativePrice, key + "[1].unit_price", "-0.0000001"}}},
		{"negative bound", Tiers{{-1, 0}, {0, 1}},
			[]wantConfigErr{{ErrTierBound, key + "[0].up_to", "-1"}}},
		{"open-ended not last", Tiers{{0, 1}, {100, 0}},
			[]wantConfigErr{
				{ErrOpenEndedNotLast, key + "[0].up_to", "0"},
				{ErrNoOpenEnded, key + "[1].up_to", "100"},
			}},
		{"missing open-ended last tier", Tiers{{100, 0}, {200, 1}},
			[]wantConfigErr{{ErrNoOpenEnded, key + "[1].up_to", "200"}}},
		{"every problem at once", Tiers{{100, -1}, {50, 0}, {0, 1}, {0, 2}},
			[]wantConfigErr{
				{ErrNegativePrice, key + "[0].unit_price", "-0.000000001"},
				{ErrTierOrder, key + "[1].up_to", "50"},
				{ErrOpenEndedNotLast, key + "[2].up_to", "0"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.tiers.Validate(key)
			checkConfigErrs(t, err, tt.want)
		})
	}
}

func TestPricingValidate(t *testing.T) {
	good := DefaultPricing()[Anonymous]
	tests := []struct {
		name string
		p    Pricing
		want []wantConfigErr
	}{
		{"default", DefaultPricing(), nil},
		{"unknown class", Pricing{Anonymous: good, Identified: good, Class(5): good},
			[]wantConfigErr{{ErrUnknownClass, "billing.tiers.class(5)", "class(5)"}}},
		{"excluded priced", Pricing{Anonymous: good, Identified: good, Excluded: good},
			[]wantConfigErr{{ErrExcludedPriced, "billing.tiers.excluded", ""}}},
		{"missing identified", Pricing{Anonymous: good},
			[]wantConfigErr{{ErrMissingClass, "billing.tiers.identified", ""}}},
		{"bad tiers keyed by class", Pricing{Anonymous: Tiers{{10, 0}, {5, 0}, {0, 0}}, Identified: good},
			[]wantConfigErr{{ErrTierOrder, "billing.tiers.anonymous[1].up_to", "5"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkConfigErrs(t, tt.p.Validate("billing.tiers"), tt.want)
		})
	}
}

type wantConfigErr struct {
	sentinel   error
	key, value string
}

// checkConfigErrs asserts that err holds exactly the wanted *ConfigErrors, in
// order, each naming its key and value in its message.
func checkConfigErrs(t *testing.T, err error, want []wantConfigErr) {
	t.Helper()
	if len(want) == 0 {
		require.NoError(t, err)
		return
	}
	require.Error(t, err)
	assert.True(t, IsConfigError(err))
	var got []*ConfigError
	collectConfigErrs(err, &got)
	require.Len(t, got, len(want), "%v", err)
	for i, w := range want {
		ce := got[i]
		assert.ErrorIs(t, ce, w.sentinel, "%v", ce)
		assert.Equal(t, w.key, ce.Key)
		assert.Equal(t, w.value, ce.Value)
		assert.Contains(t, ce.Error(), w.key)
		assert.Contains(t, ce.Error(), w.value)
		assert.ErrorIs(t, err, w.sentinel, "the joined error wraps every reason")
	}
}

func collectConfigErrs(err error, out *[]*ConfigError) {
	if j, ok := err.(interface{ Unwrap() []error }); ok { // a join: each of its errors
		for _, e := range j.Unwrap() {
			collectConfigErrs(e, out)
		}
		return
	}
	if ce := (*ConfigError)(nil); errors.As(err, &ce) {
		*out = append(*out, ce)
	}
}

func TestConfigErrorMessage(t *testing.T) {
	err := Tiers{{1_000_000, 0}, {500, 5}, {0, 1}}.Validate("billing.tiers.identified")
	assert.EqualError(t, err,
		"billing: billing.tiers.identified[1].up_to = 500: tiers out of order: below 1000000, where tier 0 ends; list tiers in ascending order of up_to")
	assert.False(t, IsConfigError(errors.New("other")))
}
