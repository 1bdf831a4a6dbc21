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

	// Refs calls fn for every data key person id holds a ref to, in a
	// fixed order (the implementation's key order). fn must not write.
	Refs(team string, id PersonID, fn func(k KeyRef) error) error
	HasRef(team string, id PersonID, k KeyRef) (bool, error)
	PutRef(team string, id PersonID, k KeyRef) error
	DeleteRef(team string, id PersonID, k KeyRef) error

	// Key returns the record of a data key; ok is false for a key no
	// person ever held and no op reported erased.
	Key(team string, k KeyRef) (st KeyState, ok bool, err error)
	PutKey(team string, k KeyRef, st KeyState) error

	// Absorbed calls fn for every person whose tombstone was absorbed,
	// directly or through other absorbed persons, into person id, in a
	// fixed order. A deletion of id erases their properties too. fn must
	// not write.
	Absorbed(team string, id PersonID, fn func(absorbed PersonID) error) error
	PutAbsorbed(team string, id, absorbed PersonID) error
	DeleteAbsorbed(team string, id, absorbed PersonID) error
}

// KeyErased reports whether the data key k of team is erased: the applier
// asks before opening an op's sealed values, and applies the op with
// ValuesErased when it is.
func KeyErased(s Store, team string, k KeyRef) (bool, error) {
	st, ok, err := s.Key(team, k)
	return ok && st.Erased, err
}
