package resolve_test

// Scenarios of docs/SEMANTICS.md §8 (a person's lifecycle) at the graph
// level: lineage rows, deletion (with and without --block, of an unknown
// id, then the same id again), split and its refusals, and key refs. Events
// go the pipeline's way (event.Decoder → resolve.Op → Graph.Apply), so the
// lineage rules come from resolve.Op; delete and split ops are built as the
// command consumer builds them. Every op is applied at identity_log offset
// = its index in the scenario (Op.Log).

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/event"
	"github.com/resolver-dev/resolver/pkg/resolve"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

const lifeTeam = "1"

var lifeT0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// life runs one lifecycle scenario.
type life struct {
	t   *testing.T
	dec *event.Decoder
	st  *state.Memory
	g   unionfind.Graph
	off int64 // the next op's identity_log offset
	// seal makes event ops sealed under the id's current generation (the
	// worker's doing), so that they take key refs.
	seal bool
}

func newLife(t *testing.T) *life {
	now := lifeT0.Add(24 * time.Hour)
	l := &life{t: t, dec: event.NewDecoder(event.Options{Now: func() time.Time { return now }}), st: state.NewMemory()}
	t.Cleanup(func() { _ = l.st.Close() })
	return l
}

func (l *life) apply(op *unionfind.Op) unionfind.Result {
	l.t.Helper()
	op.Log = unionfind.LogPos{Partition: 0, Offset: l.off, Time: lifeT0.Add(time.Duration(l.off) * time.Minute).UnixMilli()}
	l.off++
	var res unionfind.Result
	require.NoError(l.t, l.st.Update(func(tx state.Tx) error {
		if l.seal && op.Kind == unionfind.OpEvent {
			m, _, err := tx.Mapping(op.Team, op.DistinctID)
			if err != nil {
				return err
			}
			op.Sealed, op.Gen = true, m.Gen // as opened by the applier (KeyID cleared)
		}
		var err error
		res, err = l.g.Apply(tx, op)
		return err
	}))
	return res
}

// event sends one event: name, distinct_id, and the rest of its JSON
// object (properties, $set …), e.g. `"properties":{"$anon_distinct_id":"a"}`.
func (l *life) event(name, did, rest string) (unionfind.Op, unionfind.Result) {
	l.t.Helper()
	ts := lifeT0.Add(time.Duration(l.off) * time.Minute).Format(time.RFC3339)
	rec := fmt.Sprintf(`{"event":%q,"team_id":1,"distinct_id":%q,"timestamp":%q`, name, did, ts)
	if rest != "" {
		rec += "," + rest
	}
	rec += "}"
	src := event.Source{Topic: "events_raw", Offset: l.off}
	ev, err := l.dec.Decode([]byte(rec), src)
	require.NoError(l.t, err, rec)
	op, ok := resolve.Op(ev, unionfind.Source{Topic: "events_raw", Offset: l.off})
	require.True(l.t, ok, "a full event implies an op: %s", rec)
	res := l.apply(&op)
	return op, res
}

func (l *life) set(did, props string) unionfind.Result {
	l.t.Helper()
	_, res := l.event("e", did, `"$set":`+props)
	return res
}

func (l *life) identify(into, other string) unionfind.Result {
	l.t.Helper()
	_, res := l.event("$identify", into, fmt.Sprintf(`"properties":{"$anon_distinct_id":%q}`, other))
	return res
}

func (l *life) alias(into, other string) unionfind.Result {
	l.t.Helper()
	_, res := l.event("$create_alias", into, fmt.Sprintf(`"properties":{"alias":%q}`, other))
	return res
}

func (l *life) mergeDangerously(into, other string) unionfind.Result {
	l.t.Helper()
	_, res := l.event("$merge_dangerously", into, fmt.Sprintf(`"properties":{"alias":%q}`, other))
	return res
}

