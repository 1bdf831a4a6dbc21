package warehouse_test

import (
	"fmt"

	"github.com/resolver-dev/resolver/internal/warehouse"
)

// An anonymous visitor's event is stamped with the visitor's own person;
// the visitor then logs in on a second device of a known user, the
// resolver moves the anonymous id to the user's person and writes a
// distinct-id row with a higher version. The event row is never rewritten:
// the current person comes from the folded rows.
func ExampleTables_CurrentPersonID() {
	ev := warehouse.Event{Team: "1", DistinctID: "anon-7", Event: "$pageview", PersonID: "person-of-anon-7"}

	var w warehouse.Tables
	w.InsertDistinctID(warehouse.DistinctID{Team: "1", DistinctID: "anon-7", PersonID: "person-of-anon-7", Version: 0})
	fmt.Println(w.CurrentPersonID(ev))

	w.InsertDistinctID(warehouse.DistinctID{Team: "1", DistinctID: "anon-7", PersonID: "person-of-user-42", Version: 1})
	fmt.Println(w.CurrentPersonID(ev))

	// An older row arriving late changes nothing: the highest version wins.
	w.InsertDistinctID(warehouse.DistinctID{Team: "1", DistinctID: "anon-7", PersonID: "person-of-anon-7", Version: 0})
	fmt.Println(w.CurrentPersonID(ev))
	// Output:
	// person-of-anon-7
	// person-of-user-42
	// person-of-user-42
}

// A login merges an anonymous visitor's person into a known user's; the
// resolver writes one person_merges row for it, naming the identity_log
// record of the merge. The view person_merge_events lists the events that
// merge moved: those of the ids it moved, with the person each was stamped
// with, and the survivor they belong to since.
func ExampleTables_MergeEvents() {
	var w warehouse.Tables
	w.InsertMerge(warehouse.Merge{
		Team: "1", Rule: "identify", SurvivorPersonID: "person-of-user-42", AbsorbedPersonID: "person-of-anon-7",
		DistinctIDsMoved: []string{"anon-7"}, LogPartition: 0, LogOffset: 1042, Part: 1, Parts: 1,
	})
	events := []warehouse.Event{
		{Team: "1", UUID: "e1", DistinctID: "anon-7", Event: "$pageview", Timestamp: "2026-12-01T10:00:00.000Z", PersonID: "person-of-anon-7"},
		{Team: "1", UUID: "e2", DistinctID: "user-42", Event: "$identify", Timestamp: "2026-12-01T10:05:00.000Z", PersonID: "person-of-user-42"},
	}
	for _, r := range w.MergeEvents("1", 0, 1042, events) {
		fmt.Println(r.UUID, r.DistinctID, r.StampedPersonID, "->", r.SurvivorPersonID)
	}
	// Output:
	// e1 anon-7 person-of-anon-7 -> person-of-user-42
}
