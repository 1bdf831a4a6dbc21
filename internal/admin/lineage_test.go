package admin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/resolver-dev/resolver/internal/admin"
	"github.com/resolver-dev/resolver/internal/redact"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// lineageFixture is the replica of newFixture with the lineage rows of its
// merge (user-1 moved into anon-1's person) and of a refused $identify of
// user-2 naming user-1, written as the applier writes them.
func lineageFixture(t *testing.T, edit func(d *admin.Deps)) *fixture {
	t.Helper()
	f := newFixture(t, admin.Config{}, edit)
	P := unionfind.ImplicitPersonID("1", "anon-1")
	rows := []unionfind.MergeRow{
		{Team: "1", Rule: unionfind.RuleIdentify, Survivor: P, Absorbed: unionfind.ImplicitPersonID("1", "user-1"),
			Moved: []string{"user-1"}, Other: "anon-1", Into: "user-1", EventUUID: "e1", Timestamp: 1_795_860_000_000,
			Source: unionfind.Source{Topic: "events_raw", Offset: 1}, Log: unionfind.LogPos{Offset: 0, Time: 1_795_860_000_100}},
		{Team: "1", Rule: unionfind.RuleIdentify, Refused: unionfind.WarnAlreadyIdentified,
			Survivor: unionfind.ImplicitPersonID("1", "user-2"), Absorbed: P, Other: "user-1", Into: "user-2", EventUUID: "e2",
			Source: unionfind.Source{Topic: "events_raw", Offset: 2}, Log: unionfind.LogPos{Offset: 1, Time: 1_795_860_001_000}},
	}
	require.NoError(t, f.st.Update(func(tx state.Tx) error {
		for _, r := range rows {
			if err := tx.PutLineage(r); err != nil {
				return err
			}
		}
		return nil
	}))
	return f
}

// fromReplica serves lineage from the fixture's replica.
func fromReplica(d *admin.Deps) { d.Lineage = d.Persons.(*state.Store) }

// TestLineage: the answers are the replica's state.LineageView and
// state.PathView, the JSON of `resolver explain --format json`.
func TestLineage(t *testing.T) {
	f := lineageFixture(t, fromReplica)

	a := f.get(t, "/v1/persons/lineage?team=1&distinct_id=user-1")
	require.Equal(t, http.StatusOK, a.code, "%s", a.body)
	assert.Equal(t, "application/json", a.hdr.Get("Content-Type"))
	want, err := f.st.Lineage("1", "user-1")
	require.NoError(t, err)
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	assert.JSONEq(t, string(wantJSON), string(a.body))
	var v state.LineageView
	require.NoError(t, json.Unmarshal(a.body, &v))
	require.Len(t, v.Moves, 1)
	assert.Equal(t, "identify", v.Moves[0].Rule)
	assert.Equal(t, []string{"user-1"}, v.Moves[0].DistinctIDsMoved)
	require.Len(t, v.Refusals, 1)
	assert.Equal(t, unionfind.WarnAlreadyIdentified, v.Refusals[0].Refused)

	// With other: the path; apart, the refusal between the persons.
	a = f.get(t, "/v1/persons/lineage?team=1&distinct_id=anon-1&other=user-2")
	require.Equal(t, http.StatusOK, a.code, "%s", a.body)
	wantPath, err := f.st.Path("1", "anon-1", "user-2")
	require.NoError(t, err)
	wantJSON, err = json.Marshal(wantPath)
	require.NoError(t, err)
	assert.JSONEq(t, string(wantJSON), string(a.body))
	var p state.PathView
	require.NoError(t, json.Unmarshal(a.body, &p))
	assert.False(t, p.SamePerson)
	require.Len(t, p.Refusals, 1)
	assert.Equal(t, "e2", p.Refusals[0].EventUUID)

	a = f.get(t, "/v1/persons/lineage?team=1&distinct_id=anon-1&other=user-1")
	require.Equal(t, http.StatusOK, a.code, "%s", a.body)
	require.NoError(t, json.Unmarshal(a.body, &p))
	assert.True(t, p.SamePerson)
	require.NotNil(t, p.Joined)
	assert.Equal(t, "e1", p.Joined.EventUUID)

	// An id without a stored person has a lineage too: 200, implicit.
	a = f.get(t, "/v1/persons/lineage?team=1&distinct_id=never-seen")
	require.Equal(t, http.StatusOK, a.code, "%s", a.body)
	m := a.json(t)
	assert.Equal(t, true, m["implicit"])
	assert.Equal(t, unionfind.ImplicitPersonID("1", "never-seen").String(), m["person_id"])
	assert.Equal(t, []any{}, m["moves"])

	// Two ids of 1024 bytes, percent-encoded, fit the query bound.
	big := strings.Repeat("é", 512)
	a = f.get(t, "/v1/persons/lineage?"+url.Values{"team": {"1"}, "distinct_id": {big}, "other": {big}}.Encode())
	assert.Equal(t, http.StatusOK, a.code, "%s", a.body)
}