func (l *life) del(did string, block bool) unionfind.Result {
	l.t.Helper()
	op := unionfind.Op{Kind: unionfind.OpDeletePerson, Team: lifeTeam, DistinctID: did, Block: block,
		Source: unionfind.Source{Topic: "identity_commands", Offset: l.off}}
	return l.apply(&op)
}

func (l *life) split(noProps bool, first string, more ...string) unionfind.Result {
	l.t.Helper()
	op := unionfind.Op{Kind: unionfind.OpSplit, Team: lifeTeam, DistinctID: first, SplitIDs: more, NoProperties: noProps,
		Source: unionfind.Source{Topic: "identity_commands", Offset: l.off}}
	return l.apply(&op)
}

func (l *life) find(did string) (unionfind.Person, bool) {
	l.t.Helper()
	var p unionfind.Person
	var explicit bool
	require.NoError(l.t, l.st.View(func(tx state.Tx) error {
		var err error
		p, explicit, err = unionfind.Find(tx, lifeTeam, did)
		return err
	}))
	// The stamping path (the cache in front of the store) agrees.
	sp, sexplicit, err := l.st.Find(lifeTeam, did)
	require.NoError(l.t, err)
	require.Equal(l.t, p.ID, sp.ID, "Store.Find and unionfind.Find disagree on %s", did)
	require.Equal(l.t, explicit, sexplicit)
	return p, explicit
}

func (l *life) person(id unionfind.PersonID) unionfind.Person {
	l.t.Helper()
	var p unionfind.Person
	require.NoError(l.t, l.st.View(func(tx state.Tx) error {
		var ok bool
		var err error
		p, ok, err = tx.Person(lifeTeam, id)
		if !ok {
			return fmt.Errorf("person %s not stored", id)
		}
		return err
	}))
	return p
}

func (l *life) mapping(did string) unionfind.Mapping {
	l.t.Helper()
	var m unionfind.Mapping
	require.NoError(l.t, l.st.View(func(tx state.Tx) error {
		var ok bool
		var err error
		m, ok, err = tx.Mapping(lifeTeam, did)
		if !ok {
			return fmt.Errorf("no mapping of %s", did)
		}
		return err
	}))
	return m
}

func (l *life) refs(id unionfind.PersonID) []unionfind.KeyRef {
	l.t.Helper()
	var refs []unionfind.KeyRef
	require.NoError(l.t, l.st.View(func(tx state.Tx) error {
		return tx.Refs(lifeTeam, id, func(k unionfind.KeyRef) error {
			refs = append(refs, k)
			return nil
		})
	}))
	return refs
}

func (l *life) key(k unionfind.KeyRef) unionfind.KeyState {
	l.t.Helper()
	var st unionfind.KeyState
	require.NoError(l.t, l.st.View(func(tx state.Tx) error {
		var err error
		st, _, err = tx.Key(lifeTeam, k)
		return err
	}))
	return st
}

func (l *life) fingerprint() string {
	l.t.Helper()
	fp, err := l.st.Fingerprint()
	require.NoError(l.t, err)
	return fp
}

func imp(did string) unionfind.PersonID { return unionfind.ImplicitPersonID(lifeTeam, did) }

func warningTypes(res unionfind.Result) []string {
	var ts []string
	for _, w := range res.Warnings {
		ts = append(ts, w.Type)
	}
	return ts
}

func propsJSON(p unionfind.Person) string { return string(p.AppendPropertiesJSON(nil)) }

// ---- lineage ----

