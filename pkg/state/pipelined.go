package state

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/skl"
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

	// sorted: commits are sorted (see commitSorted). Written by the
	// Store under its writer lock, between updates.
	sorted bool
	// bound: Badger's bound on one transaction, empty, for the updates of
	// sorted commits; nil: they count with a Badger transaction.
	bound *txnBound
	// torn: a sorted commit failed, so part of it may be written; the
	// unfinished marker then stays.
	torn atomic.Bool
	// index: the lineage index rows held back (deferredindex.go); nil:
	// they are written with their update. Only with sorted on.
	index *deferredIndex
}

// sender returns how to send a commit: p.commit if set, else Badger's
// CommitWith. Taken by the writer, when it hands a commit off.
func (p *pipe) sender() func(txn *badger.Txn, done func(error)) {
	if p.commit != nil {
		return p.commit
	}
	return (*badger.Txn).CommitWith
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
	t := &pipeTxn{txn: txn, base: base, prev: p.prev, cur: newOverlay(hint), defers: p.index != nil}
	if p.sorted && p.bound != nil {
		b := *p.bound
		t.bound = &b
	}
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
	if p.index != nil {
		p.index.add(t.deferred) // the update is accepted: its index rows are held
	}
	p.next, p.nextBase = e.db.NewTransaction(true), e.db.NewTransaction(false)
	t.cur.seal()
	p.prev = t.cur
	done := make(chan error, 1)
	p.mu.Lock()
	p.done = done
	p.mu.Unlock()
	if p.sorted {
		// txn (or t.bound) was only for Badger's bound on one
		// transaction: an update that does not fit fails as it would
		// unsorted.
		txn.Discard()
		go p.commitSorted(e.db, t.cur, p.sender(), done)
		return nil
	}
	p.sender()(txn, func(err error) { done <- err })
	return nil
}

// Sorted commits (Store.SetSortedCommits, for a replay). Badger's commit
// inserts a transaction's writes into the memtable's skiplist in the
// random order of a Go map, and each insert is a walk down the skiplist
// that misses the CPU cache at nearly every step: in a replay that is a
// third of the CPU. In key order, consecutive inserts walk the same path
// and the cost halves (measured: BENCHMARKS.md, target 3). A transaction's
// order cannot be chosen, so a sorted commit is the update's writes in key
// order, cut into Badger transactions of sortedCommitKeys keys, sent one
// after the other. The update's writes still have to fit one transaction,
// as unsorted: its bound is counted as Badger counts it (txnBound, below),
// and its own transaction, which then holds no write, is discarded.
//
// The price is atomicity: a crash, or a failed write, between two of the
// transactions leaves part of an update written. So the store carries a
// marker (unfinishedKey) while sorted commits are on, written before the
// first and deleted once all of them have landed (Store.SetSortedCommits
// off, or Close); Open refuses a store that still has it
// (ErrUnfinishedReplay): the replay must be made again.

// sortedCommitKeys is how many writes one transaction of a sorted commit
// holds: each transaction's keys are a narrow run of the key space, which
// is what keeps the skiplist's walks in the cache (runs of 200 to 2,000
// measured alike).
const sortedCommitKeys = 256

