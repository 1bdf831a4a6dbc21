package state

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// Store is an instance's replica of the identity state, with the applier's
// offsets, the outbox and the billing view, on Badger (Open) or in memory
// (NewMemory).
//
// Threading contract: Update may be called from any goroutine; calls are
// serialised, and the identity state (d/, m/, p/ keys) must be written only
// through Update, by one logical writer (the applier), in identity-log
// order. Find, View and the read methods are safe from any number of
// goroutines concurrently with Update. ApplyBilling (the billing view) and
// TrimOutbox (the workers) write keys Update never writes and may run
// concurrently with it.
type Store struct {
	eng   engine
	cache *cache // nil: reads go to the engine

	// mu serialises Update: from its first read to the end of the cache
	// write-through (cache.go relies on it).
	mu     sync.Mutex
	closed atomic.Bool

	db   *badger.DB // nil for Memory
	lock *dirLock
	dir  string
	disk *diskGuard // nil: no free-space floor

	// maint serialises the maintenance that rewrites Badger's files (value
	// log GC) with Snapshot's backup.
	maint sync.Mutex

	// pipelined: Update hands its commit off (SetPipelined). Under mu.
	pipelined bool
	// filter: the replay filter of Update's transactions
	// (SetReplayFilter, replayfilter.go); nil: off. Under mu.
	filter *replayFilter
	// hints: the sizes of the last Update's maps and outbox arena, to make
	// the next one's at that size (an applier's updates are alike: without
	// it each grew them from empty, rehashing or copying on the way).
	// Under mu.
	hints updateHints
}

// pipeliner is an engine that can pipeline its commits (pipelined.go).
type pipeliner interface {
	updatePipelined(fn func(kvWriter) error) error
	sync() error
}

// SetPipelined switches Update to pipelined commits (on) or back to
// synchronous ones (off, which first waits for the commit in flight and
// returns its error). It is for one writer replaying the identity log into
// a store nothing else writes identity rows to (stream.Rebuild).
//
// With it on, Update returns once its writes are handed to Badger's
// writer, and the next Update runs while they are written; it reads them
// as it would committed ones. Readers (View, Find's cold path, Finder,
// Fingerprint, …) first wait for the commit in flight, so they still see
// every Update that returned; the cache already holds its identity values.
// A commit that fails after its Update returned fails the next Update (its
// fn's writes are dropped too) or Sync, and empties the cache. The memory
// engine ignores it: its commits are synchronous anyway.
func (s *Store) SetPipelined(on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.eng.(pipeliner); !ok || s.closed.Load() {
		return nil
	}
	if on {
		s.pipelined = true
		return nil
	}
	s.pipelined = false
	return s.syncLocked()
}

// SetSortedCommits switches the commits of pipelined Updates
// (SetPipelined) to sorted commits (on) or back (off), on Badger; on
// Memory it does nothing. A sorted commit writes an Update's writes in key
// order as several Badger transactions, which halves Badger's memtable
// inserts, the largest cost of a replay (pipelined.go) — but it is not
// atomic. So on marks the store first, and off waits for every commit in
// flight and then unmarks it; Close does the same. A store still marked —
// the process crashed, or a sorted commit failed (off then returns an
// error matching ErrUnfinishedReplay) — is refused by Open with
// ErrUnfinishedReplay. For a replay into a store that is made again if it
// stops: stream.Rebuild. BulkLoad turns them off.
func (s *Store) SetSortedCommits(on bool) error {
	return s.onBadger(func(e *badgerEngine) error { return e.setSorted(on) })
}

// CompactLevelZero waits for the commit in flight (SetPipelined), then
// flushes Badger's memtables and compacts every level-0 table into the
// levels below in one pass — for the end of a replay into a store opened
// with Options.Replay, which left them all in level 0; a store otherwise
// settled stays so. On a Memory store it does nothing. Nothing else may
// write meanwhile.
func (s *Store) CompactLevelZero() error {
	return s.onBadger(func(e *badgerEngine) error {
		if err := e.sync(); err != nil {
			return err
		}
		if err := flushAndCompactL0(e.db); err != nil {
			return fmt.Errorf("state: compact level 0 of %s: %w", s.dir, err)
		}
		return nil
	})
}