func TestLifecycleLineageOfMerges(t *testing.T) {
	l := newLife(t)
	// The first event of u makes its implicit person explicit: not a merge.
	res := l.set("u", `{"name":"x"}`)
	require.Empty(t, res.Merges)

	// identify u ← a: a's implicit person is absorbed, a moved.
	op, res := l.event("$identify", "u", `"properties":{"$anon_distinct_id":"a"}`)
	require.Len(t, res.Merges, 1)
	row := res.Merges[0]
	require.Equal(t, unionfind.MergeRow{
		Team: lifeTeam, Survivor: imp("u"), Absorbed: imp("a"), Moved: []string{"a"},
		Rule: unionfind.RuleIdentify, Other: "a", Into: "u",
		EventUUID: op.EventUUID, Timestamp: op.Timestamp, Source: op.Source, Log: op.Log,
	}, row)

	// alias u ← b.
	res = l.alias("u", "b")
	require.Len(t, res.Merges, 1)
	require.Equal(t, unionfind.RuleAlias, res.Merges[0].Rule)
	require.Equal(t, []string{"b"}, res.Merges[0].Moved)
	require.Equal(t, imp("b"), res.Merges[0].Absorbed)

	// v is explicit with two ids; merge_dangerously u ← v moves both, sorted.
	l.set("v", `{"n":1}`)
	l.identify("v", "z")
	l.identify("v", "c")
	res = l.mergeDangerously("u", "v")
	require.Len(t, res.Merges, 1)
	row = res.Merges[0]
	require.Equal(t, unionfind.RuleMergeDangerously, row.Rule)
	require.Empty(t, row.Refused)
	require.Equal(t, imp("u"), row.Survivor)
	require.Equal(t, imp("v"), row.Absorbed)
	require.Equal(t, []string{"c", "v", "z"}, row.Moved)

	// A merge within one person moves nothing and records nothing.
	res = l.identify("u", "a")
	require.Empty(t, res.Merges)
}

func TestLifecycleLineageOfRefusals(t *testing.T) {
	l := newLife(t)
	l.g.MaxMergeMove = 1
	l.set("u", `{}`)
	l.identify("u", "a") // @u identified
	l.set("w", `{}`)
	l.identify("w", "b") // @w identified

	cases := []struct {
		name     string
		send     func() unionfind.Result
		warning  string
		rule     unionfind.Rule
		surv     unionfind.PersonID
		absorbed unionfind.PersonID
		other    string
		into     string
	}{
		{"illegal id", func() unionfind.Result { return l.identify("u", "null") },
			unionfind.WarnIllegalMerge, unionfind.RuleIdentify, unionfind.PersonID{}, unionfind.PersonID{}, "null", "u"},
		{"already identified", func() unionfind.Result { return l.alias("u", "w") },
			unionfind.WarnAlreadyIdentified, unionfind.RuleAlias, imp("u"), imp("w"), "w", "u"},
		{"move limit", func() unionfind.Result { return l.mergeDangerously("u", "w") },
			unionfind.WarnMergeMoveLimit, unionfind.RuleMergeDangerously, imp("u"), imp("w"), "w", "u"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := l.fingerprint()
			res := c.send()
			require.Equal(t, []string{c.warning}, warningTypes(res))
			require.Len(t, res.Merges, 1)
			row := res.Merges[0]
			require.Equal(t, c.warning, row.Refused)
			require.Equal(t, c.rule, row.Rule)
			require.Equal(t, c.surv, row.Survivor)
			require.Equal(t, c.absorbed, row.Absorbed)
			require.Empty(t, row.Moved)
			require.Equal(t, c.other, row.Other)
			require.Equal(t, c.into, row.Into)
			require.Empty(t, res.DistinctIDs, "a refused merge moves nothing")
			require.Equal(t, before, l.fingerprint(), "a refused merge of explicit persons changes no identity state")
		})
	}
}

// ---- deletion ----

