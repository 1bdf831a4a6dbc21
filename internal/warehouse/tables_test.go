package warehouse

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TestTablesFold pins the ReplacingMergeTree(version) rule: the highest
// version wins whatever the insert order, and of equal versions the last
// inserted.
func TestTablesFold(t *testing.T) {
	tests := []struct {
		name   string
		insert []DistinctID
		want   DistinctID
	}{
		{"one row", []DistinctID{{Team: "1", DistinctID: "a", PersonID: "p", Version: 0}}, DistinctID{Team: "1", DistinctID: "a", PersonID: "p"}},
		{"higher version later", []DistinctID{
			{Team: "1", DistinctID: "a", PersonID: "p", Version: 0},
			{Team: "1", DistinctID: "a", PersonID: "q", Version: 1},
		}, DistinctID{Team: "1", DistinctID: "a", PersonID: "q", Version: 1}},
		{"higher version first", []DistinctID{
			{Team: "1", DistinctID: "a", PersonID: "q", Version: 2},
			{Team: "1", DistinctID: "a", PersonID: "p", Version: 1},
		}, DistinctID{Team: "1", DistinctID: "a", PersonID: "q", Version: 2}},
		{"equal versions: last inserted", []DistinctID{
			{Team: "1", DistinctID: "a", PersonID: "p", Version: 1},
			{Team: "1", DistinctID: "a", PersonID: "q", Version: 1},
		}, DistinctID{Team: "1", DistinctID: "a", PersonID: "q", Version: 1}},
		{"deleted row is kept", []DistinctID{
			{Team: "1", DistinctID: "a", PersonID: "p", Version: 1},
			{Team: "1", DistinctID: "a", PersonID: "p", Version: 2, IsDeleted: true},
		}, DistinctID{Team: "1", DistinctID: "a", PersonID: "p", Version: 2, IsDeleted: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tb Tables
			for _, d := range tt.insert {
				tb.InsertDistinctID(d)
				tb.InsertDistinctID(DistinctID{Team: "2", DistinctID: d.DistinctID, PersonID: "other team", Version: 99})
			}
			got, ok := tb.DistinctID("1", "a")
			require.True(t, ok)
			assert.Equal(t, tt.want, got)
			_, n := tb.Len()
			assert.Equal(t, 2, n, "teams never share a row")
		})
	}

	var tb Tables
	tb.InsertPerson(Person{Team: "1", ID: "p", Version: 3, IsIdentified: true})
	tb.InsertPerson(Person{Team: "1", ID: "p", Version: 103, IsDeleted: true})
	tb.InsertPerson(Person{Team: "1", ID: "p", Version: 4})
	p, ok := tb.Person("1", "p")
	require.True(t, ok)
	assert.Equal(t, Person{Team: "1", ID: "p", Version: 103, IsDeleted: true}, p)
	_, ok = tb.Person("2", "p")
	assert.False(t, ok)
}

// TestCurrentPersonIDRule is the view's rule case by case.
func TestCurrentPersonIDRule(t *testing.T) {
	var tb Tables
	tb.InsertDistinctID(DistinctID{Team: "1", DistinctID: "moved", PersonID: "survivor", Version: 1})
	tb.InsertDistinctID(DistinctID{Team: "1", DistinctID: "gone", PersonID: "deleted", Version: 2, IsDeleted: true})
	tb.InsertDistinctID(DistinctID{Team: "1", DistinctID: "test", PersonID: "deleted", Version: 2, IsDeleted: true})

	assert.Equal(t, "stamped", tb.CurrentPersonID(Event{Team: "1", DistinctID: "never-moved", PersonID: "stamped"}), "no row: as stamped")
	assert.Equal(t, "stamped", tb.CurrentPersonID(Event{Team: "2", DistinctID: "moved", PersonID: "stamped"}), "another team's row does not apply")
	assert.Equal(t, "survivor", tb.CurrentPersonID(Event{Team: "1", DistinctID: "moved", PersonID: "stamped"}), "row: its person")
	assert.Equal(t, unionfind.ImplicitPersonID("1", "gone").String(), tb.CurrentPersonID(Event{Team: "1", DistinctID: "gone", PersonID: "stamped"}), "deleted row: implicit person")
	// docs/SEMANTICS.md §3: team 1, distinct_id test.
	assert.Equal(t, "246f7a43-5507-564f-b687-793ee3c2dd79", tb.CurrentPersonID(Event{Team: "1", DistinctID: "test", PersonID: "stamped"}))
}

