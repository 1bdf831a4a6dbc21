package state

import (
	"bufio"
	"bytes"
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/ristretto/v2/z"
)

// The deferred lineage index (Store.SetDeferredIndex, for a replay with
// sorted commits). A replayed op wrote six to eight rows, and the lineage
// index (h/: one row per moved id, and until 2026-12-08 per person, of
// each lineage row) was 38–42% of them and 36–47% of their bytes
// (BENCHMARKS.md, target 3); since persons are chained (lineage.go) it is
// one row per moved id and per refused id. No
// op reads them — only explain and lookup --as-of do — so a replay need
// not push them through Badger's write path (write-ahead log, memtable
// skiplist, level-0 flushes, compactions) among the rows its ops do read.
// They are held back instead, and written once the replay's commits have
// all landed, in key order, with Badger's stream writer: as tables of
// their own, above the levels that hold data (its incremental mode).
//
// What must not change is which ops fit: an op's index rows still count
// against Badger's bound on its transaction (pipeTxn.deferWrite), so a
// replay refuses as too big exactly the ops the live applier refuses. The
// rows of an update that fails are dropped with it. The rows held are kept
// in memory up to deferSpillBytes, then sorted and spilled to a run file
// in the store's directory (deferredIndexDir); the runs are merged when
// they are written. Until then they are missing from the store, which is
// why it is for a replay only, whose store nobody reads meanwhile — and it
// is only allowed with sorted commits on, whose mark (unfinishedKey) stays
// until the rows are written: a replay that dies before then is refused
// by Open and made again.

// deferSpillBytes is how many bytes of index rows are held in memory
// before they are spilled to a run file.
var deferSpillBytes int64 = 256 << 20

// deferredIndexDir is where the runs are spilled, inside the store's
// directory (Badger ignores subdirectories); removed once written.
const deferredIndexDir = "deferred-index"

// deferredRow is one held-back write.
type deferredRow struct{ k, v []byte }

// deferredIndex holds the index rows of the updates handed off so far:
// their bytes in one arena and their places beside it, so that millions of
// rows are a few objects for the garbage collector, not millions; and the
// run files spilled so far. Used by the writer only (under the Store's
// writer lock).
type deferredIndex struct {
	dir   string   // for the run files
	arena [][]byte // chunks of arenaChunk bytes (or one row's, if larger)
	rows  []arenaRow
	bytes int64
	// lcp is how many bytes every key held starts with alike: those of
	// first, the first key held (nil: none).
	lcp   int
	first []byte
	runs  []runFile // spilled, oldest first
	err   error     // a spill that failed: reported when the rows are written
}

// runFile is a spilled run: tier 0 is one spill, tier t+1 the merge of
// deferFanIn runs of tier t.
type runFile struct {
	name string
	tier int
}

// deferFanIn is how many runs of one tier are merged into one of the next:
// the runs stay few (a few tiers of fewer than deferFanIn), so the final
// merge opens few files, and each row is rewritten once per tier.
var deferFanIn = 32

// arenaRow is a row's key and value in the arena: in chunk c, key at
// [off, off+kl), value right after it; pre is for sortRows.
type arenaRow struct {
	c, off, kl, vl uint32
	pre            uint64
}

// arenaChunk is the size of the arena's chunks: appending never copies
// what is held.
const arenaChunk = 4 << 20

func newDeferredIndex(dir string) (*deferredIndex, error) {
	if err := os.RemoveAll(dir); err != nil { // runs of a replay that died
		return nil, fmt.Errorf("state: deferred lineage index: %w", err)
	}
	return &deferredIndex{dir: dir}, nil
}

// add takes the rows of an update that was handed off, spilling the rows
// held to a run file once they pass deferSpillBytes. A spill that fails is
// remembered and returned by stream: the update itself is committed.
func (d *deferredIndex) add(rows []deferredRow) {
	for _, r := range rows {
		n := len(r.k) + len(r.v)
		if len(d.arena) == 0 || len(d.arena[len(d.arena)-1])+n > cap(d.arena[len(d.arena)-1]) {
			d.arena = append(d.arena, make([]byte, 0, max(arenaChunk, n)))
		}
		c := len(d.arena) - 1
		d.rows = append(d.rows, arenaRow{c: uint32(c), off: uint32(len(d.arena[c])), kl: uint32(len(r.k)), vl: uint32(len(r.v))})
		d.arena[c] = append(append(d.arena[c], r.k...), r.v...)
		d.bytes += int64(n)
		if d.first == nil {
			d.first, d.lcp = d.key(d.rows[len(d.rows)-1]), len(r.k)
		}
		d.lcp = commonPrefix(d.first[:d.lcp], r.k)
	}
	if d.bytes >= deferSpillBytes && d.err == nil {
		d.err = d.spill()
	}
}