func TestLifecycleDeleteThenSameID(t *testing.T) {
	l := newLife(t)
	l.set("a", `{"k":1}`)
	l.set("a", `{"k":2}`)
	l.identify("a", "b")
	require.Equal(t, uint64(2), l.person(imp("a")).Version)

	off := l.off
	res := l.del("b", false) // by any of its ids
	ver := 101 * uint64(off+1)
	require.Len(t, res.Persons, 1)
	tomb := res.Persons[0].Person
	require.Equal(t, imp("a"), tomb.ID)
	require.True(t, tomb.Deleted)
	require.Empty(t, tomb.Props, "the tombstone keeps ids and versions only")
	require.Equal(t, ver, tomb.Version)
	require.Equal(t, []unionfind.DistinctIDRow{
		{Team: lifeTeam, DistinctID: "a", PersonID: imp("a"), Version: 1, Deleted: true},
		{Team: lifeTeam, DistinctID: "b", PersonID: imp("a"), Version: 2, Deleted: true},
	}, res.DistinctIDs)
	require.Len(t, res.Merges, 1)
	require.Equal(t, unionfind.MergeRow{
		Team: lifeTeam, Absorbed: imp("a"), Moved: []string{"a", "b"}, Rule: unionfind.RuleDelete,
		Into: "b", Source: unionfind.Source{Topic: "identity_commands", Offset: off}, Log: res.Merges[0].Log,
	}, res.Merges[0])
	require.Equal(t, off, res.Merges[0].Log.Offset)
	for _, d := range []string{"a", "b"} {
		m := l.mapping(d)
		require.True(t, m.Deleted)
		require.False(t, m.Blocked)
		require.Equal(t, uint32(1), m.Gen, "deletion raises %s's generation", d)
		p, explicit := l.find(d)
		require.False(t, explicit)
		require.Equal(t, imp(d), p.ID)
	}

	// The same id again: a fresh person under the same UUIDv5 id, its
	// versions above the tombstone's.
	res = l.set("a", `{"k":3}`)
	require.Len(t, res.Persons, 1)
	p := res.Persons[0].Person
	require.Equal(t, imp("a"), p.ID)
	require.False(t, p.Deleted)
	require.Equal(t, ver+1, p.Version)
	require.JSONEq(t, `{"k":3}`, propsJSON(p))
	require.Equal(t, []unionfind.DistinctIDRow{{Team: lifeTeam, DistinctID: "a", PersonID: imp("a"), Version: 2}}, res.DistinctIDs)
	require.Equal(t, uint32(1), l.mapping("a").Gen, "a live mapping keeps its generation")
	// b is implicit again: not part of a's new person.
	p2, explicit := l.find("b")
	require.False(t, explicit)
	require.Equal(t, imp("b"), p2.ID)
}

func TestLifecycleDeleteWithBlock(t *testing.T) {
	l := newLife(t)
	l.set("a", `{"k":1}`)
	res := l.del("a", true)
	require.Len(t, res.DistinctIDs, 1)
	require.True(t, l.mapping("a").Blocked)
	before := l.fingerprint()

	// A later event of a changes nothing, merge request or not.
	res = l.set("a", `{"k":2}`)
	require.True(t, res.Empty(), "%+v", res)
	res = l.identify("a", "x")
	require.True(t, res.Empty(), "%+v", res)
	require.Equal(t, before, l.fingerprint())
	_, explicit := l.find("a")
	require.False(t, explicit)

	// A merge naming a is refused; the rest of the event applies.
	for _, send := range []func() unionfind.Result{
		func() unionfind.Result { return l.identify("u", "a") },
		func() unionfind.Result {
			_, r := l.event("$identify", "u", `"properties":{"$anon_distinct_id":"a"},"$set":{"n":1}`)
			return r
		},
		func() unionfind.Result { return l.mergeDangerously("u", "a") },
	} {
		res = send()
		require.Equal(t, []string{unionfind.WarnMergeBlocked}, warningTypes(res))
		require.Len(t, res.Merges, 1)
		require.Equal(t, unionfind.WarnMergeBlocked, res.Merges[0].Refused)
		require.Empty(t, res.Merges[0].Moved)
		require.Equal(t, "a", res.Merges[0].Other)
		require.Equal(t, "u", res.Merges[0].Into)
		for _, row := range res.DistinctIDs {
			require.NotEqual(t, "a", row.DistinctID)
		}
	}
	p, explicit := l.find("u")
	require.True(t, explicit, "u's own event applied")
	require.Equal(t, uint64(1), p.Size)
	require.JSONEq(t, `{"n":1}`, propsJSON(p))
	require.False(t, p.Identified, "a refused merge does not identify")
	_, explicit = l.find("a")
	require.False(t, explicit)
	require.True(t, unionfind.IsMergeRefusal(unionfind.WarnMergeBlocked))
}

