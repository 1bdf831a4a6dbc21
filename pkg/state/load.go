package state

import (
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// A Loader writes identity records straight into a Store, in large batches
// outside transactions: the way to make a replica of millions of ids in a
// minute (`resolver bench --preload-ids`, the state benchmarks). It writes
// the keys and values Update writes for the same records (keys.go,
// codec.go), so reads of a loaded store behave as reads of one the applier
// built; but it reads nothing, so the caller must know what is there (load
// into an empty store, each key once), and nothing it writes is
// bookkeeping: no applied offsets, no lineage, no outbox. Records whose key
// or value is over its bound (MaxKeyBytes, MaxValueBytes) are refused like
// in Update.
//
// Use a Loader on a store that nothing else reads or writes meanwhile;
// Flush makes everything durable and visible and empties the read-through
// cache. Not safe for concurrent use.
type Loader struct {
	s   *Store
	wb  *badger.WriteBatch // Badger; nil for Memory
	mem [][2][]byte        // Memory: pending writes, applied by Flush
	n   int64
	err error
}

// memLoadBatch is the most pending writes of a Loader on a Memory store.
const memLoadBatch = 4096

// NewLoader returns a Loader of s.
func (s *Store) NewLoader() (*Loader, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	l := &Loader{s: s}
	if s.db != nil {
		l.wb = s.db.NewWriteBatch()
	}
	return l, nil
}

// Written is the number of records handed to the Loader so far.
func (l *Loader) Written() int64 { return l.n }

func (l *Loader) set(k, v []byte) error {
	if l.err != nil {
		return l.err
	}
	if err := checkWrite(k, v); err != nil {
		return wrapKey(err, k)
	}
	l.n++
	if l.wb == nil {
		l.mem = append(l.mem, [2][]byte{k, v})
		if len(l.mem) >= memLoadBatch {
			return l.flushMem()
		}
		return nil
	}
	if err := l.wb.Set(k, v); err != nil {
		l.err = fmt.Errorf("state: load: %w", err)
		return l.err
	}
	return nil
}

func (l *Loader) flushMem() error {
	batch := l.mem
	l.mem = nil
	err := l.s.eng.update(func(w kvWriter) error {
		for _, kv := range batch {
			if err := w.set(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		l.err = fmt.Errorf("state: load: %w", err)
	}
	return l.err
}

// PutMapping writes a distinct_id's mapping (d/), as Tx.PutMapping.
func (l *Loader) PutMapping(team, distinctID string, m unionfind.Mapping) error {
	return l.set(mappingKey(make([]byte, 0, 8+len(team)+len(distinctID)), team, distinctID), appendMapping(make([]byte, 0, 2+16+10), m))
}

// PutPerson writes a person (p/), as Tx.PutPerson.
func (l *Loader) PutPerson(team string, p unionfind.Person) error {
	return l.set(personKey(make([]byte, 0, 24+len(team)), team, p.ID), encodePerson(&p))
}

// PutMember writes that distinctID is a member of person id (m/), as
// Tx.PutMember.
func (l *Loader) PutMember(team string, id unionfind.PersonID, distinctID string) error {
	return l.set(memberKey(make([]byte, 0, 24+len(team)+len(distinctID)), team, id, distinctID), nil)
}

// Flush writes everything handed over so far and waits until it is
// durable as Update's commits are, then empties the read-through cache
// (which knew nothing of the loaded records). The Loader can be used again
// after it.
func (l *Loader) Flush() error {
	if l.err != nil {
		return l.err
	}
	if l.wb == nil {
		if err := l.flushMem(); err != nil {
			return err
		}
	} else {
		err := l.wb.Flush()
		l.wb = l.s.db.NewWriteBatch()
		if err != nil {
			l.err = fmt.Errorf("state: load: %w", err)
			return l.err
		}
	}
	if c := l.s.cache; c != nil {
		c.reset()
	}
	return nil
}

// Cancel drops what was not flushed.
func (l *Loader) Cancel() {
	if l.wb != nil {
		l.wb.Cancel()
	}
	l.mem = nil
}

// Compact rewrites the store's tables into the fewest levels, as a long
// run of compactions would leave them (Badger's Flatten): after a bulk
// load, it makes the disk size per id and the cold reads those of a
// settled replica. It compacts the tables only: what is still in Badger's
// memtables stays there (Close flushes them; reopen, then Compact). A Memory
// store has nothing to compact.
func (s *Store) Compact() error {
	if s.closed.Load() {
		return ErrClosed
	}
	if s.db == nil {
		return nil
	}
	s.maint.Lock()
	defer s.maint.Unlock()
	if err := s.db.Flatten(2); err != nil {
		return fmt.Errorf("state: compact %s: %w", s.dir, err)
	}
	return nil
}