func (d *deferredIndex) key(r arenaRow) []byte { return d.arena[r.c][r.off : r.off+r.kl] }

func (d *deferredIndex) val(r arenaRow) []byte { return d.arena[r.c][r.off+r.kl : r.off+r.kl+r.vl] }

// sortRows sorts the rows held by key; of two writes of one key (none is
// expected: a row's position is in its key) the later comes first. The
// order is total (no two rows share an arena place), so an unstable sort
// gives the one answer — at a fraction of a stable sort's moves
// (BenchmarkDeferredSort).
//
// The keys share their first lcp bytes (one team's index: "h/" and the
// team), so each row's next 8 bytes, zero-padded, are read once into pre:
// where two rows' pre differ they order as their keys do (a key that ends
// inside the 8 bytes is a prefix of the other, or differs before its
// end), and most comparisons end there without touching the arena.
func (d *deferredIndex) sortRows() {
	lcp := d.lcp
	for i := range d.rows {
		var w [8]byte
		if k := d.key(d.rows[i]); len(k) > lcp {
			copy(w[:], k[lcp:])
		}
		d.rows[i].pre = binary.BigEndian.Uint64(w[:])
	}
	slices.SortFunc(d.rows, func(a, b arenaRow) int {
		if c := cmp.Compare(a.pre, b.pre); c != 0 {
			return c
		}
		if c := bytes.Compare(d.key(a), d.key(b)); c != 0 {
			return c
		}
		// The arena only grows: a later write is further on.
		return -cmp.Or(cmp.Compare(a.c, b.c), cmp.Compare(a.off, b.off))
	})
}

// spill writes the rows held, sorted, to a new run file and empties the
// arena. A run is its rows as uvarint(len key) key uvarint(len value)
// value.
func (d *deferredIndex) spill() (err error) {
	if len(d.rows) == 0 {
		return nil
	}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}
	d.sortRows()
	i := 0
	name, err := writeRun(d.dir, func() ([]byte, []byte, bool, error) {
		if i == len(d.rows) {
			return nil, nil, false, nil
		}
		r := d.rows[i]
		i++
		return d.key(r), d.val(r), true, nil
	})
	if err != nil {
		return err
	}
	d.runs = append(d.runs, runFile{name: name})
	d.arena, d.rows, d.bytes, d.first, d.lcp = nil, d.rows[:0], 0, nil, 0
	// Merge the youngest runs while deferFanIn of them share a tier.
	for {
		n, last := 0, d.runs[len(d.runs)-1].tier
		for n < len(d.runs) && d.runs[len(d.runs)-1-n].tier == last {
			n++
		}
		if n < deferFanIn {
			return nil
		}
		group := d.runs[len(d.runs)-n:]
		next, closeAll, err := mergeRuns(group, nil)
		if err != nil {
			return err
		}
		name, err := writeRun(d.dir, next)
		closeAll()
		if err != nil {
			return err
		}
		for _, r := range group {
			if err := os.Remove(r.name); err != nil {
				return err
			}
		}
		d.runs = append(d.runs[:len(d.runs)-n], runFile{name: name, tier: last + 1})
	}
}