// onBadger runs a switch of the Badger engine under the writer lock (none
// on Memory, or once closed); its error empties the cache, whose values
// may be of commits that did not land.
func (s *Store) onBadger(fn func(*badgerEngine) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.eng.(*badgerEngine)
	if !ok || s.closed.Load() {
		return nil
	}
	err := fn(e)
	if err != nil && s.cache != nil {
		s.cache.reset()
	}
	return err
}

// SetDeferredIndex turns the deferred lineage index on or off, on Badger
// (on Memory it does nothing). With it on, an Update's lineage index rows
// (h/: what explain and lookup --as-of read, never an op) are held back —
// in memory, then in sorted run files under the store's directory — and
// written when it goes off, also by SetSortedCommits(false) and Close, in
// key order with Badger's stream writer: a replay then pushes a third
// fewer rows through Badger's write path (deferredindex.go). Until then
// explain and lookup --as-of miss them. It needs sorted commits on
// (SetSortedCommits), whose mark the store keeps until the rows are
// written: if writing them fails, or the process dies first, Open refuses
// the store. For stream.Rebuild.
func (s *Store) SetDeferredIndex(on bool) error {
	return s.onBadger(func(e *badgerEngine) error { return e.setDeferredIndex(on, runDir(s.dir)) })
}

// Sync waits for the commit in flight of a pipelined Update (SetPipelined)
// and returns its error, or that of any pipelined commit that failed
// since. It returns nil at once otherwise.
func (s *Store) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.pipelined || s.closed.Load() {
		return nil
	}
	return s.syncLocked()
}

func (s *Store) syncLocked() error {
	err := s.eng.(pipeliner).sync()
	if err != nil && s.cache != nil {
		s.cache.reset()
	}
	if err != nil && s.filter != nil {
		s.filter.dropLists() // they hold the failed commit's writes
	}
	return err
}

// Memory is a Store whose engine is a sorted in-memory map instead of
// Badger: the same keys, codec and transactions, so it gives the same
// fingerprints; it has no cache and nothing survives Close. It is for tests
// and tools; every Store method works on it.
type Memory struct {
	*Store
}

// NewMemory returns an empty in-memory Store.
func NewMemory() *Memory {
	return &Memory{&Store{eng: newMemEngine()}}
}

// Open opens (creating if needed) the Badger state in dir. A directory held
// by another process, or by another Open in this one, gives an error for
// which IsLocked is true, naming dir.
func Open(dir string, o Options) (*Store, error) {
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	bo, err := o.badgerOptions(dir, log)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: create %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	// Empty write-ahead logs left by a crash (emptylogs.go) would stop
	// Badger's Open.
	removed, err := removeEmptyLogs(dir)
	if err != nil {
		lock.release()
		return nil, err
	}
	for _, name := range removed {
		log.Warn("removed an empty write-ahead log file left by a crash while Badger was creating it; it held nothing (dgraph-io/badger#2207)",
			zap.String("dir", dir), zap.String("file", name))
	}
	guard := newDiskGuard(dir, o.MinFreeBytes)
	if err := guard.refresh(); err != nil {
		// Badger writes at once on open (a new memtable WAL): not below
		// the floor.
		lock.release()
		return nil, err
	}
	db, err := badger.Open(bo)
	if err != nil {
		lock.release()
		if isBadgerLockErr(err) {
			return nil, fmt.Errorf("%w: %s (by a Badger program): %w", ErrLocked, dir, err)
		}
		return nil, fmt.Errorf("state: open badger in %s: %w", dir, err)
	}
	eng := &badgerEngine{db: db, disk: guard}
	if since, marked, err := eng.unfinished(); err != nil || marked {
		cerr := errors.Join(db.Close(), lock.release())
		if marked {
			return nil, errors.Join(fmt.Errorf("%w in %s: resolver rebuild was writing it with sorted commits (since %s) and stopped without ending them — it was killed, or a write failed — so part of a batch may be missing; run resolver rebuild to make it again",
				ErrUnfinishedReplay, dir, since.Format(time.RFC3339)), cerr)
		}
		return nil, fmt.Errorf("state: open %s: %w", dir, errors.Join(err, cerr))
	}
	s := &Store{eng: eng, db: db, lock: lock, dir: dir, disk: guard}
	switch {
	case o.CacheBytes == 0:
		s.cache = newCache(DefaultCacheBytes)
	case o.CacheBytes > 0:
		s.cache = newCache(o.CacheBytes)
	}
	return s, nil
}