// commitSorted writes o, sealed (its keys sorted), as a sorted commit,
// sending each transaction with send, and sends done the first error once
// every transaction has landed. It runs on its own goroutine, beside the
// next update (which reads o as prev).
func (p *pipe) commitSorted(db *badger.DB, o *overlay, send func(*badger.Txn, func(error)), done chan<- error) {
	n := (len(o.keys) + sortedCommitKeys - 1) / sortedCommitKeys
	// Every transaction is opened before the first is sent: a
	// transaction opened after a commit was sent waits for it to land.
	txns := make([]*badger.Txn, n)
	for i := range txns {
		txns[i] = db.NewTransaction(true)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		p.torn.Store(true)
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	for i, txn := range txns {
		if err := fillSorted(txn, o, o.keys[i*sortedCommitKeys:min(len(o.keys), (i+1)*sortedCommitKeys)]); err != nil {
			fail(err)
			for _, t := range txns[i:] {
				t.Discard()
			}
			break
		}
		wg.Add(1)
		send(txn, func(err error) {
			if err != nil {
				fail(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	done <- first
}

// fillSorted writes keys, of o, into txn.
func fillSorted(txn *badger.Txn, o *overlay, keys []string) error {
	for _, k := range keys {
		kb := unsafe.Slice(unsafe.StringData(k), len(k))
		w := o.vals[k]
		var err error
		if w.del {
			err = txn.Delete(kb)
		} else {
			err = txn.Set(kb, w.v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// setSorted switches sorted commits on or off; the caller holds the
// Store's writer lock. On: the marker is written first (a synchronous
// commit). Off: every commit in flight lands, then the marker is deleted,
// unless a sorted commit failed (torn): then it stays, and the error says
// so.
func (e *badgerEngine) setSorted(on bool) error {
	p := &e.pipe
	if on == p.sorted {
		return nil
	}
	if on {
		p.bound = newTxnBound(e.db.Opts())
		err := e.update(func(w kvWriter) error {
			return w.set(unfinishedKey, binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixMilli())))
		})
		if err != nil {
			return fmt.Errorf("state: sorted commits: mark the store: %w", err)
		}
		p.sorted = true
		return nil
	}
	p.sorted = false
	err := e.sync()
	if err == nil && !p.torn.Load() {
		err = e.writeIndex()
	}
	if p.index != nil { // not written: the store stays marked
		p.torn.Store(true)
		err = errors.Join(err, p.index.discard())
		p.index = nil
	}
	if p.torn.Load() {
		return errors.Join(err, fmt.Errorf("%w: a sorted commit failed, part of it may be written; the store stays marked", ErrUnfinishedReplay))
	}
	if err != nil {
		return err
	}
	if err := e.update(func(w kvWriter) error { return w.del(unfinishedKey) }); err != nil {
		return fmt.Errorf("state: sorted commits: unmark the store: %w", err)
	}
	return nil
}

// writeIndex writes the lineage index rows held back, if any; every
// commit has landed. A failure tears the store.
func (e *badgerEngine) writeIndex() error {
	p := &e.pipe
	if p.index == nil {
		return nil
	}
	err := p.index.stream(e.db)
	p.index = nil
	if err != nil {
		p.torn.Store(true)
		return fmt.Errorf("state: write the deferred lineage index: %w", err)
	}
	return nil
}

// setDeferredIndex turns the deferred lineage index on (sorted commits
// must be on; its runs spill to dir) or off (every commit lands, then the
// rows held are written); the caller holds the Store's writer lock.
func (e *badgerEngine) setDeferredIndex(on bool, dir string) error {
	p := &e.pipe
	if on {
		if !p.sorted {
			return errors.New("state: the deferred lineage index needs sorted commits (SetSortedCommits)")
		}
		if p.index == nil {
			d, err := newDeferredIndex(dir)
			if err != nil {
				return err
			}
			p.index = d
		}
		return nil
	}
	if p.index == nil {
		return nil
	}
	err := e.sync()
	if err == nil {
		err = e.writeIndex()
	}
	if err != nil {
		p.torn.Store(true) // rows held may be lost: the store stays marked
	}
	if p.index != nil {
		err = errors.Join(err, p.index.discard())
		p.index = nil
	}
	return err
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
	txn   *badger.Txn // writes; its snapshot is base's
	base  *badger.Txn // read-only, the same snapshot
	prev  *overlay    // the commit in flight; nil: none
	cur   *overlay    // this transaction's writes
	bound *txnBound   // a sorted commit's: counts the writes instead of txn
	// defers: lineage index rows are held back (deferWrite,
	// deferredindex.go), in deferred until the update is handed off.
	defers   bool
	deferred []deferredRow
}

// deferWrite holds back a write of the lineage index (deferredindex.go):
// checked and counted against the transaction's bound like set, but not
// written nor readable.
func (t *pipeTxn) deferWrite(key, val []byte) error {
	if err := t.count(key, val); err != nil {
		return err
	}
	t.deferred = append(t.deferred, deferredRow{key, val})
	return nil
}

// count checks a write and counts it against the transaction's bound: in
// t.bound, or by setting it in txn (which a sorted commit only counts
// with: updatePipelined discards it).
func (t *pipeTxn) count(key, val []byte) error {
	if err := checkWrite(key, val); err != nil {
		return err
	}
	if t.bound != nil {
		return t.bound.add(len(key), len(val))
	}
	return t.txn.Set(key, val)
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
	if err := t.count(key, val); err != nil {
		return err
	}
	t.cur.put(key, wval{v: val})
	return nil
}

func (t *pipeTxn) del(key []byte) error {
	var err error
	if t.bound != nil {
		err = t.bound.add(len(key), 0)
	} else {
		err = t.txn.Delete(key)
	}
	if err != nil {
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

// txnBound is Badger's bound on the writes of one transaction
// (badger.Txn's checkSize, v4.9.6), counted without a transaction: a
// sorted commit's update would otherwise put every write into a Badger
// transaction only to learn whether they fit one — a map insert and an
// allocation per write, a quarter of a replay's applier
// (BENCHMARKS.md, target 3). A replay must refuse exactly the ops the live
// applier refuses, so TestTxnBoundMatchesBadger checks it write by write
// against Badger's own transaction, and newTxnBound gives up (nil: count
// with a transaction) for a setting it does not model.
type txnBound struct {
	maxCount, maxSize, threshold int64
	count, size                  int64
}

// newTxnBound is the empty bound of a transaction of a DB with options o,
// or nil if Badger's value threshold can move (VLogPercentile).
func newTxnBound(o badger.Options) *txnBound {
	if o.VLogPercentile != 0 {
		return nil
	}
	maxSize := 15 * o.MemTableSize / 100
	return &txnBound{maxCount: maxSize / int64(skl.MaxNodeSize), maxSize: maxSize, threshold: o.ValueThreshold}
}

// add counts a write (a delete has no value) and returns
// badger.ErrTxnTooBig, without counting it, if it does not fit.
func (b *txnBound) add(keyLen, valLen int) error {
	est := int64(keyLen) + int64(valLen) + 2 // meta, user meta
	if int64(valLen) >= b.threshold {
		est = int64(keyLen) + 12 + 2 // a value pointer
	}
	count, size := b.count+1, b.size+est+10 // the version in the key
	if count >= b.maxCount || size >= b.maxSize {
		return badger.ErrTxnTooBig
	}
	b.count, b.size = count, size
	return nil
}