// writeRun writes the rows of next, in order, to a new run file in dir: a
// run is its rows as uvarint(len key) key uvarint(len value) value.
func writeRun(dir string, next func() ([]byte, []byte, bool, error)) (name string, err error) {
	f, err := os.CreateTemp(dir, "run-*")
	if err != nil {
		return "", err
	}
	defer func() {
		err = errors.Join(err, f.Close())
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	var kb, vb [binary.MaxVarintLen64]byte
	for {
		k, v, ok, err := next()
		if err != nil {
			return "", err
		}
		if !ok {
			break
		}
		for _, b := range [][]byte{binary.AppendUvarint(kb[:0], uint64(len(k))), k, binary.AppendUvarint(vb[:0], uint64(len(v))), v} {
			if _, err := w.Write(b); err != nil {
				return "", err
			}
		}
	}
	return f.Name(), w.Flush()
}

// discard drops the rows held and removes the run files.
func (d *deferredIndex) discard() error {
	d.arena, d.rows, d.runs = nil, nil, nil
	return os.RemoveAll(d.dir)
}

// flushAndCompactL0 makes Badger flush its memtables and compact every
// level-0 table into the levels below, now, whatever its compaction
// priorities say: it writes flushKey and drops its prefix (DropPrefix
// flushes the memtables, then compacts all of level 0, dropping the key).
// Nothing else may write meanwhile.
func flushAndCompactL0(db *badger.DB) error {
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set(flushKey, nil) }); err != nil {
		return err
	}
	return db.DropPrefix(flushKey)
}

// flushKey is written and dropped to make Badger flush its memtables
// (DropPrefix flushes them only when the prefix has a key).
var flushKey = []byte("v/flush")

