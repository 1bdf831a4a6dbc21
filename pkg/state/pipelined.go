package state

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/dgraph-io/badger/v4"
)

// Pipelined commits (Store.SetPipelined): the Badger engine hands a
// transaction's commit to Badger's writer and returns at once, and the
// next transaction runs while that commit is written. Without it the one
// identity writer (the applier) sits idle for every commit: in a replay,
// Badger's write path (write-ahead log, memtable skiplist) is more than
// half of the CPU, and it runs on its own goroutine.
//
// At most one commit is in flight. The next transaction's Badger snapshot
// is taken before that commit is sent (a snapshot taken after it would wait
// for it to land), so it lacks exactly the commit in flight; it reads that
// commit's writes from an overlay laid over the snapshot:
//
//	its own writes → the overlay of the commit in flight → its snapshot
//
// The commit's result is learnt when the next transaction is handed off,
// or by any reader (view, begin), which first waits for it to land: a
// reader sees every Update that returned, as with synchronous commits.

// errPipelinedCommit marks the error of a commit that failed after its
// Update returned.
var errPipelinedCommit = errors.New("state: commit (pipelined)")

// wval is one write of a transaction: a value, or a delete.
type wval struct {
	v   []byte
	del bool
}

// overlay is the writes of one transaction, for reading over a snapshot
// that lacks them. Its keys alias the slices handed to set, which are never
// modified afterwards (kv.go).
type overlay struct {
	vals   map[string]wval
	keys   []string // sorted, by seal, once the transaction is handed off
	sealed bool
}

// newOverlay sizes the map for n writes (the last transaction's count: a
// replay's chunks are alike), which spares it growing by rehashing.
func newOverlay(n int) *overlay { return &overlay{vals: make(map[string]wval, n)} }

func (o *overlay) put(key []byte, w wval) {
	o.vals[unsafe.String(unsafe.SliceData(key), len(key))] = w
}

func (o *overlay) seal() { o.keys, o.sealed = slices.Sorted(maps.Keys(o.vals)), true }

// sortedFrom returns o's keys with prefix that are >= from, in order: the
// sealed index, or (for the open transaction's own writes) the keys picked
// out and sorted now.
func (o *overlay) sortedFrom(prefix, from []byte) []string {
	start := prefix
	if bytes.Compare(from, prefix) > 0 {
		start = from
	}
	if o.sealed {
		i, _ := slices.BinarySearchFunc(o.keys, start, func(k string, s []byte) int { return cmp.Compare(k, unsafe.String(unsafe.SliceData(s), len(s))) })
		j := i
		for j < len(o.keys) && strings.HasPrefix(o.keys[j], string(prefix)) {
			j++
		}
		return o.keys[i:j]
	}
	var keys []string
	for k := range o.vals {
		if strings.HasPrefix(k, string(prefix)) && k >= string(start) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// pipe is the Badger engine's pipelined writer. next, nextBase and prev
// belong to the writer (serialised by the Store's writer lock); mu guards
// the commit in flight, which readers wait for too.
type pipe struct {
	next, nextBase *badger.Txn // opened before the commit in flight was sent
	prev           *overlay    // the writes of the commit in flight (or of the last one)

	mu   sync.Mutex
	done chan error // the commit in flight's result; nil: none
	err  error      // a commit that failed, not yet reported to the writer

	// commit sends a transaction's commit (tests make it fail); nil:
	// Badger's CommitWith.
	commit func(txn *badger.Txn, done func(error))
}

// settle waits for the commit in flight to land and keeps its error for
// the writer.
func (p *pipe) settle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return
	}
	if err := <-p.done; err != nil && p.err == nil {
		p.err = fmt.Errorf("%w: %w", errPipelinedCommit, err)
	}
	p.done = nil
}

// land waits for the commit in flight and returns the error of any commit
// that failed since the last call.
func (p *pipe) land() error {
	p.settle()
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.err
	p.err = nil
	return err
}

// discardNext drops the transactions opened for the next update.
func (p *pipe) discardNext() {
	if p.next != nil {
		p.next.Discard()
		p.nextBase.Discard()
		p.next, p.nextBase = nil, nil
	}
}

// updatePipelined is update whose commit is handed off (see above). fn's
// error is returned as is, and nothing of fn is written. An error of an
// earlier commit, which failed after its update returned, is returned by
// the next updatePipelined or sync; fn's writes are then not committed
// either, as they were made over the failed commit's.
func (e *badgerEngine) updatePipelined(fn func(kvWriter) error) error {
	if err := e.disk.check(); err != nil {
		return err
	}
	p := &e.pipe
	if p.next == nil {
		// The first update, or one after a failed fn: nothing is in
		// flight that a fresh snapshot would lack once it has landed.
		if err := p.land(); err != nil {
			return err
		}
		p.prev = nil
		p.next, p.nextBase = e.db.NewTransaction(true), e.db.NewTransaction(false)
	}
	txn, base := p.next, p.nextBase
	p.next, p.nextBase = nil, nil
	defer base.Discard()
	hint := 0
	if p.prev != nil {
		hint = len(p.prev.vals)
	}
	t := &pipeTxn{txn: txn, base: base, prev: p.prev, cur: newOverlay(hint)}
	if err := fn(t); err != nil {
		txn.Discard()
		return err
	}
	// Hand the commit off: once the one in flight has landed, open the
	// next transaction (its snapshot then holds everything but this
	// commit), then send this one.
	if err := p.land(); err != nil {
		txn.Discard()
		p.prev = nil
		return err
	}
	p.next, p.nextBase = e.db.NewTransaction(true), e.db.NewTransaction(false)
	t.cur.seal()
	p.prev = t.cur
	done := make(chan error, 1)
	p.mu.Lock()
	p.done = done
	p.mu.Unlock()
	if p.commit != nil {
		p.commit(txn, func(err error) { done <- err })
	} else {
		txn.CommitWith(func(err error) { done <- err })
	}
	return nil
}

