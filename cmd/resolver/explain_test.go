package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// Log record times of makeLineageState's ops.
var (
	tIdentify = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tRefused  = tIdentify.Add(time.Hour)
	tBulk     = tIdentify.Add(2 * time.Hour)
)

// makeLineageState writes a replica as a stopped instance leaves it, with
// lineage: ops applied through unionfind.Graph and, for each merge, the
// lineage row the applier would store (written by hand: Graph.Apply does
// not produce them yet).
//
//	offset 0: anon-1's first event
//	offset 1: user-1 $identify anon-1: user-1 (implicit) moves into anon-1's person
//	offset 2: user-2's first event
//	offset 3: user-2 $identify user-1: refused, already identified
//	offset 4: a merge_dangerously moving 15 ids into user-1's person (lineage only)
func makeLineageState(t *testing.T, stateDir string) {
	t.Helper()
	st, err := state.Open(filepath.Join(stateDir, "identity"), state.Options{})
	require.NoError(t, err)
	defer st.Close()
	P := unionfind.ImplicitPersonID("1", "anon-1")
	src := func(off int64) unionfind.Source {
		return unionfind.Source{Topic: "events_raw", Partition: 2, Offset: 100 + off}
	}
	log := func(off int64, at time.Time) unionfind.LogPos {
		return unionfind.LogPos{Partition: 0, Offset: off, Time: at.UnixMilli()}
	}
	ev := func(off int64, did string, at time.Time) unionfind.Op {
		return unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: did, EventUUID: fmt.Sprintf("uuid-%d", off),
			Timestamp: at.UnixMilli() - 500, Source: src(off), Log: log(off, at)}
	}
	identify := ev(1, "user-1", tIdentify)
	identify.Merge = &unionfind.Merge{Other: "anon-1", Guarded: true, Rule: unionfind.RuleIdentify}
	refused := ev(3, "user-2", tRefused)
	refused.Merge = &unionfind.Merge{Other: "user-1", Guarded: true, Rule: unionfind.RuleIdentify}
	ops := []unionfind.Op{ev(0, "anon-1", tIdentify.Add(-time.Hour)), identify, ev(2, "user-2", tIdentify), refused}
	bulk := make([]string, 15)
	for i := range bulk {
		bulk[i] = fmt.Sprintf("bulk-%02d", i)
	}
	rows := []unionfind.MergeRow{
		{Team: "1", Rule: unionfind.RuleIdentify, Survivor: P, Absorbed: unionfind.ImplicitPersonID("1", "user-1"),
			Moved: []string{"user-1"}, Other: "anon-1", Into: "user-1", EventUUID: "uuid-1",
			Timestamp: identify.Timestamp, Source: identify.Source, Log: identify.Log},
		{Team: "1", Rule: unionfind.RuleIdentify, Refused: unionfind.WarnAlreadyIdentified,
			Survivor: unionfind.ImplicitPersonID("1", "user-2"), Absorbed: P, Other: "user-1", Into: "user-2",
			EventUUID: "uuid-3", Timestamp: refused.Timestamp, Source: refused.Source, Log: refused.Log},
		{Team: "1", Rule: unionfind.RuleMergeDangerously, Survivor: P, Absorbed: unionfind.ImplicitPersonID("1", "bulk"),
			Moved: bulk, Other: "bulk-00", Into: "user-1", EventUUID: "uuid-4",
			Timestamp: tBulk.UnixMilli(), Source: src(4), Log: log(4, tBulk)},
	}
	var g unionfind.Graph
	require.NoError(t, st.Update(func(tx state.Tx) error {
		for i := range ops {
			if _, err := g.Apply(tx, &ops[i]); err != nil {
				return err
			}
		}
		for _, r := range rows {
			if err := tx.PutLineage(r); err != nil {
				return err
			}
		}
		return tx.SetApplied(0, 5)
	}))
}

// openLineage reads the views straight from the store, to compare with
// what the commands print.
func openLineage(t *testing.T, dir string) *state.Store {
	t.Helper()
	st, err := state.Open(filepath.Join(dir, "identity"), state.Options{})
	require.NoError(t, err)
	return st
}

