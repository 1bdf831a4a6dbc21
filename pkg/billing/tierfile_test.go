package billing

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadTiersJSONCustomFile(t *testing.T) {
	f, err := os.Open("testdata/tiers_custom.json")
	require.NoError(t, err)
	defer f.Close()
	p, err := LoadTiersJSON(f)
	require.NoError(t, err)

	assert.Equal(t, Pricing{
		Identified: Tiers{{500_000, 0}, {5_000_000, usd(t, "0.0002")}, {0, usd(t, "0.00005")}},
		// unit_price as a JSON number is read from its literal text: exact.
		Anonymous: Tiers{{500_000, 0}, {5_000_000, 34_300}, {0, usd(t, "0.00001")}},
	}, p)

	tests := []struct {
		class Class
		n     int64
		want  string
	}{
		{Identified, 500_000, "0"},
		{Identified, 500_001, "0.0002"},
		{Identified, 10_000_000, "1150"},    // 4.5M × 0.0002 + 5M × 0.00005
		{Anonymous, 10_000_000, "204.35"},   // 4.5M × 0.0000343 + 5M × 0.00001
		{Anonymous, 5_000_001, "154.35001"}, // one event into the open-ended tier
		{Excluded, 10_000_000, "0"},
	}
	for _, tt := range tests {
		assert.Equal(t, usd(t, tt.want), p.Cost(tt.class, tt.n).Total, "%s %d", tt.class, tt.n)
	}
}

func TestPricingSpecRoundTrip(t *testing.T) {
	b, err := json.Marshal(DefaultPricing().Spec())
	require.NoError(t, err)
	p, err := LoadTiersJSON(strings.NewReader(string(b)))
	require.NoError(t, err)
	assert.Equal(t, DefaultPricing(), p)
	assert.Contains(t, string(b), `{"unit_price":"0.00001"}`, "the open-ended tier omits up_to")
}

func TestTierFilePricing(t *testing.T) {
	// The shape a caller decodes from YAML or viper.
	f := TierFile{
		"identified": {{UpTo: 10, UnitPrice: "0"}, {UnitPrice: "0.5"}},
		"anonymous":  {{UnitPrice: "0.25"}},
	}
	p, err := f.Pricing("billing.tiers")
	require.NoError(t, err)
	assert.Equal(t, usd(t, "5.00"), p.Cost(Identified, 20).Total)
	assert.Equal(t, usd(t, "5.00"), p.Cost(Anonymous, 20).Total)
}

