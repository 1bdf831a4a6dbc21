package unionfind

// Store is the identity state a Graph works on.
//
// Threading contract: a Store handed to Graph.Apply is used from one
// goroutine only, and must return its own earlier writes to later reads
// (read-your-writes). Atomicity across ops is the implementation's business:
// package state wraps a batch of Apply calls and the log offset they reach in
// one Badger transaction.
//
// Reads of absent records return ok == false and a nil error; errors are
// storage failures and abort the op.
type Store interface {
	// Mapping returns the mapping of a distinct_id, including tombstones.
	Mapping(team, distinctID string) (m Mapping, ok bool, err error)
	PutMapping(team, distinctID string, m Mapping) error

	// Person returns a stored person, including tombstones.
	Person(team string, id PersonID) (p Person, ok bool, err error)
	PutPerson(team string, p Person) error

	// Members calls fn for every distinct_id that points at person id, in
	// ascending byte order of the distinct_id. fn must not write to the Store.
	Members(team string, id PersonID, fn func(distinctID string) error) error
	PutMember(team string, id PersonID, distinctID string) error
	DeleteMember(team string, id PersonID, distinctID string) error
}
