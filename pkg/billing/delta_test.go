package billing

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDeltaJSONRoundTrip(t *testing.T) {
	for _, d := range []Delta{
		{Team: "1", Month: "2026-11", Class: Anonymous, Count: 42},
		{Team: "phc_abc", Month: "2027-01", Class: Identified, Count: 1},
		{Team: "2", Month: "2026-12", Class: Excluded, Count: 9_223_372_036_854_775_807},
	} {
		b, err := json.Marshal(d)
		require.NoError(t, err)
		var back Delta
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, d, back)
		got, err := DecodeDelta(b)
		require.NoError(t, err)
		assert.Equal(t, d, got)
	}

	b, err := json.Marshal(Delta{Team: "1", Month: "2026-11", Class: Anonymous, Count: 42})
	require.NoError(t, err)
	assert.Equal(t, `{"team":"1","month":"2026-11","class":"anonymous","count":42}`, string(b),
		"the billing_usage wire format")
}

func TestDecodeDelta(t *testing.T) {
	got, err := DecodeDelta([]byte(`{"team":"1","month":"2026-11","class":"identified","count":3,"future":true}`))
	require.NoError(t, err, "unknown fields are ignored")
	assert.Equal(t, Key{Team: "1", Month: "2026-11", Class: Identified}, got.Key())

	for _, bad := range []string{
		``,
		`[]`,
		`{"team":"","month":"2026-11","class":"identified","count":3}`,
		`{"team":"1","month":"2026-13","class":"identified","count":3}`,
		`{"team":"1","month":"2026-11","class":"vip","count":3}`,
		`{"team":"1","month":"2026-11","class":2,"count":3}`,
		`{"team":"1","month":"2026-11","class":"identified","count":-3}`,
		`{"team":"1","month":"2026-11","class":"identified","count":"3"}`,
	} {
		_, err := DecodeDelta([]byte(bad))
		assert.ErrorIs(t, err, ErrInvalidDelta, "%s", bad)
	}
	assert.ErrorIs(t, Delta{Team: "1", Month: "2026-11", Class: 9}.Validate(), ErrUnknownClass)
}

// FuzzDecodeDelta: DecodeDelta never panics; whatever it accepts is valid and
// survives a JSON round trip unchanged.
func FuzzDecodeDelta(f *testing.F) {
	f.Add([]byte(`{"team":"1","month":"2026-11","class":"anonymous","count":42}`))
	f.Add([]byte(`{"team":"1","month":"2026-11","class":"vip","count":42}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDelta(b)
		if err != nil {
			return
		}
		require.NoError(t, d.Validate())
		out, err := json.Marshal(d)
		require.NoError(t, err)
		back, err := DecodeDelta(out)
		require.NoError(t, err)
		require.Equal(t, d, back)
	})
}
