package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// badgerEngine is the Badger engine. Conflict detection is off (see
// engine): the Store serialises identity writers itself.
type badgerEngine struct {
	db   *badger.DB
	disk *diskGuard // checked before every write transaction; nil: none
	pipe pipe       // pipelined commits (pipelined.go)
}

func (e *badgerEngine) view(fn func(kvReader) error) error {
	e.pipe.settle() // a reader sees every update that returned
	return e.db.View(func(txn *badger.Txn) error {
		return fn(badgerTxn{txn: txn})
	})
}

func (e *badgerEngine) begin() (kvReader, func(), error) {
	e.pipe.settle()
	txn := e.db.NewTransaction(false)
	return badgerTxn{txn: txn}, txn.Discard, nil
}

func (e *badgerEngine) update(fn func(kvWriter) error) error {
	if err := e.disk.check(); err != nil {
		return err
	}
	txn := e.db.NewTransaction(true)
	defer txn.Discard()
	// A read-only snapshot of the same committed state, for scanBase: the
	// Store's writers are serialised (Store.Update), and the other writers
	// (billing, outbox trimming) never write what scanBase reads.
	base := e.db.NewTransaction(false)
	defer base.Discard()
	if err := fn(badgerTxn{txn: txn, base: base}); err != nil {
		return err
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("state: commit: %w", err)
	}
	return nil
}

func (e *badgerEngine) close() error {
	if e.pipe.sorted {
		// All landed: the store is whole, and unmarked.
		return errors.Join(e.setSorted(false), e.db.Close())
	}
	return errors.Join(e.sync(), e.db.Close())
}

// unfinished reports when sorted commits began, if the store still has
// their marker (pipelined.go).
func (e *badgerEngine) unfinished() (since time.Time, marked bool, err error) {
	err = e.db.View(func(txn *badger.Txn) error {
		var gerr error
		marked, gerr = badgerTxn{txn: txn}.get(unfinishedKey, func(v []byte) error {
			if len(v) == 8 {
				since = time.UnixMilli(int64(binary.BigEndian.Uint64(v))).UTC()
			}
			return nil
		})
		return gerr
	})
	return since, marked, err
}

// badgerTxn adapts a badger.Txn to kvWriter.
type badgerTxn struct {
	txn  *badger.Txn
	base *badger.Txn // of a write transaction: read-only, for scanBase
}

func (t badgerTxn) scanBase(prefix []byte, fn func(key []byte) (bool, error)) error {
	if t.base == nil {
		return t.scan(prefix, nil, true, func(key, _ []byte) (bool, error) { return fn(key) })
	}
	return badgerTxn{txn: t.base}.scan(prefix, nil, true, func(key, _ []byte) (bool, error) { return fn(key) })
}

func (t badgerTxn) get(key []byte, fn func([]byte) error) (bool, error) {
	item, err := t.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, item.Value(fn)
}

func (t badgerTxn) scan(prefix, from []byte, keysOnly bool, fn func(key, val []byte) (bool, error)) error {
	opt := badger.DefaultIteratorOptions
	opt.Prefix = prefix
	// No value prefetching: Badger prefetches by starting one goroutine per
	// item, up to PrefetchSize items ahead, even past where fn stops. Our
	// values are small and stored inline in the LSM tree, so reading each
	// in the loop costs less than the goroutines; under CPU load their
	// scheduling delay made each outbox read ~0.9 ms of wall time.
	opt.PrefetchValues = false
	it := t.txn.NewIterator(opt)
	defer it.Close()
	seek := prefix
	if bytes.Compare(from, prefix) > 0 {
		seek = from
	}
	for it.Seek(seek); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		var (
			more bool
			err  error
		)
		if keysOnly {
			more, err = fn(item.Key(), nil)
		} else {
			err = item.Value(func(v []byte) error {
				var ferr error
				more, ferr = fn(item.Key(), v)
				return ferr
			})
		}
		if err != nil || !more {
			return err
		}
	}
	return nil
}

func (t badgerTxn) set(key, val []byte) error {
	if err := checkWrite(key, val); err != nil {
		return err
	}
	return t.txn.Set(key, val)
}

func (t badgerTxn) del(key []byte) error {
	return t.txn.Delete(key)
}
