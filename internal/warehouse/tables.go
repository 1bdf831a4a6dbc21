package warehouse

import "github.com/resolver-dev/resolver/pkg/unionfind"

// key is a table's sorting key: (team, id) or (team, distinct_id).
type key struct{ team, id string }

// Tables is the persons and person_distinct_ids tables after
// ReplacingMergeTree has merged all their parts. The zero value is empty and
// ready to use. It is not safe for concurrent use.
type Tables struct {
	persons map[key]Person
	dids    map[key]DistinctID
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
// (team, distinct_id), with the rule of InsertPerson.
func (t *Tables) InsertDistinctID(d DistinctID) {
	if t.dids == nil {
		t.dids = map[key]DistinctID{}
	}
	k := key{d.Team, d.DistinctID}
	if cur, ok := t.dids[k]; !ok || d.Version >= cur.Version {
		t.dids[k] = d
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

// Len returns the number of kept rows of each table.
func (t *Tables) Len() (persons, distinctIDs int) { return len(t.persons), len(t.dids) }

// CurrentPersonID returns the person event e belongs to now: the rule of
// the view events_with_current_person (configs/clickhouse/
// 06_events_with_current_person.sql). With the latest distinct-id row of
// (e.Team, e.DistinctID):
//
//   - no row: e.PersonID, the person it was stamped with (its id never
//     changed person);
//   - a deleted row: the id's implicit person, since deleting a person
//     returns its ids to their implicit persons (docs/SEMANTICS.md §3);
//   - otherwise: the row's person_id.
func (t *Tables) CurrentPersonID(e Event) string {
	d, ok := t.dids[key{e.Team, e.DistinctID}]
	switch {
	case !ok:
		return e.PersonID
	case d.IsDeleted:
		return unionfind.ImplicitPersonID(e.Team, e.DistinctID).String()
	default:
		return d.PersonID
	}
}