func TestTierFileBad(t *testing.T) {
	const good = `[{"up_to": 10, "unit_price": "0"}, {"unit_price": "1"}]`
	tests := []struct {
		name string
		json string
		want []wantConfigErr
	}{
		{"overlapping",
			`{"identified": [{"up_to": 10, "unit_price": "0"}, {"up_to": 10, "unit_price": "1"}, {"unit_price": "1"}], "anonymous": ` + good + `}`,
			[]wantConfigErr{{ErrTierOverlap, "identified[1].up_to", "10"}}},
		{"unordered",
			`{"identified": ` + good + `, "anonymous": [{"up_to": 2000000, "unit_price": "0"}, {"up_to": 1000000, "unit_price": "0.1"}, {"unit_price": "1"}]}`,
			[]wantConfigErr{{ErrTierOrder, "anonymous[1].up_to", "1000000"}}},
		{"negative price",
			`{"identified": [{"up_to": 10, "unit_price": "0"}, {"unit_price": "-0.0001"}], "anonymous": ` + good + `}`,
			[]wantConfigErr{{ErrNegativePrice, "identified[1].unit_price", "-0.0001"}}},
		{"negative price as a number",
			`{"identified": [{"up_to": 10, "unit_price": -1}, {"unit_price": "1"}], "anonymous": ` + good + `}`,
			[]wantConfigErr{{ErrNegativePrice, "identified[0].unit_price", "-1.00"}}},
		{"open-ended not last",
			`{"identified": [{"unit_price": "0"}, {"up_to": 10, "unit_price": "1"}], "anonymous": ` + good + `}`,
			[]wantConfigErr{
				{ErrOpenEndedNotLast, "identified[0].up_to", "0"},
				{ErrNoOpenEnded, "identified[1].up_to", "10"},
			}},
		{"unknown class",
			`{"identified": ` + good + `, "anonymous": ` + good + `, "vip": ` + good + `}`,
			[]wantConfigErr{{ErrUnknownClass, "vip", `"vip"`}}},
		{"misspelt class",
			`{"identifed": ` + good + `, "anonymous": ` + good + `}`,
			[]wantConfigErr{{ErrUnknownClass, "identifed", `"identifed"`}}},
		{"excluded priced",
			`{"identified": ` + good + `, "anonymous": ` + good + `, "excluded": ` + good + `}`,
			[]wantConfigErr{{ErrExcludedPriced, "excluded", ""}}},
		{"missing class",
			`{"identified": ` + good + `}`,
			[]wantConfigErr{{ErrMissingClass, "anonymous", ""}}},
		{"no tiers",
			`{"identified": [], "anonymous": ` + good + `}`,
			[]wantConfigErr{{ErrNoTiers, "identified", "[]"}}},
		{"price with an exponent",
			`{"identified": [{"up_to": 10, "unit_price": "0"}, {"unit_price": 3.43e-5}], "anonymous": ` + good + `}`,
			[]wantConfigErr{{ErrInvalidPrice, "identified[1].unit_price", `"3.43e-5"`}}},
		{"price finer than a nano-dollar",
			`{"identified": [{"up_to": 10, "unit_price": "0"}, {"unit_price": "0.0000000001"}], "anonymous": ` + good + `}`,
			[]wantConfigErr{{ErrInvalidPrice, "identified[1].unit_price", `"0.0000000001"`}}},
		{"misspelt field",
			`{"identified": [{"upto": 10, "unit_price": "0"}, {"unit_price": "1"}], "anonymous": ` + good + `}`,
			[]wantConfigErr{{ErrInvalidTierFile, "identified[0].upto", ""}}},
		{"missing price",
			`{"identified": [{"up_to": 10}, {"unit_price": "1"}], "anonymous": ` + good + `}`,
			[]wantConfigErr{{ErrInvalidTierFile, "identified[0].unit_price", ""}}},
		{"fractional bound",
			`{"identified": [{"up_to": 10.5, "unit_price": "0"}, {"unit_price": "1"}], "anonymous": ` + good + `}`,
			[]wantConfigErr{{ErrInvalidTierFile, "identified[0].up_to", "10.5"}}},
		{"price of the wrong type",
			`{"identified": [{"up_to": 10, "unit_price": true}, {"unit_price": "1"}], "anonymous": ` + good + `}`,
			[]wantConfigErr{{ErrInvalidTierFile, "identified[0].unit_price", "true"}}},
		{"not an object", `[1, 2]`, []wantConfigErr{{ErrInvalidTierFile, "(tier file)", ""}}},
		{"null", `null`, []wantConfigErr{{ErrInvalidTierFile, "(tier file)", "null"}}},
		{"empty", ``, []wantConfigErr{{ErrInvalidTierFile, "(tier file)", ""}}},
		{"trailing data", `{"identified": ` + good + `, "anonymous": ` + good + `} {}`,
			[]wantConfigErr{{ErrInvalidTierFile, "(tier file)", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := LoadTiersJSON(strings.NewReader(tt.json))
			assert.Nil(t, p)
			checkConfigErrs(t, err, tt.want)
		})
	}
}

func TestTierFileKeyPrefix(t *testing.T) {
	_, err := TierFile{
		"identified": {{UpTo: 10, UnitPrice: "0"}, {UnitPrice: "abc"}},
		"anonymous":  {{UnitPrice: "0"}},
	}.Pricing("billing.tiers")
	checkConfigErrs(t, err, []wantConfigErr{{ErrInvalidPrice, "billing.tiers.identified[1].unit_price", `"abc"`}})
	assert.EqualError(t, err,
		`billing: billing.tiers.identified[1].unit_price = "abc": invalid price "abc": want a plain decimal such as "0.0000343"`)
}

// FuzzLoadTiersJSON: LoadTiersJSON never panics; what it accepts is a valid
// Pricing that survives Spec → JSON → LoadTiersJSON unchanged; what it
// rejects is a *ConfigError.
func FuzzLoadTiersJSON(f *testing.F) {
	seed, err := os.ReadFile("testdata/tiers_custom.json")
	require.NoError(f, err)
	f.Add(string(seed))
	f.Add(`{"identified":[{"unit_price":"1"}],"anonymous":[{"unit_price":1}]}`)
	f.Add(`{"identified":[{"up_to":5,"unit_price":"1"},{"up_to":5,"unit_price":"-1"}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := LoadTiersJSON(strings.NewReader(s))
		if err != nil {
			require.True(t, IsConfigError(err), "%v", err)
			return
		}
		require.NoError(t, p.Validate(""))
		b, err := json.Marshal(p.Spec())
		require.NoError(t, err)
		back, err := LoadTiersJSON(strings.NewReader(string(b)))
		require.NoError(t, err)
		require.Equal(t, p, back)
	})
}