func TestLifecycleDeleteUnknownID(t *testing.T) {
	l := newLife(t)
	l.set("a", `{"k":1}`)
	l.del("a", false)
	before := l.fingerprint()
	for _, did := range []string{"nobody", "a"} { // never seen; already deleted
		off := l.off
		res := l.del(did, false)
		require.Equal(t, unionfind.Result{Merges: []unionfind.MergeRow{{
			Team: lifeTeam, Rule: unionfind.RuleDelete, Refused: unionfind.RefuseUnknownDistinctID, Into: did,
			Source: unionfind.Source{Topic: "identity_commands", Offset: off}, Log: res.Merges[0].Log,
		}}}, res)
		require.Equal(t, before, l.fingerprint(), "deleting %s changes nothing", did)
	}
}

// ---- split ----

func TestLifecycleSplitFirstID(t *testing.T) {
	l := newLife(t)
	l.set("a", `{"k":1}`)
	l.identify("a", "b")
	l.identify("a", "c")
	pBefore := l.person(imp("a"))

	// Split a — the id the person is named after — out.
	off := l.off
	res := l.split(false, "a")
	nid := unionfind.SplitPersonID(lifeTeam, "a", off)
	require.NotEqual(t, imp("a"), nid)
	require.Empty(t, res.Warnings)
	require.Len(t, res.Persons, 1, "the old person's row does not change; only the new one is emitted")
	n := res.Persons[0].Person
	require.Equal(t, nid, n.ID)
	require.Equal(t, uint64(0), n.Version)
	require.True(t, n.Identified, "identified as the old one was")
	require.Equal(t, pBefore.CreatedAt, n.CreatedAt)
	require.Equal(t, pBefore.Props, n.Props, "properties copied, times kept")
	require.Equal(t, []unionfind.DistinctIDRow{{Team: lifeTeam, DistinctID: "a", PersonID: nid, Version: 1}}, res.DistinctIDs)
	require.Len(t, res.Merges, 1)
	row := res.Merges[0]
	require.Equal(t, unionfind.RuleSplit, row.Rule)
	require.Equal(t, nid, row.Survivor)
	require.Equal(t, imp("a"), row.Absorbed)
	require.Equal(t, []string{"a"}, row.Moved)
	require.Equal(t, uint32(1), l.mapping("a").Gen, "a split raises the moved id's generation")

	pa, _ := l.find("a")
	require.Equal(t, nid, pa.ID)
	p := l.person(imp("a"))
	require.Equal(t, uint64(2), p.Size)
	require.Equal(t, pBefore.Version, p.Version)
	for _, d := range []string{"b", "c"} {
		pd, _ := l.find(d)
		require.Equal(t, imp("a"), pd.ID)
	}

	// Deleting a's new person must not drop a back into its implicit
	// person, which lives on with b and c: a's next event starts a fresh
	// person.
	res = l.del("a", false)
	m := l.mapping("a")
	require.Equal(t, uint32(2), m.Gen)
	require.NotEqual(t, unionfind.PersonID{}, m.Fresh)
	pa, explicit := l.find("a")
	require.False(t, explicit)
	require.Equal(t, m.Fresh, pa.ID)
	require.NotEqual(t, imp("a"), pa.ID)
	res = l.set("a", `{"k":9}`)
	require.Len(t, res.Persons, 1)
	require.Equal(t, m.Fresh, res.Persons[0].Person.ID)
	require.Equal(t, uint64(2), l.person(imp("a")).Size, "b and c's person is untouched")
}

