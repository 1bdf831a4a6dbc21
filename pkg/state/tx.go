package state

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// Tx is one transaction on a Store: the unionfind.Store a Graph applies ops
// to, plus the bookkeeping the applier commits in the same transaction (the
// log offset it reached, the highest source it applied, the feed rows each op
// produced).
//
// A Tx is valid only inside the fn given to Update or View and, like any
// unionfind.Store, is used from one goroutine. In Update it reads its own
// writes; in View it reads one snapshot and its write methods return
// ErrReadOnly. Persons it returns may share their Props with a cache: treat
// them as read-only (unionfind.Graph does, it clones before changing).
type Tx interface {
	unionfind.Store

	// Applied returns the next identity_log offset to apply for a log
	// partition; ok is false if nothing was ever applied there.
	Applied(logPartition int32) (next int64, ok bool, err error)
	SetApplied(logPartition int32, next int64) error

	// HighWater returns the highest source applied from a source partition
	// through a log partition (docs/DESIGN.md: duplicate ops are harmless). The
	// applier skips any op whose source is not above it.
	HighWater(logPartition int32, topic string, srcPartition int32) (src unionfind.Source, ok bool, err error)
	SetHighWater(logPartition int32, src unionfind.Source) error

	// PutOutbox stores the rows an op produced, keyed by the op's source,
	// for the worker that owns the source partition (Store.OutboxSpans). An
	// empty Result stores nothing.
	PutOutbox(src unionfind.Source, res unionfind.Result) error

	// PutLineage stores one lineage row of the op at row.Log (one of its
	// Result.Merges, in order): once under its log position and the
	// row's index among the op's rows, indexed per id and linked into
	// its persons' chains for Store.Lineage, Path and AsOf (lineage.go).
	// It must be called in the transaction that applied the op, after the
	// op wrote its persons: a person whose value this transaction did not
	// write is not linked (lineage.go, "Lineage chains"). Moved ids are stored
	// sorted and unique whatever their order in row. Storing an equal row
	// of the same op again changes nothing. A row over its bounds is
	// refused with an error wrapping ErrInvalidLineage.
	PutLineage(row unionfind.MergeRow) error
}

var (
	_ Tx              = (*tx)(nil)
	_ unionfind.Store = (*tx)(nil)
	_ unionfind.Store = Tx(nil)
)

// tx implements Tx over an engine transaction.
//
// In an Update of a Store with a cache, identity reads go: this
// transaction's own writes (dirty), then the cache, then the engine; values
// read from the engine fill the cache. That is sound because Update holds
// the Store's writer lock, so the cache reflects exactly the committed state
// this transaction started from (see cache.go). dirty also lists, for the
// write-through after commit, every identity value written. Views read the
// engine only, so they are one snapshot.
type tx struct {
	r     kvReader
	w     kvWriter // nil in a View
	c     *cache   // non-nil only in an Update of a Store with a cache
	dirty map[string][]byte
	kb    []byte // scratch for read keys
	// touched: per person-set prefix (m/, r/, t/ of one person) that this
	// transaction wrote under, the keys it set (true) or deleted (false).
	// A set is scanned from the committed state (kvWriter.scanBase) with
	// these writes laid over it, which costs no sort of all of the
	// transaction's pending writes.
	touched map[string]map[string]bool
	// filter: the Store's replay filter (replayfilter.go) in an Update
	// with it on; nil otherwise.
	filter *replayFilter
	// outbox: the rows of PutOutbox, written by flushOutbox; their values
	// are encoded one after another into outboxArena. A value is never
	// changed once encoded (the engine may hold it until the commit), and
	// one whose arena has since grown stays in the old array.
	outbox      []outboxEntry
	outboxArena []byte
	// persons: per p/ key, what the transaction knows of the person's
	// value beside the person — its founder member (founder.go) and its
	// lineage head (lineage.go).
	persons map[string]*personState
}

func (t *tx) reader() (kvReader, error) {
	if t.r == nil {
		return nil, fmt.Errorf("state: transaction used after its Update or View returned: %w", ErrClosed)
	}
	return t.r, nil
}

func (t *tx) writer() (kvWriter, error) {
	if t.r == nil {
		return nil, fmt.Errorf("state: transaction used after its Update or View returned: %w", ErrClosed)
	}
	if t.w == nil {
		return nil, ErrReadOnly
	}
	return t.w, nil
}

// touch records that the transaction sets (or deletes) key, a key of the
// person set with prefix key[:n] (an m/, r/ or t/ prefix of one person).
func (t *tx) touch(key []byte, n int, set bool) {
	if t.touched == nil {
		t.touched = map[string]map[string]bool{}
	}
	ks := t.touched[string(key[:n])]
	if ks == nil {
		ks = map[string]bool{}
		t.touched[string(key[:n])] = ks
	}
	ks[string(key)] = set
}