// TestCurrentPersonMatchesIdentityCore runs a story through the identity
// core one op at a time, stamps each event with the core's lookup at that
// moment (what the resolver does), folds the rows the ops emit, and checks
// that every event's current person by the view's rule is the core's final
// lookup. Unlike the pipeline test in pkg/stream it covers person deletion,
// which no capture event triggers yet.
func TestCurrentPersonMatchesIdentityCore(t *testing.T) {
	type step struct {
		did      string
		merge    *unionfind.Merge // nil: an ordinary event
		full     bool             // person-processing; personless events make no op
		deleteOf string           // instead of an event: delete the person of this did
	}
	story := []step{
		{did: "anon-1", full: true},
		{did: "user-1", full: true, merge: &unionfind.Merge{Other: "anon-1", Guarded: true}}, // both new-ish: survivor anon-1's person
		{did: "anon-2"}, // personless, implicit person
		{did: "anon-2"},
		{did: "user-2", full: true},
		{did: "anon-3"},
		{did: "anon-3", full: true},
		{did: "user-2", full: true, merge: &unionfind.Merge{Other: "anon-3", Guarded: true}}, // anon-3 moves to user-2's person
		{did: "anon-3"},
		{did: "phone-1", full: true},
		{did: "user-1", full: true, merge: &unionfind.Merge{Other: "phone-1", Guarded: true}}, // second device
		{did: "user-3", full: true},
		{did: "user-3", full: true, merge: &unionfind.Merge{Other: "user-1"}}, // $merge_dangerously
		{did: "anon-4", full: true},
		{did: "anon-5", full: true},
		{did: "user-4", full: true, merge: &unionfind.Merge{Other: "anon-4", Guarded: true}},
		{did: "user-4", full: true, merge: &unionfind.Merge{Other: "anon-5", Guarded: true}},
		{deleteOf: "user-4"},        // user-4, anon-4, anon-5 go back to their implicit persons
		{did: "anon-5"},             // personless: the implicit person
		{did: "anon-4", full: true}, // a new explicit person under the implicit id
		{deleteOf: "user-2"},
		{did: "user-2", full: true},
	}
	const team = "7"
	mem := state.NewMemory()
	g := unionfind.Graph{}
	var tb Tables
	var events []Event
	for i, s := range story {
		op := unionfind.Op{
			Kind:       unionfind.OpEvent,
			Source:     unionfind.Source{Topic: "events_raw", Offset: int64(i)},
			Team:       team,
			DistinctID: s.did,
			EventUUID:  "e" + string(rune('a'+i)),
			Timestamp:  1_800_000_000_000 + int64(i)*1000,
			Merge:      s.merge,
		}
		if s.deleteOf != "" {
			p, explicit, err := mem.Find(team, s.deleteOf)
			require.NoError(t, err)
			require.True(t, explicit, "step %d: %s has no person to delete", i, s.deleteOf)
			op = unionfind.Op{Kind: unionfind.OpDeletePerson, Source: op.Source, Team: team, PersonID: p.ID}
		}
		if s.full || s.deleteOf != "" {
			var res unionfind.Result
			require.NoError(t, mem.Update(func(tx state.Tx) error {
				var err error
				res, err = g.Apply(tx, &op)
				return err
			}))
			for _, r := range res.Persons {
				tb.InsertPerson(Person{Team: r.Team, ID: r.Person.ID.String(), IsIdentified: r.Person.Identified, IsDeleted: r.Person.Deleted, Version: r.Person.Version})
			}
			for _, r := range res.DistinctIDs {
				tb.InsertDistinctID(DistinctID{Team: r.Team, DistinctID: r.DistinctID, PersonID: r.PersonID.String(), Version: r.Version, IsDeleted: r.Deleted})
			}
		}
		if s.deleteOf != "" {
			continue
		}
		p, _, err := mem.Find(team, s.did)
		require.NoError(t, err)
		events = append(events, Event{UUID: op.EventUUID, Team: team, DistinctID: s.did, PersonID: p.ID.String()})
	}

	overridden, deleted := 0, 0
	for _, e := range events {
		want, _, err := mem.Find(e.Team, e.DistinctID)
		require.NoError(t, err)
		assert.Equal(t, want.ID.String(), tb.CurrentPersonID(e), "event %s of %s", e.UUID, e.DistinctID)
		if tb.CurrentPersonID(e) != e.PersonID {
			overridden++
		}
		if d, ok := tb.DistinctID(e.Team, e.DistinctID); ok && d.IsDeleted {
			deleted++
		}
	}
	assert.NotZero(t, overridden, "the story moves some ids after their events were stamped")
	assert.NotZero(t, deleted, "the story leaves some ids with a deleted latest row")

	// Every live row's person is live in the persons table.
	for _, e := range events {
		if d, ok := tb.DistinctID(e.Team, e.DistinctID); ok && !d.IsDeleted {
			p, ok := tb.Person(d.Team, d.PersonID)
			require.True(t, ok, "person %s of %s", d.PersonID, d.DistinctID)
			assert.False(t, p.IsDeleted, "person %s of %s", d.PersonID, d.DistinctID)
		}
	}
}