// Close closes the store. Later calls of any method return ErrClosed;
// Close itself may be called again.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	err := s.eng.close()
	if s.lock != nil {
		err = errors.Join(err, s.lock.release())
	}
	if err != nil {
		return fmt.Errorf("state: close %s: %w", s.dir, err)
	}
	return nil
}

// Update runs fn in one read-write transaction: all writes of fn commit
// atomically, or none do if fn returns an error (returned as is) or the
// commit fails. If the writes do not fit into one Badger transaction the
// error satisfies IsTxnTooBig: nothing was written; retry with half the
// batch. After a successful commit the changed identity values are written
// through to the cache before Update returns, so a Find that starts after
// Update returns sees them.
func (s *Store) Update(fn func(Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	t := &tx{c: s.cache, filter: s.filter}
	if s.cache != nil {
		t.dirty = make(map[string][]byte, s.hints.dirty)
	}
	if s.hints.touched > 0 {
		t.touched = make(map[string]map[string]bool, s.hints.touched)
	}
	if s.hints.outbox > 0 {
		t.outboxArena = make([]byte, 0, s.hints.outbox)
	}
	defer func() {
		s.hints = updateHints{dirty: len(t.dirty), touched: len(t.touched), outbox: min(len(t.outboxArena), maxOutboxHint)}
	}()
	fnOK := false
	update := s.eng.update
	if s.pipelined {
		update = s.eng.(pipeliner).updatePipelined
	}
	err := update(func(w kvWriter) error {
		t.r, t.w = w, w
		if err := fn(t); err != nil {
			return err
		}
		if err := t.flushPersons(); err != nil {
			return err
		}
		if err := t.flushOutbox(); err != nil {
			return err
		}
		fnOK = true
		return nil
	})
	t.r, t.w = nil, nil
	if err != nil {
		if s.filter != nil {
			s.filter.dropLists() // they may hold fn's writes
		}
		switch {
		case s.cache == nil:
		case errors.Is(err, errPipelinedCommit):
			// An earlier Update's commit, whose values the cache holds
			// since that Update returned.
			s.cache.reset()
		case fnOK:
			s.cache.invalidate(t.dirty)
		}
		if IsTxnTooBig(err) && !errors.Is(err, ErrTxnTooBig) {
			err = fmt.Errorf("%w: %w", ErrTxnTooBig, err)
		}
		return err
	}
	if s.cache != nil {
		s.cache.writeThrough(t.dirty)
	}
	return nil
}

// updateHints are sizes of an Update's maps and outbox arena (Store.hints).
type updateHints struct{ dirty, touched, outbox int }

// maxOutboxHint bounds the outbox arena an Update starts with: one Update
// with a huge result must not make every later one allocate as much.
const maxOutboxHint = 4 << 20

// View runs fn in a read-only snapshot. The Tx's write methods return
// ErrReadOnly.
func (s *Store) View(fn func(Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.eng.view(func(r kvReader) error {
		t := &tx{r: r}
		err := fn(t)
		t.r = nil
		return err
	})
}

// Find returns the person of a distinct_id with the semantics of
// unionfind.Find: the stored person of a live mapping (explicit), else the
// implicit person. It is the hot read path of stamping and goes through the
// cache. The Person's Props are shared with the cache: read-only.
//
// Find sees every Update that returned before it started. Its mapping and
// person reads are not one snapshot: if they disagree (a merge or delete
// committed between them), it falls back to a snapshot read.
func (s *Store) Find(team, distinctID string) (unionfind.Person, bool, error) {
	p, _, explicit, err := s.FindWithProperties(team, distinctID)
	return p, explicit, err
}

// FindWithProperties is Find that also returns the person's properties as
// one JSON object (unionfind.Person.AppendPropertiesJSON), nil for an
// implicit person. The JSON is built once per person version and kept in
// the cache next to the person, so stamping does not serialise it for every
// event: it is shared, read-only.
func (s *Store) FindWithProperties(team, distinctID string) (p unionfind.Person, props []byte, explicit bool, err error) {
	p, props, explicit, _, err = s.find(storeView{s}, team, distinctID)
	return p, props, explicit, err
}

// A snapshotter gives find its engine reads: one transaction per call
// (storeView), or one shared by a batch (Finder). gen is the cache
// generation read before the snapshot of view's reads was taken.
type snapshotter interface {
	view(fn func(kvReader) error) (gen uint64, err error)
}

// storeView reads each time from a fresh engine transaction.
type storeView struct{ s *Store }

func (v storeView) view(fn func(kvReader) error) (uint64, error) {
	var gen uint64
	if c := v.s.cache; c != nil {
		gen = c.gen.Load()
	}
	return gen, v.s.eng.view(fn)
}

// find is FindWithProperties with its engine reads from sn; it also
// returns the id's mapping (zero when it has none).
func (s *Store) find(sn snapshotter, team, distinctID string) (p unionfind.Person, props []byte, explicit bool, m unionfind.Mapping, err error) {
	if s.closed.Load() {
		return unionfind.Person{}, nil, false, m, ErrClosed
	}
	c := s.cache
	if c == nil {
		return s.findSnapshot(sn, team, distinctID)
	}
	var kb [96]byte
	dk := mappingKey(kb[:0], team, distinctID)
	h, hit := c.getMapping(dk)
	if !hit {
		return s.findMiss(sn, team, distinctID)
	}
	if !h.live() {
		if !h.altOK {
			h.alt = restingPerson(team, distinctID, h.m, h.ok)
			c.setAlt(dk, h.alt)
		}
		return unionfind.Person{ID: h.alt, Size: 1}, nil, false, h.m, nil
	}
	var pb [48]byte
	p, props, ok, hit := c.getPerson(personKey(pb[:0], team, h.m.PersonID))
	if !hit {
		if p, props, ok, err = s.readPerson(sn, team, h.m.PersonID); err != nil {
			return unionfind.Person{}, nil, false, m, err
		}
	}
	if !ok || p.Deleted {
		return s.findSnapshot(sn, team, distinctID)
	}
	return p, props, true, h.m, nil
}

// readPerson reads a person from the engine for Find and fills the cache
// with it, unless a commit landed meanwhile. It is kept out of Find so
// that Find's hit path allocates nothing.
func (s *Store) readPerson(sn snapshotter, team string, id unionfind.PersonID) (p unionfind.Person, props []byte, ok bool, err error) {
	c := s.cache
	pk := personKey(nil, team, id)
	var meta personMeta
	gen0, err := sn.view(func(r kvReader) (err error) {
		ok, err = r.get(pk, func(v []byte) (err error) {
			p, meta, err = decodePersonRecord(id, v)
			return err
		})
		return err
	})
	if err != nil {
		return unionfind.Person{}, nil, false, wrapKey(err, pk)
	}
	props = c.fillPerson(pk, p, meta, ok, gen0, true)
	return p, props, ok, nil
}

// findMiss reads mapping and person in one snapshot and fills the cache
// with both, unless a commit landed meanwhile.
func (s *Store) findMiss(sn snapshotter, team, distinctID string) (unionfind.Person, []byte, bool, unionfind.Mapping, error) {
	c := s.cache
	dk := mappingKey(nil, team, distinctID)
	var (
		m          unionfind.Mapping
		mOK, pOK   bool
		p          unionfind.Person
		pk         []byte
		explicitOK bool
		meta       personMeta
	)
	gen0, err := sn.view(func(r kvReader) (err error) {
		mOK, err = r.get(dk, func(v []byte) (err error) {
			m, err = decodeMapping(team, distinctID, v)
			return err
		})
		if err != nil {
			return wrapKey(err, dk)
		}
		if !mOK || m.Deleted {
			return nil
		}
		pk = personKey(nil, team, m.PersonID)
		pOK, err = r.get(pk, func(v []byte) (err error) {
			p, meta, err = decodePersonRecord(m.PersonID, v)
			return err
		})
		if err != nil {
			return wrapKey(err, pk)
		}
		if !pOK || p.Deleted {
			return fmt.Errorf("state: team %q: a distinct_id maps to missing person %s (ids are personal data; not named)", team, m.PersonID)
		}
		explicitOK = true
		return nil
	})
	if err != nil {
		return unionfind.Person{}, nil, false, m, err
	}
	if !explicitOK {
		alt := restingPerson(team, distinctID, m, mOK)
		c.fillMapping(dk, m, mOK, alt, true, gen0, true)
		return unionfind.Person{ID: alt, Size: 1}, nil, false, m, nil
	}
	c.fillMapping(dk, m, mOK, unionfind.PersonID{}, false, gen0, true)
	props := c.fillPerson(pk, p, meta, pOK, gen0, true)
	return p, props, true, m, nil
}

// A Finder answers Find for one batch of lookups: the lookups that miss the
// cache share one read-only snapshot, opened at the first miss and kept
// until Close, instead of opening an engine transaction each (each costs a
// round trip through Badger's oracle and, under CPU load, a scheduling
// delay). It sees every Update that returned before its first miss; later
// ones it may or may not see, so open one after the updates a batch must
// see (the pipeline: after its ops are applied). Not safe for concurrent
// use; Close it before waiting on an Update.
type Finder struct {
	s    *Store
	r    kvReader
	gen  uint64
	end  func()
	err  error
	open bool
}

// Finder returns a Finder over the store.
func (s *Store) Finder() *Finder { return &Finder{s: s} }

// Find is Store.Find through the Finder's snapshot.
func (f *Finder) Find(team, distinctID string) (unionfind.Person, bool, error) {
	p, _, explicit, _, err := f.s.find(f, team, distinctID)
	return p, explicit, err
}

// FindWithProperties is Store.FindWithProperties through the Finder's
// snapshot.
func (f *Finder) FindWithProperties(team, distinctID string) (unionfind.Person, []byte, bool, error) {
	p, props, explicit, _, err := f.s.find(f, team, distinctID)
	return p, props, explicit, err
}

// Found is what Finder.Resolve returns: FindWithProperties' answer and the
// id's mapping fields the pipeline acts on (docs/SEMANTICS.md §8).
type Found struct {
	Person   unionfind.Person
	Props    []byte // the properties as JSON; nil for an implicit person
	Explicit bool
	// Blocked: the id was deleted with --block; its events are
	// dead-lettered.
	Blocked bool
	// Gen is the id's erasure generation: the data key its values are
	// sealed under.
	Gen uint32
}

// Resolve is FindWithProperties with the id's blocked flag and erasure
// generation, at the cost of nothing more (the mapping is read anyway).
func (f *Finder) Resolve(team, distinctID string) (Found, error) {
	p, props, explicit, m, err := f.s.find(f, team, distinctID)
	return Found{Person: p, Props: props, Explicit: explicit, Blocked: m.Blocked, Gen: m.Gen}, err
}

func (f *Finder) view(fn func(kvReader) error) (uint64, error) {
	if !f.open {
		f.open = true
		if c := f.s.cache; c != nil {
			f.gen = c.gen.Load()
		}
		f.r, f.end, f.err = f.s.eng.begin()
	}
	if f.err != nil {
		return 0, f.err
	}
	return f.gen, fn(f.r)
}

// Close releases the snapshot; the Finder can be used again (a new
// snapshot is opened at the next miss).
func (f *Finder) Close() {
	if f.open && f.end != nil {
		f.end()
	}
	*f = Finder{s: f.s}
}

// findSnapshot is unionfind.Find in one read-only snapshot.
func (s *Store) findSnapshot(sn snapshotter, team, distinctID string) (p unionfind.Person, props []byte, explicit bool, m unionfind.Mapping, err error) {
	_, err = sn.view(func(r kvReader) error {
		t := &tx{r: r}
		if p, explicit, err = unionfind.Find(t, team, distinctID); err != nil {
			return err
		}
		m, _, err = t.Mapping(team, distinctID)
		return err
	})
	if err == nil && explicit {
		props = p.AppendPropertiesJSON(nil)
	}
	return p, props, explicit, m, err
}

// CacheStats returns the read-through cache's counters (zero without a
// cache).
func (s *Store) CacheStats() CacheStats {
	if s.cache == nil {
		return CacheStats{}
	}
	return s.cache.stats()
}

// restingPerson is the person of a distinct_id without a live mapping:
// its implicit person, or after a deletion the fresh person its mapping
// names (unionfind.Mapping.Fresh).
func restingPerson(team, distinctID string, m unionfind.Mapping, ok bool) unionfind.PersonID {
	if ok && m.Deleted && m.Fresh != (unionfind.PersonID{}) {
		return m.Fresh
	}
	return unionfind.ImplicitPersonID(team, distinctID)
}