func TestExplain(t *testing.T) {
	dir := t.TempDir()
	makeLineageState(t, dir)
	st := openLineage(t, dir)
	wantLineage, err := st.Lineage("1", "user-1")
	require.NoError(t, err)
	wantPath, err := st.Path("1", "user-1", "user-2")
	require.NoError(t, err)
	require.NoError(t, st.Close())
	P := unionfind.ImplicitPersonID("1", "anon-1").String()

	code, out, errOut := runCLI(t, "--state-dir", dir, "explain", "--team", "1", "--distinct-id", "user-1", "--format", "json")
	require.Equal(t, 0, code, errOut)
	var lv state.LineageView
	require.NoError(t, json.Unmarshal([]byte(out), &lv))
	assert.Equal(t, wantLineage, lv)
	require.Len(t, lv.Moves, 1)
	assert.Len(t, lv.Grew, 2)
	assert.Len(t, lv.Refusals, 1)

	code, out, errOut = runCLI(t, "--state-dir", dir, "explain", "--team", "1", "--distinct-id", "user-1")
	require.Equal(t, 0, code, errOut)
	for _, s := range []string{
		"person_id    " + P + " (explicit)",
		"steps that moved user-1 (1)",
		"  1. identify at 2026-12-01T09:59:59.500Z",
		"     event     uuid-1 from events_raw partition 2 offset 101 (op 0)",
		"     logged    identity_log partition 0 offset 1 (row 0) at 2026-12-01T10:00:00.000Z",
		"     request   other anon-1 into user-1",
		"     persons   " + unionfind.ImplicitPersonID("1", "user-1").String() + " → " + P + " (absorbed → survivor)",
		"     moved     (1) user-1\n",
		"steps that grew person " + P + " (2)",
		"     moved     (15) bulk-00, bulk-01, bulk-02, bulk-03, bulk-04, bulk-05, bulk-06, bulk-07, bulk-08, bulk-09 … and 5 more",
		"refused merges naming user-1 (1)",
		"  1. REFUSED identify (cannot_merge_already_identified) at",
		"     moved     nothing",
	} {
		assert.Contains(t, out, s)
	}

	// Two ids, apart: the refusal that kept them apart.
	code, out, errOut = runCLI(t, "--state-dir", dir, "explain", "--team", "1", "--distinct-id", "user-1", "--distinct-id", "user-2", "--format", "json")
	require.Equal(t, 0, code, errOut)
	var pv state.PathView
	require.NoError(t, json.Unmarshal([]byte(out), &pv))
	assert.Equal(t, wantPath, pv)
	assert.False(t, pv.SamePerson)
	require.Len(t, pv.Refusals, 1)
	code, out, _ = runCLI(t, "--state-dir", dir, "explain", "--team", "1", "--distinct-id", "anon-1", "--distinct-id", "user-2")
	require.Equal(t, 0, code)
	for _, s := range []string{"verdict      different persons", "refused merges between their persons (1)", "REFUSED identify (cannot_merge_already_identified)", "request   other user-1 into user-2"} {
		assert.Contains(t, out, s)
	}

	// Two ids of one person: joined by the identify.
	code, out, _ = runCLI(t, "--state-dir", dir, "explain", "--team", "1", "--distinct-id", "anon-1", "--distinct-id", "user-1")
	require.Equal(t, 0, code)
	for _, s := range []string{"verdict      the same person", "joined by\n  1. identify at", "steps that moved anon-1 (0)"} {
		assert.Contains(t, out, s)
	}

	// An id nothing ever touched.
	code, out, _ = runCLI(t, "--state-dir", dir, "explain", "--team", "1", "--distinct-id", "stranger")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "(implicit: no stored person claims this distinct_id)")
	assert.Contains(t, out, "none recorded: the id is in the person it started in")
}

func TestLookupAsOf(t *testing.T) {
	dir := t.TempDir()
	makeLineageState(t, dir)
	P := unionfind.ImplicitPersonID("1", "anon-1").String()
	own := unionfind.ImplicitPersonID("1", "user-1").String()
	for _, c := range []struct {
		at    time.Time
		want  string
		basis string
	}{
		{tIdentify.Add(-time.Millisecond), own, state.BasisBeforeNext},
		{tIdentify, P, state.BasisMoved},
		{tBulk.Add(24 * time.Hour), P, state.BasisMoved},
	} {
		code, out, errOut := runCLI(t, "--state-dir", dir, "lookup", "--team", "1", "--distinct-id", "user-1",
			"--as-of", c.at.Format(time.RFC3339Nano), "--format", "json")
		require.Equal(t, 0, code, errOut)
		var v state.AsOfView
		require.NoError(t, json.Unmarshal([]byte(out), &v))
		assert.Equal(t, c.want, v.PersonID, "as of %s", c.at)
		assert.Equal(t, c.basis, v.Basis, "as of %s", c.at)
	}
	code, out, errOut := runCLI(t, "--state-dir", dir, "lookup", "--team", "1", "--distinct-id", "user-1", "--as-of", "2026-12-01T11:00:00+01:00")
	require.Equal(t, 0, code, errOut)
	for _, s := range []string{
		"as of        2026-12-01T10:00:00.000Z (identity_log record time)",
		"person_id    " + P + "\n",
		"because      the person the last step at or before that time moved the id into",
		"last step at or before that time\n  1. identify at",
	} {
		assert.Contains(t, out, s)
	}
	code, out, _ = runCLI(t, "--state-dir", dir, "lookup", "--team", "1", "--distinct-id", "stranger", "--as-of", "2026-12-01T11:00:00Z")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "(the id's implicit person id)")
	assert.NotContains(t, out, "last step")
}

func TestExplainRefuses(t *testing.T) {
	dir := t.TempDir()
	makeLineageState(t, dir)
	for _, args := range [][]string{
		{"explain", "--distinct-id", "a"},
		{"explain", "--team", "1"},
		{"explain", "--team", "1", "--distinct-id", ""},
		{"explain", "--team", "1", "--distinct-id", "a", "--distinct-id", "b", "--distinct-id", "c"},
		{"explain", "--team", "1", "--distinct-id", "a", "--format", "yaml"},
		{"lookup", "--team", "1", "--distinct-id", "a", "--as-of", "yesterday"},
		{"lookup", "--team", "1", "--distinct-id", "a", "--as-of", "2026-12-01"},
	} {
		code, _, errOut := runCLI(t, append([]string{"--state-dir", dir}, args...)...)
		assert.Equal(t, 2, code, "%v: %s", args, errOut)
	}
	held, err := state.Open(filepath.Join(dir, "identity"), state.Options{})
	require.NoError(t, err)
	defer held.Close()
	code, _, errOut := runCLI(t, "--state-dir", dir, "explain", "--team", "1", "--distinct-id", "a")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "`resolver explain` works on a stopped instance's state")
	missing := filepath.Join(t.TempDir(), "nowhere")
	code, _, errOut = runCLI(t, "--state-dir", missing, "explain", "--team", "1", "--distinct-id", "a")
	assert.Equal(t, 1, code)
	assert.True(t, strings.Contains(errOut, "no resolver state in "), errOut)
}
