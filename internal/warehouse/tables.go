package warehouse

import (
	"cmp"
	"slices"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// key is a table's sorting key: (team, id) or (team, distinct_id).
type key struct{ team, id string }

// mergeKey is the sorting key of person_merges: a lineage record's team,
// identity_log coordinates and part.
type mergeKey struct {
	team      string
	partition int32
	offset    int64
	part      int
}

// Tables is the persons, person_distinct_ids, person_distinct_id_overrides
// and person_merges tables after ReplacingMergeTree has merged all their
// parts. The zero value is empty and ready to use. It is not safe for
// concurrent use.
type Tables struct {
	persons   map[key]Person
	dids      map[key]DistinctID
	overrides map[key]DistinctID // the rows of dids with version > 0
	merges    map[mergeKey]Merge
}

// InsertPerson adds a persons row. The table keeps, per (team, id), the row
// with the highest version; a row with the same version as the kept one
// replaces it (ReplacingMergeTree keeps the last inserted of equal
// versions).
func (t *Tables) InsertPerson(p Person) {
	if t.persons == nil {
		t.persons = map[key]Person{}
	}
	k := key{p.Team, p.ID}
	if cur, ok := t.persons[k]; !ok || p.Version >= cur.Version {
		t.persons[k] = p
	}
}

// InsertDistinctID adds a person_distinct_ids row, keyed by
// (team, distinct_id), with the rule of InsertPerson; a row with version > 0
// goes to person_distinct_id_overrides too, with the same rule (the view
// person_distinct_id_overrides_mv of 05_person_distinct_ids.sql).
func (t *Tables) InsertDistinctID(d DistinctID) {
	if t.dids == nil {
		t.dids = map[key]DistinctID{}
		t.overrides = map[key]DistinctID{}
	}
	k := key{d.Team, d.DistinctID}
	if cur, ok := t.dids[k]; !ok || d.Version >= cur.Version {
		t.dids[k] = d
	}
	if d.Version == 0 {
		return
	}
	if cur, ok := t.overrides[k]; !ok || d.Version >= cur.Version {
		t.overrides[k] = d
	}
}

// Person returns the kept row of (team, id), deleted or not.
func (t *Tables) Person(team, id string) (Person, bool) {
	p, ok := t.persons[key{team, id}]
	return p, ok
}

// DistinctID returns the kept row of (team, distinct_id), deleted or not.
func (t *Tables) DistinctID(team, distinctID string) (DistinctID, bool) {
	d, ok := t.dids[key{team, distinctID}]
	return d, ok
}

// Override returns the kept row of (team, distinct_id) in
// person_distinct_id_overrides: the latest row with version > 0.
func (t *Tables) Override(team, distinctID string) (DistinctID, bool) {
	d, ok := t.overrides[key{team, distinctID}]
	return d, ok
}

// Len returns the number of kept rows of each table.
func (t *Tables) Len() (persons, distinctIDs int) { return len(t.persons), len(t.dids) }

// Overrides returns the number of kept rows of person_distinct_id_overrides.
func (t *Tables) Overrides() int { return len(t.overrides) }

// CurrentPersonID returns the person event e belongs to now: the rule of
// the view events_with_current_person (configs/clickhouse/
// 06_events_with_current_person.sql). With the latest row of
// (e.Team, e.DistinctID) in person_distinct_id_overrides (version > 0):
//
//   - no row: e.PersonID, the person it was stamped with (its id never
//     changed person: a version-0 row names the implicit person its events
//     were stamped with);
//   - a deleted row: the id's implicit person, since deleting a person
//     returns its ids to their implicit persons (docs/SEMANTICS.md §3);
//   - otherwise: the row's person_id.
//
// One case of docs/SEMANTICS.md §8 it does not get right: an id split out
// of its own implicit person, whose new person is then deleted, starts a
// fresh person (unionfind's Mapping.Fresh) that no row names; this answers
// the implicit person, which is the other ids' person.
func (t *Tables) CurrentPersonID(e Event) string {
	d, ok := t.overrides[key{e.Team, e.DistinctID}]
	switch {
	case !ok:
		return e.PersonID
	case d.IsDeleted:
		return unionfind.ImplicitPersonID(e.Team, e.DistinctID).String()
	default:
		return d.PersonID
	}
}

// InsertMerge adds a person_merges row. The table keeps one row per
// (team, log_partition, log_offset, part), the last inserted
// (ReplacingMergeTree without a version): the Kafka engine may deliver a
// row twice, and both copies are the same lineage record.
func (t *Tables) InsertMerge(m Merge) {
	if t.merges == nil {
		t.merges = map[mergeKey]Merge{}
	}
	t.merges[mergeKey{m.Team, m.LogPartition, m.LogOffset, m.Part}] = m
}

// Merge returns the kept rows of the lineage record at identity_log
// (logPartition, logOffset) of team, ordered by part; none if the table
// has no such record.
func (t *Tables) Merge(team string, logPartition int32, logOffset int64) []Merge {
	var out []Merge
	for k, m := range t.merges {
		if k.team == team && k.partition == logPartition && k.offset == logOffset {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b Merge) int { return cmp.Compare(a.Part, b.Part) })
	return out
}

// MergeEvents is the view person_merge_events
// (configs/clickhouse/08_person_merge_events.sql) of the lineage record at
// identity_log (logPartition, logOffset) of team: every event of events
// whose (team, distinct_id) is among the ids the record moved, in any of
// its parts, with the person it was stamped with, ordered by timestamp and
// uuid (feed times are all written in one format, so they sort as text). A
// refused record moved nothing and has no rows. Events stored twice appear
// twice, as in the view.
func (t *Tables) MergeEvents(team string, logPartition int32, logOffset int64, events []Event) []MergeEvent {
	type moved struct {
		rule, survivor, absorbed string
	}
	ids := map[string][]moved{}
	for _, m := range t.Merge(team, logPartition, logOffset) {
		for _, d := range m.DistinctIDsMoved {
			mv := moved{m.Rule, m.SurvivorPersonID, m.AbsorbedPersonID}
			if !slices.Contains(ids[d], mv) { // SELECT DISTINCT
				ids[d] = append(ids[d], mv)
			}
		}
	}
	var out []MergeEvent
	for _, e := range events {
		if e.Team != team {
			continue
		}
		for _, mv := range ids[e.DistinctID] {
			out = append(out, MergeEvent{
				Team: team, LogPartition: logPartition, LogOffset: logOffset, Rule: mv.rule,
				SurvivorPersonID: mv.survivor, AbsorbedPersonID: mv.absorbed,
				DistinctID: e.DistinctID, UUID: e.UUID, Event: e.Event, Timestamp: e.Timestamp,
				StampedPersonID: e.PersonID,
			})
		}
	}
	slices.SortStableFunc(out, func(a, b MergeEvent) int {
		return cmp.Or(cmp.Compare(a.Timestamp, b.Timestamp), cmp.Compare(a.UUID, b.UUID))
	})
	return out
}
