package state

// The engine is the tiny ordered key-value store under every transaction.
// Two implement it: Badger (engine_badger.go) and a sorted in-memory map
// (engine_memory.go). Everything above it — keys, codec, the unionfind.Store
// methods, offsets, outbox, billing, fingerprint — is shared, so both give
// the same bytes for the same operations.
//
// Slices handed to callbacks are valid only during the callback. Slices
// handed to set or del must not be modified afterwards (the engine may keep
// them: Badger until the commit, a pipelined commit's overlay until the next
// one, pipelined.go).

// kvReader reads one consistent snapshot.
type kvReader interface {
	// get calls fn with the value of key if it exists and reports whether
	// it did.
	get(key []byte, fn func(val []byte) error) (found bool, err error)
	// scan calls fn for every key with the given prefix that is >= from
	// (from nil: the whole prefix), in ascending byte order, until fn
	// returns more == false or an error. With keysOnly, val is nil.
	// fn must not write.
	scan(prefix, from []byte, keysOnly bool, fn func(key, val []byte) (more bool, err error)) error
}

// kvWriter is a read-write transaction: reads see its own writes.
type kvWriter interface {
	kvReader
	set(key, val []byte) error
	del(key []byte) error
	// scanBase is scan, keys only, over the state the transaction started
	// from, without its own writes. The caller uses it only for a prefix
	// under which the transaction wrote nothing, where it gives what scan
	// would; it exists because Badger's scan inside a write transaction
	// first sorts all of the transaction's pending writes.
	scanBase(prefix []byte, fn func(key []byte) (more bool, err error)) error
}

// engine runs transactions.
//
// update runs fn in one read-write transaction and commits its writes
// atomically if fn returns nil; if fn returns an error nothing is written and
// that error is returned. The Store serialises its own identity writers
// (Update); other writers (billing, outbox trimming) touch disjoint keys, so
// engines need not detect conflicts.
type engine interface {
	view(fn func(kvReader) error) error
	// begin opens a read-only snapshot that stays open until end is
	// called (a Finder's); the caller must not start an update of the same
	// goroutine's before end.
	begin() (r kvReader, end func(), err error)
	update(fn func(kvWriter) error) error
	close() error
}