// stream writes the rows held and spilled into db with Badger's stream
// writer in incremental mode — tables of their own, above the levels that
// hold data, without the write-ahead log, memtables or compactions — then
// removes the run files and empties d. Every commit has landed, and
// nothing else writes meanwhile. On error part of the rows may be written.
func (d *deferredIndex) stream(db *badger.DB) error {
	if d.err != nil {
		return fmt.Errorf("spill to %s: %w", d.dir, d.err)
	}
	src, closeSrc, err := d.merged()
	if err != nil {
		return err
	}
	defer closeSrc()
	k, v, ok, err := src()
	if err != nil || !ok {
		return errors.Join(err, d.discard())
	}
	// The incremental stream writer needs empty memtables.
	if err := flushAndCompactL0(db); err != nil {
		return err
	}
	rt := db.NewTransaction(false)
	version := rt.ReadTs() // as new as every commit: visible to every later read
	rt.Discard()
	sw := db.NewStreamWriter()
	if err := sw.PrepareIncremental(); err != nil {
		sw.Cancel()
		return err
	}
	buf := z.NewBuffer(bulkBufBytes, "state.deferredIndex")
	defer buf.Release()
	for ok {
		badger.KVToBuffer(&pb.KV{Key: k, Value: v, Version: version, StreamId: 1}, buf)
		if buf.LenNoPadding() >= bulkBufBytes {
			if err := sw.Write(buf); err != nil {
				sw.Cancel()
				return err
			}
			buf.Reset()
		}
		if k, v, ok, err = src(); err != nil {
			sw.Cancel()
			return err
		}
	}
	if err := sw.Write(buf); err != nil {
		sw.Cancel()
		return err
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return d.discard()
}

// merged returns the rows held and spilled as one stream in key order,
// each key once (its latest write): next returns ok false at the end. The
// slices it returns are valid until the next call.
func (d *deferredIndex) merged() (next func() (k, v []byte, ok bool, err error), closeAll func(), err error) {
	d.sortRows()
	return mergeRuns(d.runs, &memRun{d: d})
}

// mergeRuns merges runs (oldest first) and mem, if not nil (newest), into
// one stream in key order, each key once: its write in the newest source.
func mergeRuns(runs []runFile, mem run) (next func() (k, v []byte, ok bool, err error), closeAll func(), err error) {
	var files []*os.File
	closeAll = func() {
		for _, f := range files {
			f.Close()
		}
	}
	h := &runHeap{}
	// Sources, oldest first: the runs, then the rows in memory.
	for _, r := range runs {
		f, err := os.Open(r.name)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		files = append(files, f)
		h.srcs = append(h.srcs, &fileRun{r: bufio.NewReaderSize(f, 1<<20)})
	}
	if mem != nil {
		h.srcs = append(h.srcs, mem)
	}
	for i, s := range h.srcs {
		if err := s.advance(); err != nil {
			closeAll()
			return nil, nil, err
		}
		if s.valid() {
			h.live = append(h.live, i)
		}
	}
	heap.Init(h)
	var last []byte
	next = func() ([]byte, []byte, bool, error) {
		if h.pending { // advance past the row returned last
			h.pending = false
			if err := h.pop0(); err != nil {
				return nil, nil, false, err
			}
		}
		for h.Len() > 0 {
			s := h.srcs[h.live[0]]
			k, v := s.key(), s.val()
			if last != nil && bytes.Equal(k, last) {
				// An older write of the key just returned (the heap
				// orders a key's writes newest first).
				if err := h.pop0(); err != nil {
					return nil, nil, false, err
				}
				continue
			}
			last = append(last[:0], k...)
			// The row is used before the next call: a file run's
			// buffers may be reused only once its source advances,
			// which happens on the next call.
			h.pending = true
			return k, v, true, nil
		}
		return nil, nil, false, nil
	}
	return next, closeAll, nil
}

// run is one sorted source of merged.
type run interface {
	advance() error // to the next row
	valid() bool
	key() []byte
	val() []byte
}

// runHeap orders the live sources by their current key, newer source
// first for equal keys.
type runHeap struct {
	srcs    []run
	live    []int // indexes into srcs
	pending bool  // the smallest source's row was returned: advance it first
}

func (h *runHeap) Len() int { return len(h.live) }
func (h *runHeap) Less(i, j int) bool {
	a, b := h.live[i], h.live[j]
	if c := bytes.Compare(h.srcs[a].key(), h.srcs[b].key()); c != 0 {
		return c < 0
	}
	return a > b
}
func (h *runHeap) Swap(i, j int) { h.live[i], h.live[j] = h.live[j], h.live[i] }
func (h *runHeap) Push(x any)    { h.live = append(h.live, x.(int)) }
func (h *runHeap) Pop() any {
	x := h.live[len(h.live)-1]
	h.live = h.live[:len(h.live)-1]
	return x
}

// pop0 advances the smallest source and restores the order.
func (h *runHeap) pop0() error {
	s := h.srcs[h.live[0]]
	if err := s.advance(); err != nil {
		return err
	}
	if s.valid() {
		heap.Fix(h, 0)
	} else {
		heap.Pop(h)
	}
	return nil
}

// memRun is the rows in memory, sorted.
type memRun struct {
	d *deferredIndex
	i int // next row; current is i-1
}

func (m *memRun) advance() error { m.i++; return nil }
func (m *memRun) valid() bool    { return m.i-1 < len(m.d.rows) }
func (m *memRun) key() []byte    { return m.d.key(m.d.rows[m.i-1]) }
func (m *memRun) val() []byte    { return m.d.val(m.d.rows[m.i-1]) }

// fileRun is a spilled run.
type fileRun struct {
	r    *bufio.Reader
	k, v []byte
	ok   bool
}

func (f *fileRun) advance() error {
	kl, err := binary.ReadUvarint(f.r)
	if errors.Is(err, io.EOF) {
		f.ok = false
		return nil
	}
	if err != nil {
		return err
	}
	if f.k, err = readN(f.r, f.k, kl); err != nil {
		return err
	}
	vl, err := binary.ReadUvarint(f.r)
	if err != nil {
		return noEOF(err)
	}
	if f.v, err = readN(f.r, f.v, vl); err != nil {
		return err
	}
	f.ok = true
	return nil
}

func (f *fileRun) valid() bool { return f.ok }
func (f *fileRun) key() []byte { return f.k }
func (f *fileRun) val() []byte { return f.v }

// readN reads n bytes into b's storage. The runs are written by this
// process, but a length is still bounded: a key or value over the store's
// bounds was never written.
func readN(r io.Reader, b []byte, n uint64) ([]byte, error) {
	if n > uint64(MaxValueBytes)+uint64(MaxKeyBytes) {
		return nil, fmt.Errorf("state: deferred lineage index: run corrupt (length %d)", n)
	}
	b = slices.Grow(b[:0], int(n))[:n]
	_, err := io.ReadFull(r, b)
	return b, noEOF(err)
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// runDir is the run directory of a store in dir.
// commonPrefix is how many bytes a and b start with alike.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func runDir(dir string) string { return filepath.Join(dir, deferredIndexDir) }
