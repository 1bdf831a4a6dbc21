package admin_test

import (
	"encoding/json"
	"math"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/admin"
	"github.com/resolver-dev/resolver/pkg/state"
)

// Totals that cannot be priced — a count whose cost overflows Money, a
// class this binary does not know — give their team-month a statement with
// an error, and /v1/billing still answers 200 with every other team priced
// (issue 11, item 5: two forged MaxInt64 deltas made /v1/billing answer 500
// for every team).
func TestBillingHugeTotalsOneTeamOnly(t *testing.T) {
	f := newFixture(t, admin.Config{})
	require.NoError(t, f.st.ApplyBilling([]state.BillingDelta{
		{Team: "evil", Month: "2026-11", Class: "identified", Count: math.MaxInt64},
		{Team: "old", Month: "2026-11", Class: "vip", Count: 3},
	}, map[int32]int64{0: 6}))

	type statement struct {
		Team, Month, Total, Error string
	}
	type report struct {
		Statements []statement
	}
	get := func(target string) report {
		t.Helper()
		a := f.get(t, target)
		require.Equal(t, http.StatusOK, a.code, "%s: %s", target, a.body)
		var r report
		require.NoError(t, json.Unmarshal(a.body, &r), "%s", a.body)
		return r
	}

	all := get("/v1/billing")
	errs := map[string]string{}
	for _, s := range all.Statements {
		errs[s.Team+"/"+s.Month] = s.Error
	}
	assert.Contains(t, errs["evil/2026-11"], "amount out of range")
	assert.Contains(t, errs["old/2026-11"], "unknown billing class")
	assert.Empty(t, errs["1/2026-11"])
	assert.Empty(t, errs["2/2026-11"])

	one := get("/v1/billing?team=1&month=2026-11")
	require.Len(t, one.Statements, 1)
	assert.Empty(t, one.Statements[0].Error)
	assert.Equal(t, "324.40", one.Statements[0].Total, "team 1: 10M anonymous and 5 identified")

	evil := get("/v1/billing?team=evil")
	require.Len(t, evil.Statements, 1)
	assert.NotEmpty(t, evil.Statements[0].Error)
}