func TestLifecycleSplitThenIdentifyAgain(t *testing.T) {
	l := newLife(t)
	l.set("u", `{"k":1}`)
	l.identify("u", "a")
	off := l.off
	l.split(false, "a")
	nid := unionfind.SplitPersonID(lifeTeam, "a", off)

	// The usual rules: a guarded merge does not absorb the split person,
	// identified as its origin was (every merge identifies, so a person
	// with two ids always is) …
	res := l.identify("u", "a")
	require.Equal(t, []string{unionfind.WarnAlreadyIdentified}, warningTypes(res))
	require.Equal(t, unionfind.WarnAlreadyIdentified, res.Merges[0].Refused)
	pa, _ := l.find("a")
	require.Equal(t, nid, pa.ID)
	// … an unguarded one does.
	res = l.mergeDangerously("u", "a")
	require.Empty(t, res.Warnings)
	require.Len(t, res.Merges, 1)
	require.Equal(t, imp("u"), res.Merges[0].Survivor)
	require.Equal(t, nid, res.Merges[0].Absorbed)
	require.Equal(t, []string{"a"}, res.Merges[0].Moved)
	pa, _ = l.find("a")
	require.Equal(t, imp("u"), pa.ID)
	require.Equal(t, uint64(2), pa.Size)
	require.True(t, l.person(nid).Deleted)
}

func TestLifecycleSplitRefusals(t *testing.T) {
	l := newLife(t)
	l.set("a", `{"k":1}`)
	l.identify("a", "b")
	l.identify("a", "c")
	l.set("x", `{}`)
	before := l.fingerprint()
	cases := []struct {
		name   string
		first  string
		more   []string
		refuse string
		person unionfind.PersonID
		other  string
	}{
		{"every id", "a", []string{"b", "c"}, unionfind.RefuseSplitAll, imp("a"), "a"},
		{"every id, duplicates dropped", "c", []string{"a", "c", "b", "a"}, unionfind.RefuseSplitAll, imp("a"), "c"},
		{"an id of another person", "a", []string{"x"}, unionfind.RefuseSplitNotInPerson, imp("a"), "x"},
		{"an id of no person", "a", []string{"b", "never"}, unionfind.RefuseSplitNotInPerson, imp("a"), "never"},
		{"unknown first id", "never", []string{"a"}, unionfind.RefuseUnknownDistinctID, unionfind.PersonID{}, "never"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := l.split(false, c.first, c.more...)
			require.Equal(t, []string{c.refuse}, warningTypes(res))
			require.Empty(t, res.Persons)
			require.Empty(t, res.DistinctIDs)
			require.Len(t, res.Merges, 1)
			row := res.Merges[0]
			require.Equal(t, unionfind.RuleSplit, row.Rule)
			require.Equal(t, c.refuse, row.Refused)
			require.Equal(t, c.person, row.Absorbed)
			require.Equal(t, c.other, row.Other)
			require.Equal(t, c.first, row.Into)
			require.Empty(t, row.Moved)
			require.Equal(t, before, l.fingerprint())
		})
	}
	// A deleted first id is unknown too.
	l.del("x", false)
	res := l.split(false, "x")
	require.Equal(t, []string{unionfind.RefuseUnknownDistinctID}, warningTypes(res))
}