func TestLineageBadRequest(t *testing.T) {
	f := lineageFixture(t, fromReplica)
	long := strings.Repeat("x", 1025)
	for _, tc := range []struct{ query, param string }{
		{"", "team"},
		{"distinct_id=a", "team"},
		{"team=1", "distinct_id"},
		{"team=" + strings.Repeat("t", 201) + "&distinct_id=a", "team"},
		{"team=1&distinct_id=", "distinct_id"},
		{"team=1&distinct_id=" + long, "distinct_id"},
		{"team=1&distinct_id=a&other=", "other"},
		{"team=1&distinct_id=a&other=" + long, "other"},
		{"team=1&distinct_id=a&other=b&other=c", "other"},
		{"team=1&distinct_id=a&b=c", "unknown query parameter"},
		{"team=1&distinct_id=%zz", "query"},
	} {
		a := f.get(t, "/v1/persons/lineage?"+tc.query)
		require.Equal(t, http.StatusBadRequest, a.code, "?%s: %s", tc.query, a.body)
		assert.Contains(t, a.json(t)["error"], tc.param, "?%s", tc.query)
		assert.Len(t, a.json(t), 1, "only the error member")
	}
	assert.Equal(t, http.StatusMethodNotAllowed, f.do(t, http.MethodPost, "/v1/persons/lineage?team=1&distinct_id=a").code)
}

// failingLineage fails like a corrupt replica: its errors name the ids.
type failingLineage struct{}

func (failingLineage) Lineage(team, did string) (state.LineageView, error) {
	return state.LineageView{}, fmt.Errorf("state: team %q distinct_id %q: corrupt lineage row", team, did)
}

func (failingLineage) Path(team, a, b string) (state.PathView, error) {
	return state.PathView{}, fmt.Errorf("state: team %q distinct_ids %q and %q: corrupt lineage row", team, a, b)
}

// TestLineageErrors: a failed query is a 500 without details, logged with
// the ids hashed; no source or a closed replica is a 503.
func TestLineageErrors(t *testing.T) {
	f := lineageFixture(t, func(d *admin.Deps) { d.Lineage = failingLineage{} })
	for _, q := range []string{"distinct_id=alice@example.com", "distinct_id=alice@example.com&other=bob@example.com"} {
		a := f.get(t, "/v1/persons/lineage?team=1&"+q)
		require.Equal(t, http.StatusInternalServerError, a.code)
		assert.NotContains(t, string(a.body), "corrupt", "no internals in the answer")
	}
	entries := f.logs.FilterMessage("lineage query failed").All()
	require.Len(t, entries, 2)
	for _, e := range entries {
		line := logLine(t, e)
		assert.NotContains(t, line, "alice@example.com")
		assert.NotContains(t, line, "bob@example.com")
		assert.Contains(t, line, redact.Hash("alice@example.com"))
	}
	assert.Contains(t, logLine(t, entries[1]), `"other":"`+redact.Hash("bob@example.com")+`"`)

	f = lineageFixture(t, func(*admin.Deps) {})
	a := f.get(t, "/v1/persons/lineage?team=1&distinct_id=a")
	assert.Equal(t, http.StatusServiceUnavailable, a.code)
	assert.Contains(t, a.json(t)["error"], "lineage queries are not available")

	g := lineageFixture(t, fromReplica)
	require.NoError(t, g.st.Close())
	before := g.logs.FilterLevelExact(zapcore.ErrorLevel).Len()
	for _, q := range []string{"distinct_id=a", "distinct_id=a&other=b"} {
		a = g.get(t, "/v1/persons/lineage?team=1&"+q)
		assert.Equal(t, http.StatusServiceUnavailable, a.code, "%s", a.body)
	}
	assert.Equal(t, before, g.logs.FilterLevelExact(zapcore.ErrorLevel).Len(), "nothing logged")
}