// scanSet scans the keys of one person's set (m/, r/, t/) in key order:
// the committed state (kvWriter.scanBase) with this transaction's writes
// of the set laid over it. Through the transaction itself, Badger would
// sort all of its pending writes for every scan.
func (t *tx) scanSet(r kvReader, prefix []byte, fn func(key []byte) (bool, error)) error {
	if t.filter != nil && filteredSet(prefix) && !t.filter.mayHave(prefix) {
		return nil // never written (replayfilter.go)
	}
	if t.w == nil {
		return r.scan(prefix, nil, true, func(key, _ []byte) (bool, error) { return fn(key) })
	}
	writes := t.touched[string(prefix)]
	if len(writes) == 0 {
		return t.w.scanBase(prefix, fn)
	}
	var keys []string
	err := t.w.scanBase(prefix, func(key []byte) (bool, error) {
		if _, over := writes[string(key)]; !over {
			keys = append(keys, string(key))
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	for k, set := range writes {
		if set {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		more, err := fn([]byte(k))
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// remember records an identity write for read-your-writes over the cache
// and for the write-through after commit. k and v are never modified after
// they are handed to the engine, so the map may alias k.
func (t *tx) remember(k, v []byte) {
	if t.dirty != nil {
		t.dirty[unsafe.String(unsafe.SliceData(k), len(k))] = v
	}
}

// Mapping implements unionfind.Store.
func (t *tx) Mapping(team, distinctID string) (unionfind.Mapping, bool, error) {
	r, err := t.reader()
	if err != nil {
		return unionfind.Mapping{}, false, err
	}
	k := mappingKey(t.kb[:0], team, distinctID)
	t.kb = k
	if t.filter != nil && !t.filter.mayHave(k) {
		return unionfind.Mapping{}, false, nil // never written (replayfilter.go)
	}
	if t.c != nil {
		if v, ok := t.dirty[string(k)]; ok {
			m, err := decodeMapping(team, distinctID, v)
			return m, err == nil, wrapKey(err, k)
		}
		if h, hit := t.c.getMapping(k); hit {
			return h.m, h.ok, nil
		}
	}
	var m unionfind.Mapping
	found, err := r.get(k, func(v []byte) (err error) {
		m, err = decodeMapping(team, distinctID, v)
		return err
	})
	if err != nil {
		return unionfind.Mapping{}, false, wrapKey(err, k)
	}
	if t.c != nil {
		t.c.fillMapping(k, m, found, unionfind.PersonID{}, false, 0, false)
	}
	return m, found, nil
}

// PutMapping implements unionfind.Store.
func (t *tx) PutMapping(team, distinctID string, m unionfind.Mapping) error {
	w, err := t.writer()
	if err != nil {
		return err
	}
	k := mappingKey(make([]byte, 0, 8+len(team)+len(distinctID)), team, distinctID)
	v := appendMapping(make([]byte, 0, 2+16+10), team, distinctID, m)
	if t.filter != nil {
		t.filter.add(k)
	}
	if err := w.set(k, v); err != nil {
		return wrapKey(err, k)
	}
	t.remember(k, v)
	return nil
}

// Person implements unionfind.Store. The founder it reads is kept for
// the person's next PutPerson or Members (founder.go).
func (t *tx) Person(team string, id unionfind.PersonID) (unionfind.Person, bool, error) {
	p, m, found, err := t.personRecord(team, id)
	if err == nil {
		t.notePerson(team, id, m)
	}
	return p, found, err
}

// PutPerson implements unionfind.Store.
func (t *tx) PutPerson(team string, p unionfind.Person) error {
	w, err := t.writer()
	if err != nil {
		return err
	}
	st, err := t.stateOf(team, p.ID)
	if err != nil {
		return err
	}
	st.pending, st.relink, st.written = false, false, true
	k := personKey(make([]byte, 0, 24+len(team)), team, p.ID)
	v := encodePersonValue(&p, st.meta())
	if err := w.set(k, v); err != nil {
		return wrapKey(err, k)
	}
	t.remember(k, v)
	return nil
}

// Members implements unionfind.Store: the m/ keys of the person and its
// founder (founder.go), in distinct_id byte order.
func (t *tx) Members(team string, id unionfind.PersonID, fn func(distinctID string) error) error {
	r, err := t.reader()
	if err != nil {
		return err
	}
	st, err := t.stateOf(team, id)
	if err != nil {
		return err
	}
	merge := founderMerge{founder: st.did, fn: fn}
	prefix := memberPrefix(nil, team, id)
	if t.filter != nil {
		if list, listed := t.filter.members[string(prefix)]; listed {
			for _, d := range list {
				if err := merge.next(d); err != nil {
					return err
				}
			}
			return merge.end()
		}
	}
	err = t.scanSet(r, prefix, func(key []byte) (bool, error) {
		return true, merge.next(string(key[len(prefix):]))
	})
	if err != nil {
		return err
	}
	return merge.end()
}

// PutMember implements unionfind.Store. A person's founder is kept with
// the person (founder.go).
func (t *tx) PutMember(team string, id unionfind.PersonID, distinctID string) error {
	if _, err := t.writer(); err != nil {
		return err
	}
	if isFounder(team, id, distinctID) {
		t.setFounder(team, id, distinctID)
		return nil
	}
	return t.putMemberKey(team, id, distinctID)
}

// putMemberKey writes the m/ key of a membership.
func (t *tx) putMemberKey(team string, id unionfind.PersonID, distinctID string) error {
	w, err := t.writer()
	if err != nil {
		return err
	}
	k := memberKey(make([]byte, 0, 24+len(team)+len(distinctID)), team, id, distinctID)
	n := len(k) - len(distinctID)
	if t.filter != nil {
		t.filter.putMember(k[:n], distinctID)
	}
	t.touch(k, n, true)
	return wrapKey(w.set(k, nil), k)
}

// DeleteMember implements unionfind.Store. A founder kept with the person
// is cleared there (founder.go); any other membership is an m/ key.
func (t *tx) DeleteMember(team string, id unionfind.PersonID, distinctID string) error {
	w, err := t.writer()
	if err != nil {
		return err
	}
	if isFounder(team, id, distinctID) {
		st, err := t.stateOf(team, id)
		if err != nil {
			return err
		}
		if st.did == distinctID {
			t.setFounder(team, id, "")
			// A store may also hold it as an m/ key (one written before
			// person v3 that the id rejoined since): that goes too.
			if has, err := t.hasMemberKey(team, id, distinctID); err != nil || !has {
				return err
			}
		}
	}
	k := memberKey(make([]byte, 0, 24+len(team)+len(distinctID)), team, id, distinctID)
	n := len(k) - len(distinctID)
	if t.filter != nil {
		t.filter.deleteMember(k[:n], distinctID)
	}
	t.touch(k, n, false)
	return wrapKey(w.del(k), k)
}

// Applied implements Tx.
func (t *tx) Applied(logPartition int32) (int64, bool, error) {
	r, err := t.reader()
	if err != nil {
		return 0, false, err
	}
	k := appliedKey(t.kb[:0], logPartition)
	t.kb = k
	var next int64
	found, err := r.get(k, func(v []byte) (err error) {
		next, err = decodeI64("applied offset", v)
		return err
	})
	return next, found, wrapKey(err, k)
}

// SetApplied implements Tx.
func (t *tx) SetApplied(logPartition int32, next int64) error {
	w, err := t.writer()
	if err != nil {
		return err
	}
	k := appliedKey(nil, logPartition)
	return wrapKey(w.set(k, encodeI64(next)), k)
}

// HighWater implements Tx.
func (t *tx) HighWater(logPartition int32, topic string, srcPartition int32) (unionfind.Source, bool, error) {
	r, err := t.reader()
	if err != nil {
		return unionfind.Source{}, false, err
	}
	k := highWaterKey(t.kb[:0], logPartition, topic, srcPartition)
	t.kb = k
	src := unionfind.Source{Topic: topic, Partition: srcPartition}
	found, err := r.get(k, func(v []byte) (err error) {
		src.Offset, src.Index, err = decodeHighWater(v)
		return err
	})
	if err != nil || !found {
		return unionfind.Source{}, false, wrapKey(err, k)
	}
	return src, true, nil
}

// SetHighWater implements Tx.
func (t *tx) SetHighWater(logPartition int32, src unionfind.Source) error {
	w, err := t.writer()
	if err != nil {
		return err
	}
	k := highWaterKey(nil, logPartition, src.Topic, src.Partition)
	return wrapKey(w.set(k, encodeHighWater(src)), k)
}

// PutOutbox implements Tx. The rows are written when fn returns
// (flushOutbox): an op's row is checked here, as it would be written alone,
// so an op whose rows are too big is refused by this call as before.
func (t *tx) PutOutbox(src unionfind.Source, res unionfind.Result) error {
	if _, err := t.writer(); err != nil {
		return err
	}
	if res.Empty() {
		return nil
	}
	start := len(t.outboxArena)
	t.outboxArena = appendResult(t.outboxArena, &res)
	v := t.outboxArena[start:len(t.outboxArena):len(t.outboxArena)]
	if err := checkWrite(outboxKey(t.kb[:0], src), v); err != nil {
		t.outboxArena = t.outboxArena[:start] // refused: not held
		return wrapKey(err, outboxKey(nil, src))
	}
	t.outbox = append(t.outbox, outboxEntry{src, v})
	return nil
}

// Refs implements unionfind.Store: the r/ keys of the person, in key order.
func (t *tx) Refs(team string, id unionfind.PersonID, fn func(unionfind.KeyRef) error) error {
	r, err := t.reader()
	if err != nil {
		return err
	}
	prefix := refPrefix(nil, team, id)
	return t.scanSet(r, prefix, func(key []byte) (bool, error) {
		kr := keyReader{b: key[len(prefix):], ok: true}
		k := unionfind.KeyRef{DistinctID: kr.str(), Gen: kr.u32()}
		if !kr.done() {
			return false, wrapKey(corrupt("ref key", "bad key"), key)
		}
		return true, fn(k)
	})
}

// HasRef implements unionfind.Store.
func (t *tx) HasRef(team string, id unionfind.PersonID, k unionfind.KeyRef) (bool, error) {
	r, err := t.reader()
	if err != nil {
		return false, err
	}
	key := refKey(t.kb[:0], team, id, k)
	t.kb = key
	if t.filter != nil && !t.filter.mayHave(key[:setPrefixLen(team)]) {
		return false, nil // the person's r/ set was never written (replayfilter.go)
	}
	found, err := r.get(key, func([]byte) error { return nil })
	return found, wrapKey(err, key)
}

// PutRef implements unionfind.Store.
func (t *tx) PutRef(team string, id unionfind.PersonID, k unionfind.KeyRef) error {
	w, err := t.writer()
	if err != nil {
		return err
	}
	key := refKey(make([]byte, 0, 32+len(team)+len(k.DistinctID)), team, id, k)
	n := setPrefixLen(team)
	if t.filter != nil {
		t.filter.add(key[:n])
	}
	t.touch(key, n, true)
	return wrapKey(w.set(key, nil), key)
}

// DeleteRef implements unionfind.Store.
func (t *tx) DeleteRef(team string, id unionfind.PersonID, k unionfind.KeyRef) error {
	w, err := t.writer()
	if err != nil {
		return err
	}
	key := refKey(make([]byte, 0, 32+len(team)+len(k.DistinctID)), team, id, k)
	t.touch(key, setPrefixLen(team), false)
	return wrapKey(w.del(key), key)
}

// Key implements unionfind.Store.
func (t *tx) Key(team string, k unionfind.KeyRef) (unionfind.KeyState, bool, error) {
	r, err := t.reader()
	if err != nil {
		return unionfind.KeyState{}, false, err
	}
	key := dataKeyKey(t.kb[:0], team, k)
	t.kb = key
	if t.filter != nil && !t.filter.mayHave(key) {
		return unionfind.KeyState{}, false, nil // never written (replayfilter.go)
	}
	var st unionfind.KeyState
	found, err := r.get(key, func(v []byte) (err error) {
		st, err = decodeKeyState(v)
		return err
	})
	if err != nil {
		return unionfind.KeyState{}, false, wrapKey(err, key)
	}
	return st, found, nil
}

// PutKey implements unionfind.Store.
func (t *tx) PutKey(team string, k unionfind.KeyRef, st unionfind.KeyState) error {
	w, err := t.writer()
	if err != nil {
		return err
	}
	key := dataKeyKey(make([]byte, 0, 16+len(team)+len(k.DistinctID)), team, k)
	if t.filter != nil {
		t.filter.add(key)
	}
	return wrapKey(w.set(key, appendKeyState(make([]byte, 0, 12), st)), key)
}

// Absorbed implements unionfind.Store: the t/ keys of the person, in key
// order.
func (t *tx) Absorbed(team string, id unionfind.PersonID, fn func(unionfind.PersonID) error) error {
	r, err := t.reader()
	if err != nil {
		return err
	}
	prefix := absorbedPrefix(nil, team, id)
	return t.scanSet(r, prefix, func(key []byte) (bool, error) {
		rest := key[len(prefix):]
		if len(rest) != 16 {
			return false, wrapKey(corrupt("absorbed key", "bad key"), key)
		}
		return true, fn(unionfind.PersonID(rest))
	})
}

// PutAbsorbed implements unionfind.Store.
func (t *tx) PutAbsorbed(team string, id, absorbed unionfind.PersonID) error {
	w, err := t.writer()
	if err != nil {
		return err
	}
	key := absorbedKey(make([]byte, 0, 40+len(team)), team, id, absorbed)
	if t.filter != nil {
		t.filter.add(key[:len(key)-16])
	}
	t.touch(key, len(key)-16, true)
	return wrapKey(w.set(key, nil), key)
}

// DeleteAbsorbed implements unionfind.Store.
func (t *tx) DeleteAbsorbed(team string, id, absorbed unionfind.PersonID) error {
	w, err := t.writer()
	if err != nil {
		return err
	}
	key := absorbedKey(make([]byte, 0, 40+len(team)), team, id, absorbed)
	t.touch(key, len(key)-16, false)
	return wrapKey(w.del(key), key)
}