func TestLifecycleSplitProperties(t *testing.T) {
	for _, noProps := range []bool{false, true} {
		t.Run(fmt.Sprintf("no_properties=%v", noProps), func(t *testing.T) {
			l := newLife(t)
			l.seal = true
			l.set("a", `{"k":1,"m":"x"}`)
			l.identify("a", "b")
			l.set("b", `{"n":2}`)
			l.identify("a", "c")
			p := l.person(imp("a"))
			wantRefs := []unionfind.KeyRef{{DistinctID: "a", Gen: 0}, {DistinctID: "b", Gen: 0}}
			require.ElementsMatch(t, wantRefs, l.refs(p.ID))

			off := l.off
			res := l.split(noProps, "c", "b")
			nid := unionfind.SplitPersonID(lifeTeam, "c", off)
			require.Len(t, res.Persons, 1)
			n := res.Persons[0].Person
			require.Equal(t, uint64(2), n.Size)
			require.Equal(t, []string{"b", "c"}, res.Merges[0].Moved)
			if noProps {
				require.Empty(t, n.Props)
				require.Empty(t, l.refs(nid), "no properties, no refs")
				require.Equal(t, uint64(1), l.key(wantRefs[1]).Holders)
			} else {
				require.Equal(t, p.Props, n.Props)
				require.ElementsMatch(t, wantRefs, l.refs(nid), "the copy depends on the same keys")
				require.Equal(t, uint64(2), l.key(wantRefs[1]).Holders)
			}
			require.ElementsMatch(t, wantRefs, l.refs(p.ID), "the old person keeps its refs")
			require.Equal(t, uint32(1), l.mapping("b").Gen)
			require.Equal(t, uint32(0), l.mapping("a").Gen)

			// b's values from now on are sealed under its new generation
			// and belong to the new person alone.
			l.set("b", `{"n":3}`)
			require.ElementsMatch(t, []unionfind.KeyRef{{DistinctID: "b", Gen: 1}}, subtract(l.refs(nid), wantRefs))
			require.ElementsMatch(t, wantRefs, l.refs(p.ID))
		})
	}
}

func subtract(a, b []unionfind.KeyRef) []unionfind.KeyRef {
	var out []unionfind.KeyRef
	for _, k := range a {
		if !slices.Contains(b, k) {
			out = append(out, k)
		}
	}
	return out
}

// ---- erasure ----

func TestLifecycleDeleteErasesKeys(t *testing.T) {
	l := newLife(t)
	l.seal = true
	l.set("a", `{"k":1}`)
	l.set("b", `{"n":1}`)
	l.identify("a", "b") // b's person absorbed: its tombstone keeps {"n":1} until a's deletion
	require.Equal(t, `{"n":1}`, propsJSON(l.person(imp("b"))))
	ka, kb := unionfind.KeyRef{DistinctID: "a"}, unionfind.KeyRef{DistinctID: "b"}
	require.Equal(t, []unionfind.KeyRef{ka, kb}, l.refs(imp("a")))
	require.Empty(t, l.refs(imp("b")), "an absorbed tombstone holds no refs")
	require.Equal(t, unionfind.KeyState{Holders: 1}, l.key(kb))

	// A split copy holds the keys too: deleting the original erases nothing.
	off := l.off
	l.split(false, "b")
	nid := unionfind.SplitPersonID(lifeTeam, "b", off)
	res := l.del("a", false)
	require.Empty(t, res.Erased)
	require.Equal(t, unionfind.KeyState{Holders: 1}, l.key(ka))
	tb := l.person(imp("b"))
	require.Empty(t, tb.Props, "a deletion erases the tombstones absorbed into the person")
	require.Equal(t, 101*uint64(off+2), tb.Version)

	// Deleting the last holder erases.
	res = l.del("b", false)
	require.Equal(t, []unionfind.KeyRef{ka, kb}, res.Erased)
	require.Equal(t, unionfind.KeyState{Erased: true}, l.key(ka))
	require.Equal(t, unionfind.KeyState{Erased: true}, l.key(kb))
	require.Empty(t, l.refs(nid))
	for _, k := range []unionfind.KeyRef{ka, kb} {
		var erased bool
		require.NoError(t, l.st.View(func(tx state.Tx) (err error) {
			erased, err = unionfind.KeyErased(tx, lifeTeam, k)
			return err
		}))
		require.True(t, erased)
	}

	// An op whose key the store knows erased applies without its values,
	// even if an applier failed to drop them.
	op := unionfind.Op{Kind: unionfind.OpEvent, Team: lifeTeam, DistinctID: "a", Timestamp: lifeT0.UnixMilli(),
		Set: []unionfind.KV{{Key: "k", Value: json.RawMessage(`5`)}}, Sealed: true, Gen: 0}
	l.seal = false
	res = l.apply(&op)
	require.Len(t, res.Persons, 1)
	require.Empty(t, res.Persons[0].Person.Props)
	require.Empty(t, l.refs(imp("a")))
}

