package billing

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDeltaJSONRoundTrip(t *testing.T) {
	for _, d := range []Delta{
		{Team: "1", Month: "2026-11", Class: Anonymous, Count: 42},
		{Team: "phc_abc", Month: "2027-01", Class: Identified, Count: 1},
		{Team: "2", Month: "2026-12", Class: Excluded, Count: MaxDeltaCount},
		{Team: strings.Repeat("é", MaxTeamBytes/2), Month: MinMonth, Class: Anonymous, Count: 1},
		{Team: "t", Month: MaxMonth, Class: Anonymous, Count: 1},
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
		`null`,
	} {
		_, err := DecodeDelta([]byte(bad))
		assert.ErrorIs(t, err, ErrInvalidDelta, "%s", bad)
	}
	assert.ErrorIs(t, Delta{Team: "1", Month: "2026-11", Class: 9}.Validate(), ErrUnknownClass)
	_, err = DecodeDelta(nil) // a Kafka tombstone
	assert.ErrorIs(t, err, ErrInvalidDelta)
}

// The bounds of a delta (issue 11, item 5: two forged deltas of MaxInt64
// overflowed a total; backdated events were billed to 0001-01; a 70 kB team
// reached a key). Each is refused with its reason, and the error never
// carries the team.
func TestDeltaBounds(t *testing.T) {
	ok := Delta{Team: "1", Month: "2026-11", Class: Identified, Count: 1}
	require.NoError(t, ok.Validate())
	huge := strings.Repeat("T", 70_000)
	for name, c := range map[string]struct {
		d    Delta
		want error
	}{
		"count MaxInt64":    {Delta{Team: "1", Month: "2026-11", Class: Identified, Count: math.MaxInt64}, ErrDeltaCount},
		"count above bound": {Delta{Team: "1", Month: "2026-11", Class: Identified, Count: MaxDeltaCount + 1}, ErrDeltaCount},
		"count zero":        {Delta{Team: "1", Month: "2026-11", Class: Identified}, ErrDeltaCount},
		"count negative":    {Delta{Team: "1", Month: "2026-11", Class: Identified, Count: -1}, ErrNegativeEvents},
		"count MinInt64":    {Delta{Team: "1", Month: "2026-11", Class: Identified, Count: math.MinInt64}, ErrNegativeEvents},
		"team 201 bytes":    {Delta{Team: strings.Repeat("t", MaxTeamBytes+1), Month: "2026-11", Class: Identified, Count: 1}, ErrInvalidTeam},
		"team 70 kB":        {Delta{Team: huge, Month: "2026-11", Class: Identified, Count: 1}, ErrInvalidTeam},
		"team with newline": {Delta{Team: "1\nforged log line", Month: "2026-11", Class: Identified, Count: 1}, ErrInvalidTeam},
		"team with DEL":     {Delta{Team: "1\x7f", Month: "2026-11", Class: Identified, Count: 1}, ErrInvalidTeam},
		"team with C1":      {Delta{Team: "1\u0085", Month: "2026-11", Class: Identified, Count: 1}, ErrInvalidTeam},
		"team only spaces":  {Delta{Team: " \u00a0", Month: "2026-11", Class: Identified, Count: 1}, ErrInvalidTeam},
		// No delta read from the topic has one (encoding/json replaces
		// invalid UTF-8) and no decoded team is one; a Delta built by hand
		// is held to the same rule as an op's team (teamrule.Problem).
		"team not UTF-8":     {Delta{Team: "1\xff", Month: "2026-11", Class: Identified, Count: 1}, ErrInvalidTeam},
		"month 0001-01":      {Delta{Team: "1", Month: "0001-01", Class: Identified, Count: 1}, ErrInvalidMonth},
		"month 1969-12":      {Delta{Team: "1", Month: "1969-12", Class: Identified, Count: 1}, ErrInvalidMonth},
		"month 2026-13":      {Delta{Team: "1", Month: "2026-13", Class: Identified, Count: 1}, ErrInvalidMonth},
		"month with a day":   {Delta{Team: "1", Month: "2026-11-01", Class: Identified, Count: 1}, ErrInvalidMonth},
		"month 70 kB":        {Delta{Team: "1", Month: huge, Class: Identified, Count: 1}, ErrInvalidMonth},
		"month empty":        {Delta{Team: "1", Class: Identified, Count: 1}, ErrInvalidMonth},
		"class out of range": {Delta{Team: "1", Month: "2026-11", Class: 200, Count: 1}, ErrUnknownClass},
	} {
		t.Run(name, func(t *testing.T) {
			err := c.d.Validate()
			assert.ErrorIs(t, err, ErrInvalidDelta)
			assert.ErrorIs(t, err, c.want)
			if err != nil {
				assert.Less(t, len(err.Error()), 200, "the error is short: it never carries the team or month in full")
			}
		})
	}
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
