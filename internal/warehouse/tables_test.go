package warehouse

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/feed"
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
// lookup. Unlike the pipeline test in pkg/stream it covers person deletion
// (by distinct_id, docs/SEMANTICS.md §8, and by person, a version-1 op) and
// a split.
func TestCurrentPersonMatchesIdentityCore(t *testing.T) {
	type step struct {
		did      string
		merge    *unionfind.Merge // nil: an ordinary event
		full     bool             // person-processing; personless events make no op
		deleteOf string           // instead of an event: delete the person of this did
		v1       bool             // the delete names the person (a version-1 op), not the did
		splitOf  string           // instead of an event: split this did out of its person
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
		{deleteOf: "user-4", v1: true}, // user-4, anon-4, anon-5 go back to their implicit persons
		{did: "anon-5"},                // personless: the implicit person
		{did: "anon-4", full: true},    // a new explicit person under the implicit id
		{splitOf: "anon-3"},            // out of user-2's person, into a new one
		{did: "anon-3"},
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
			Log:        unionfind.LogPos{Offset: int64(i), Time: 1_800_000_000_000 + int64(i)*1000},
		}
		if s.deleteOf != "" {
			p, explicit, err := mem.Find(team, s.deleteOf)
			require.NoError(t, err)
			require.True(t, explicit, "step %d: %s has no person to delete", i, s.deleteOf)
			op = unionfind.Op{Kind: unionfind.OpDeletePerson, Source: op.Source, Team: team, DistinctID: s.deleteOf, Log: op.Log}
			if s.v1 {
				op.DistinctID, op.PersonID = "", p.ID
			}
		}
		if s.splitOf != "" {
			op = unionfind.Op{Kind: unionfind.OpSplit, Source: op.Source, Team: team, DistinctID: s.splitOf, Log: op.Log}
		}
		if s.full || s.deleteOf != "" || s.splitOf != "" {
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
		if s.deleteOf != "" || s.splitOf != "" {
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
	// The view joins the overrides only: fewer rows than the ids seen,
	// and the same answer as the latest row of every id.
	_, ids := tb.Len()
	assert.Less(t, tb.Overrides(), ids, "version-0 rows are not overrides")
	for _, e := range events {
		d, ok := tb.DistinctID(e.Team, e.DistinctID)
		want := e.PersonID
		switch {
		case ok && d.IsDeleted:
			want = unionfind.ImplicitPersonID(e.Team, e.DistinctID).String()
		case ok:
			want = d.PersonID
		}
		assert.Equal(t, want, tb.CurrentPersonID(e), "event %s of %s: overrides and all rows agree", e.UUID, e.DistinctID)
	}
	assert.NotZero(t, deleted, "the story leaves some ids with a deleted latest row")
	d, ok := tb.DistinctID(team, "anon-3")
	require.True(t, ok)
	assert.False(t, d.IsDeleted, "anon-3 was split out before user-2's person was deleted")

	// Every live row's person is live in the persons table.
	for _, e := range events {
		if d, ok := tb.DistinctID(e.Team, e.DistinctID); ok && !d.IsDeleted {
			p, ok := tb.Person(d.Team, d.PersonID)
			require.True(t, ok, "person %s of %s", d.PersonID, d.DistinctID)
			assert.False(t, p.IsDeleted, "person %s of %s", d.PersonID, d.DistinctID)
		}
	}
}

// TestMergesFold pins the person_merges rule: one row per (team,
// log_partition, log_offset, part), a copy stored twice kept once, the
// parts of a record returned in order.
func TestMergesFold(t *testing.T) {
	var tb Tables
	rows := sampleMerges() // every kind, all at log 1/1042 of team 2
	for _, r := range rows {
		tb.InsertMerge(r)
		tb.InsertMerge(r) // the Kafka engine delivered it twice
	}
	other := rows[0]
	other.Team = "3"
	tb.InsertMerge(other)

	got := tb.Merge("2", 1, 1042)
	// The samples share one log position, as no real records do; the key
	// keeps one row per part: the last inserted of each part number.
	require.Len(t, got, 3)
	for i, m := range got {
		assert.Equal(t, i+1, m.Part)
		assert.Equal(t, "merge_dangerously", m.Rule)
	}
	assert.Len(t, tb.Merge("3", 1, 1042), 1, "teams never share a row")
	assert.Empty(t, tb.Merge("2", 1, 1043))
	assert.Empty(t, tb.Merge("2", 0, 1042))
}

// TestMergeEventsRule is the view person_merge_events case by case: the
// events of the ids a record moved (in any of its parts), of its team only,
// with their stamped person and the record's persons, ordered by time; a
// refused record, another record and ids the record did not move give
// nothing.
func TestMergeEventsRule(t *testing.T) {
	p := func(s string) string { return unionfind.ImplicitPersonID("2", s).String() }
	merge := func(part, parts int, offset int64, rule, refused, survivor, absorbed string, moved ...string) Merge {
		return Merge{
			Team: "2", SurvivorPersonID: survivor, AbsorbedPersonID: absorbed, DistinctIDsMoved: moved,
			Rule: rule, Refused: refused, LogPartition: 1, LogOffset: offset, Part: part, Parts: parts,
		}
	}
	var tb Tables
	for _, m := range []Merge{
		merge(1, 2, 10, "identify", "", p("user"), p("anon"), "anon", "anon-b"),
		merge(2, 2, 10, "identify", "", p("user"), p("anon"), "anon-c"),
		merge(1, 2, 10, "identify", "", p("user"), p("anon"), "anon", "anon-b"), // a copy
		merge(1, 1, 11, "identify", "cannot_merge_already_identified", p("user"), p("other"), []string{}...),
		merge(1, 1, 12, "delete", "", "", p("user"), "user", "anon", "anon-b", "anon-c"),
		merge(1, 1, 13, "alias", "", p("user"), p("z"), "z"),
	} {
		tb.InsertMerge(m)
	}
	ev := func(uuid, did, ts, stamped string) Event {
		return Event{UUID: uuid, Team: "2", DistinctID: did, Event: "$pageview", Timestamp: ts, PersonID: stamped}
	}
	events := []Event{
		ev("e3", "anon-c", "2026-12-01T10:00:03.000Z", p("anon")),
		ev("e1", "anon", "2026-12-01T10:00:01.000Z", p("anon")),
		ev("e2", "anon-b", "2026-12-01T10:00:01.000Z", p("anon")),
		ev("e4", "user", "2026-12-01T10:00:00.000Z", p("user")),    // not moved by record 10
		ev("e5", "anon", "2026-12-01T10:00:05.000Z", p("user")),    // stamped after the merge
		ev("e6", "z", "2026-12-01T10:00:06.000Z", p("z")),          // moved by record 13 only
		{UUID: "e7", Team: "3", DistinctID: "anon", PersonID: "x"}, // another team
	}

	got := tb.MergeEvents("2", 1, 10, events)
	var uuids []string
	for _, r := range got {
		uuids = append(uuids, r.UUID)
		assert.Equal(t, "identify", r.Rule)
		assert.Equal(t, p("user"), r.SurvivorPersonID)
		assert.Equal(t, p("anon"), r.AbsorbedPersonID)
		assert.Equal(t, int32(1), r.LogPartition)
		assert.Equal(t, int64(10), r.LogOffset)
	}
	assert.Equal(t, []string{"e1", "e2", "e3", "e5"}, uuids, "both parts' ids, each event once, by time then uuid")
	assert.Equal(t, MergeEvent{
		Team: "2", LogPartition: 1, LogOffset: 10, Rule: "identify", SurvivorPersonID: p("user"), AbsorbedPersonID: p("anon"),
		DistinctID: "anon-c", UUID: "e3", Event: "$pageview", Timestamp: "2026-12-01T10:00:03.000Z", StampedPersonID: p("anon"),
	}, got[2])

	assert.Empty(t, tb.MergeEvents("2", 1, 11, events), "a refused record moved nothing")
	assert.Empty(t, tb.MergeEvents("2", 1, 99, events), "no such record")
	assert.Empty(t, tb.MergeEvents("3", 1, 10, events), "another team's record")

	del := tb.MergeEvents("2", 1, 12, events)
	require.Len(t, del, 5, "a deletion: every event of the deleted person's ids")
	for _, r := range del {
		assert.Empty(t, r.SurvivorPersonID, "no survivor")
		assert.Equal(t, "delete", r.Rule)
	}
	alias := tb.MergeEvents("2", 1, 13, events)
	require.Len(t, alias, 1)
	assert.Equal(t, "e6", alias[0].UUID)

	// Events stored twice appear twice, as in the view.
	assert.Len(t, tb.MergeEvents("2", 1, 13, append(events, events[5])), 2)
}

// TestMergeEventsMatchIdentityCore runs a story with every kind of lineage
// record through the identity core, folds the person_merges rows its ops
// emit (feed.FromMerge, each delivered twice) and checks the view's rule
// against the core: a record is found by its team and log coordinates, all
// its parts together; it names the person its moved ids had right after
// it; its rows are exactly the events of those ids; a refused record has
// none.
func TestMergeEventsMatchIdentityCore(t *testing.T) {
	type step struct {
		did   string
		merge *unionfind.Merge
		kind  unionfind.OpKind // 0: an event
		split []string
	}
	story := []step{
		{did: "anon-1"},
		{did: "user-1", merge: &unionfind.Merge{Other: "anon-1", Guarded: true, Rule: unionfind.RuleIdentify}},
		{did: "anon-2"},
		{did: "user-1", merge: &unionfind.Merge{Other: "anon-2", Guarded: true, Rule: unionfind.RuleAlias}},
		{did: "user-2"},
		{did: "user-2", merge: &unionfind.Merge{Other: "anon-9", Guarded: true, Rule: unionfind.RuleIdentify}}, // anon-9 never seen: an implicit person absorbed
		{did: "user-1", merge: &unionfind.Merge{Other: "user-2", Guarded: true, Rule: unionfind.RuleIdentify}}, // refused: both identified
		{did: "user-1", merge: &unionfind.Merge{Other: "null", Guarded: true, Rule: unionfind.RuleIdentify}},   // refused: illegal id
		{did: "user-1", merge: &unionfind.Merge{Other: "user-2", Rule: unionfind.RuleMergeDangerously}},
		{did: "anon-2", kind: unionfind.OpSplit, split: []string{"anon-9"}},
		{did: "anon-2"},
		{did: "user-1", kind: unionfind.OpDeletePerson},
		{did: "user-1"},
		{did: "nobody", kind: unionfind.OpDeletePerson}, // refused: unknown id
		{did: "crowd-0"},
	}
	// A person of more than feed.MergeIDsPerRow ids, then merged whole.
	for i := 1; i <= feed.MergeIDsPerRow+1; i++ {
		story = append(story, step{did: "crowd-0", merge: &unionfind.Merge{Other: fmt.Sprintf("crowd-%d", i), Guarded: true, Rule: unionfind.RuleIdentify}})
	}
	story = append(story, step{did: "big"}, step{did: "big", merge: &unionfind.Merge{Other: "crowd-0", Rule: unionfind.RuleMergeDangerously}},
		step{did: "crowd-99"}) // the last id in sorted order: in the second part

	const team = "7"
	mem := state.NewMemory()
	g := unionfind.Graph{}
	var tb Tables
	var events []Event
	var records []unionfind.MergeRow
	for i, s := range story {
		pos := unionfind.LogPos{Partition: int32(i % 3), Offset: int64(i), Time: 1_800_000_000_000 + int64(i)*1000}
		op := unionfind.Op{
			Kind: unionfind.OpEvent, Source: unionfind.Source{Topic: "events_raw", Offset: int64(i)}, Team: team,
			DistinctID: s.did, EventUUID: fmt.Sprintf("e%03d", i), Timestamp: pos.Time, Merge: s.merge, Log: pos,
		}
		if s.kind != 0 {
			op = unionfind.Op{
				Kind: s.kind, Source: unionfind.Source{Topic: "identity_commands", Offset: int64(i)}, Team: team,
				DistinctID: s.did, SplitIDs: s.split, EventUUID: fmt.Sprintf("request-%d", i), Timestamp: pos.Time, Log: pos,
			}
		}
		var res unionfind.Result
		require.NoError(t, mem.Update(func(tx state.Tx) error {
			var err error
			res, err = g.Apply(tx, &op)
			return err
		}), "step %d", i)
		for _, r := range res.Merges {
			records = append(records, r)
			for _, row := range feed.FromMerge(&r) {
				tb.InsertMerge(row)
				tb.InsertMerge(row) // the Kafka engine delivered it twice
			}
			// The record names the person its moved ids have now.
			for _, d := range r.Moved {
				p, explicit, err := mem.Find(team, d)
				require.NoError(t, err)
				if r.Rule == unionfind.RuleDelete {
					// Its implicit person, whose id may be the deleted one's.
					assert.False(t, explicit, "step %d: %s has no person until its next event", i, d)
				} else {
					assert.Equal(t, r.Survivor, p.ID, "step %d: %s is in the survivor", i, d)
				}
			}
		}
		if s.kind != 0 {
			continue
		}
		p, _, err := mem.Find(team, s.did)
		require.NoError(t, err)
		events = append(events, Event{UUID: op.EventUUID, Team: team, DistinctID: s.did, PersonID: p.ID.String(), Timestamp: feed.FormatMillis(op.Timestamp)})
	}

	rules, withEvents, refused, cut := map[unionfind.Rule]bool{}, map[unionfind.Rule]bool{}, 0, 0
	for _, r := range records {
		rules[r.Rule] = true
		parts := tb.Merge(team, r.Log.Partition, r.Log.Offset)
		require.NotEmpty(t, parts)
		if len(parts) > 1 {
			cut++
		}
		got := tb.MergeEvents(team, r.Log.Partition, r.Log.Offset, events)
		if r.Refused != "" {
			refused++
			assert.Empty(t, got, "record %d (%s refused %s) moved nothing", r.Log.Offset, r.Rule, r.Refused)
			continue
		}
		var want []string
		for _, e := range events {
			if slices.Contains(r.Moved, e.DistinctID) {
				want = append(want, e.UUID)
			}
		}
		var uuids []string
		for _, row := range got {
			uuids = append(uuids, row.UUID)
			assert.Equal(t, r.Rule.String(), row.Rule)
			if r.Rule == unionfind.RuleDelete {
				assert.Empty(t, row.SurvivorPersonID)
			} else {
				assert.Equal(t, r.Survivor.String(), row.SurvivorPersonID)
			}
			assert.Equal(t, r.Absorbed.String(), row.AbsorbedPersonID)
		}
		assert.ElementsMatch(t, want, uuids, "record %d (%s)", r.Log.Offset, r.Rule)
		if len(uuids) > 0 {
			withEvents[r.Rule] = true
		}
	}
	assert.Len(t, withEvents, 5, "records of every rule moved ids that have events")
	assert.Len(t, rules, 5, "identify, alias, merge_dangerously, split and delete")
	assert.Equal(t, 3, refused, "already identified, illegal id, unknown id")
	assert.Equal(t, 1, cut, "one record cut into parts")
	assert.Empty(t, tb.MergeEvents("8", 0, 1, events), "another team")
}