func TestLifecycleValidate(t *testing.T) {
	big := make([]string, unionfind.MaxSplitIDs+1)
	for i := range big {
		big[i] = fmt.Sprint(i)
	}
	for name, c := range map[string]struct {
		op    unionfind.Op
		valid bool
	}{
		"split":                  {unionfind.Op{Kind: unionfind.OpSplit, Team: "1", DistinctID: "a", SplitIDs: []string{"b"}}, true},
		"split without id":       {unionfind.Op{Kind: unionfind.OpSplit, Team: "1"}, false},
		"split, a NUL id":        {unionfind.Op{Kind: unionfind.OpSplit, Team: "1", DistinctID: "a", SplitIDs: []string{"b\x00"}}, false},
		"split, too many ids":    {unionfind.Op{Kind: unionfind.OpSplit, Team: "1", DistinctID: "a", SplitIDs: big}, false},
		"delete by id":           {unionfind.Op{Kind: unionfind.OpDeletePerson, Team: "1", DistinctID: "a", Block: true}, true},
		"delete, an empty id":    {unionfind.Op{Kind: unionfind.OpDeletePerson, Team: "1"}, true},
		"delete, an id too long": {unionfind.Op{Kind: unionfind.OpDeletePerson, Team: "1", DistinctID: string(make([]byte, 801))}, false},
		"still sealed":           {unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "a", KeyID: 7}, true}, // valid to log; Apply refuses it until opened
		"opened":                 {unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "a", Sealed: true}, true},
		"erased, values kept": {unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "a", KeyID: 7, Sealed: true, ValuesErased: true,
			Set: []unionfind.KV{{Key: "k", Value: json.RawMessage(`1`)}}}, false},
		"erased, not sealed": {unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "a", ValuesErased: true}, false},
	} {
		err := c.op.Validate()
		if c.valid {
			require.NoError(t, err, name)
		} else {
			require.ErrorIs(t, err, unionfind.ErrInvalidOp, name)
		}
	}
}

// TestLifecycleDeleteErasesAbsorbedRows: a person that absorbed another
// (explicit, with properties) is deleted. The feed gets, besides the
// deleted person's row, a row of the absorbed person's tombstone without
// properties at the deletion's version: the warehouse's copy of it, which
// kept the properties it had when it was absorbed, is erased too.
func TestLifecycleDeleteErasesAbsorbedRows(t *testing.T) {
	l := newLife(t)
	l.set("tablet", `{"email":"t@example.com"}`) // tablet's own explicit person
	l.set("laptop", `{"name":"Ann"}`)
	merged := l.mergeDangerously("laptop", "tablet")
	var absorbed unionfind.PersonRow
	for _, r := range merged.Persons {
		if r.Person.Deleted {
			absorbed = r
		}
	}
	require.True(t, absorbed.Person.Deleted, "the merge emits the absorbed person's tombstone")
	require.NotEmpty(t, absorbed.Person.Props, "with the properties it had (docs/SEMANTICS.md §6)")

	res := l.del("laptop", false)
	rows := map[unionfind.PersonID]unionfind.Person{}
	for _, r := range res.Persons {
		_, dup := rows[r.Person.ID]
		require.False(t, dup, "one row per person")
		rows[r.Person.ID] = r.Person
	}
	require.Len(t, rows, 2, "the deleted person and the absorbed tombstone")
	got, ok := rows[absorbed.Person.ID]
	require.True(t, ok)
	require.True(t, got.Deleted)
	require.Empty(t, got.Props, "the absorbed tombstone's properties are erased on the feed too")
	require.Greater(t, got.Version, absorbed.Person.Version, "above the row the warehouse holds")
	require.Empty(t, l.person(absorbed.Person.ID).Props, "and in the replica")
}
