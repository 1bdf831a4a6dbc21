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
