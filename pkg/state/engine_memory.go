package state

import (
	"bytes"
	"slices"
	"strings"
	"sync"
)

// memEngine is the in-memory engine: a sorted slice of keys beside a map of
// values. Writers hold the write lock for a whole transaction and write in
// place, keeping an undo log to roll back; readers hold the read lock, so
// they never see a transaction in progress. Inserting a key costs a slice
// move, which is fine for the test-sized states it is meant for.
type memEngine struct {
	mu     sync.RWMutex
	keys   []string // sorted, unique
	vals   map[string][]byte
	closed bool
}

func newMemEngine() *memEngine {
	return &memEngine{vals: make(map[string][]byte)}
}

func (e *memEngine) view(fn func(kvReader) error) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return ErrClosed
	}
	return fn(&memTxn{e: e})
}

func (e *memEngine) begin() (kvReader, func(), error) {
	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		return nil, nil, ErrClosed
	}
	return &memTxn{e: e}, e.mu.RUnlock, nil
}

func (e *memEngine) update(fn func(kvWriter) error) (err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	t := &memTxn{e: e, write: true}
	committed := false
	defer func() {
		if !committed {
			t.rollback()
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	committed = true
	return nil
}

func (e *memEngine) close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	e.keys, e.vals = nil, nil
	return nil
}

// memTxn is a transaction on a memEngine; the caller holds the lock.
type memTxn struct {
	e     *memEngine
	write bool
	undo  []undoRecord
}

type undoRecord struct {
	key     string
	val     []byte
	existed bool
}

func (t *memTxn) get(key []byte, fn func([]byte) error) (bool, error) {
	v, ok := t.e.vals[string(key)]
	if !ok {
		return false, nil
	}
	return true, fn(v)
}

func (t *memTxn) scan(prefix, from []byte, keysOnly bool, fn func(key, val []byte) (bool, error)) error {
	start := prefix
	if bytes.Compare(from, prefix) > 0 {
		start = from
	}
	i, _ := slices.BinarySearch(t.e.keys, string(start))
	for ; i < len(t.e.keys); i++ {
		k := t.e.keys[i]
		if !strings.HasPrefix(k, string(prefix)) {
			return nil
		}
		var v []byte
		if !keysOnly {
			v = t.e.vals[k]
		}
		more, err := fn([]byte(k), v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// scanBase is scan: the memory engine's scan costs nothing extra in a
// write transaction.
func (t *memTxn) scanBase(prefix []byte, fn func(key []byte) (bool, error)) error {
	return t.scan(prefix, nil, true, func(key, _ []byte) (bool, error) { return fn(key) })
}

func (t *memTxn) set(key, val []byte) error {
	if !t.write {
		return ErrReadOnly
	}
	if err := checkWrite(key, val); err != nil {
		return err
	}
	k := string(key)
	old, existed := t.e.vals[k]
	t.undo = append(t.undo, undoRecord{key: k, val: old, existed: existed})
	if !existed {
		t.e.insertKey(k)
	}
	if val == nil {
		val = []byte{}
	}
	t.e.vals[k] = val
	return nil
}

func (t *memTxn) del(key []byte) error {
	if !t.write {
		return ErrReadOnly
	}
	k := string(key)
	old, existed := t.e.vals[k]
	if !existed {
		return nil
	}
	t.undo = append(t.undo, undoRecord{key: k, val: old, existed: true})
	t.e.removeKey(k)
	delete(t.e.vals, k)
	return nil
}

// rollback undoes the transaction's writes, newest first.
func (t *memTxn) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		u := t.undo[i]
		_, now := t.e.vals[u.key]
		switch {
		case u.existed:
			if !now {
				t.e.insertKey(u.key)
			}
			t.e.vals[u.key] = u.val
		case now:
			t.e.removeKey(u.key)
			delete(t.e.vals, u.key)
		}
	}
	t.undo = nil
}

func (e *memEngine) insertKey(k string) {
	i, found := slices.BinarySearch(e.keys, k)
	if !found {
		e.keys = slices.Insert(e.keys, i, k)
	}
}

func (e *memEngine) removeKey(k string) {
	if i, found := slices.BinarySearch(e.keys, k); found {
		e.keys = slices.Delete(e.keys, i, i+1)
	}
}