// sync waits for the commit in flight and returns the error of any commit
// that failed since the last updatePipelined; the next updatePipelined
// starts from a fresh snapshot.
func (e *badgerEngine) sync() error {
	err := e.pipe.land()
	e.pipe.discardNext()
	e.pipe.prev = nil
	return err
}

// pipeTxn is a write transaction of updatePipelined: a Badger transaction
// whose snapshot lacks the commit in flight (prev).
type pipeTxn struct {
	txn  *badger.Txn // writes; its snapshot is base's
	base *badger.Txn // read-only, the same snapshot
	prev *overlay    // the commit in flight; nil: none
	cur  *overlay    // this transaction's writes
}

func (t *pipeTxn) get(key []byte, fn func([]byte) error) (bool, error) {
	for _, o := range [...]*overlay{t.cur, t.prev} {
		if o == nil {
			continue
		}
		if w, ok := o.vals[string(key)]; ok {
			if w.del {
				return false, nil
			}
			return true, fn(w.v)
		}
	}
	return badgerTxn{txn: t.base}.get(key, fn)
}

func (t *pipeTxn) set(key, val []byte) error {
	if err := checkWrite(key, val); err != nil {
		return err
	}
	if err := t.txn.Set(key, val); err != nil {
		return err
	}
	t.cur.put(key, wval{v: val})
	return nil
}

func (t *pipeTxn) del(key []byte) error {
	if err := t.txn.Delete(key); err != nil {
		return err
	}
	t.cur.put(key, wval{del: true})
	return nil
}

func (t *pipeTxn) scan(prefix, from []byte, keysOnly bool, fn func(key, val []byte) (bool, error)) error {
	return t.merged(prefix, from, keysOnly, []*overlay{t.cur, t.prev}, fn)
}

func (t *pipeTxn) scanBase(prefix []byte, fn func(key []byte) (bool, error)) error {
	return t.merged(prefix, nil, true, []*overlay{t.prev}, func(key, _ []byte) (bool, error) { return fn(key) })
}

// merged scans the snapshot with the overlays laid over it, the first
// overlay over the second: for each key the newest write wins, and a
// delete hides it.
func (t *pipeTxn) merged(prefix, from []byte, keysOnly bool, overs []*overlay, fn func(key, val []byte) (bool, error)) error {
	type layer struct {
		o    *overlay
		keys []string
	}
	var layers []layer
	for _, o := range overs {
		if o == nil {
			continue
		}
		if keys := o.sortedFrom(prefix, from); len(keys) > 0 {
			layers = append(layers, layer{o, keys})
		}
	}
	if len(layers) == 0 {
		return badgerTxn{txn: t.base}.scan(prefix, from, keysOnly, fn)
	}
	opt := badger.DefaultIteratorOptions
	opt.Prefix = prefix
	opt.PrefetchValues = false // see badgerTxn.scan
	it := t.base.NewIterator(opt)
	defer it.Close()
	seek := prefix
	if bytes.Compare(from, prefix) > 0 {
		seek = from
	}
	it.Seek(seek)
	for {
		// The least key of the snapshot and of every layer.
		var least []byte
		if it.ValidForPrefix(prefix) {
			least = it.Item().Key()
		}
		for _, l := range layers {
			if len(l.keys) > 0 && (least == nil || l.keys[0] < string(least)) {
				least = unsafe.Slice(unsafe.StringData(l.keys[0]), len(l.keys[0]))
			}
		}
		if least == nil {
			return nil
		}
		// The newest write of that key, if any layer has one; every layer
		// at it moves on.
		var (
			w      wval
			fromOv bool
		)
		for i := range layers {
			l := &layers[i]
			if len(l.keys) > 0 && l.keys[0] == string(least) {
				if !fromOv {
					w, fromOv = l.o.vals[l.keys[0]], true
				}
				l.keys = l.keys[1:]
			}
		}
		var (
			more bool
			err  error
		)
		inSnap := it.ValidForPrefix(prefix) && bytes.Equal(it.Item().Key(), least)
		switch {
		case fromOv && w.del:
			more = true
		case fromOv:
			var v []byte
			if !keysOnly {
				v = w.v
			}
			more, err = fn(least, v)
		case keysOnly:
			more, err = fn(least, nil)
		default:
			err = it.Item().Value(func(v []byte) error {
				var ferr error
				more, ferr = fn(least, v)
				return ferr
			})
		}
		if err != nil || !more {
			return err
		}
		if inSnap {
			it.Next()
		}
	}
}
