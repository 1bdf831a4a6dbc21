package state

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// The read-through cache in front of Badger for Find: decoded mappings (d/
// keys) and decoded persons (p/ keys), including "absent" entries, because
// most stamped events belong to never-merged anonymous ids whose mapping
// does not exist.
//
// It is hand-written rather than ristretto (already in the module graph, via
// Badger) because correctness here needs one guarantee a general cache does
// not give: a reader that missed, read Badger, and now inserts what it read
// must not overwrite a newer value that a writer committed meanwhile.
// ristretto's Set is asynchronous and unordered with respect to other Sets
// and Dels (it goes through a buffer and may be dropped or applied late), so
// a reader's stale Set can land after the writer's, and stamping would serve
// the old person until eviction.
//
// The protocol:
//
//   - Only Update writes authoritative values, after a successful commit:
//     it bumps the cache generation, then writes every identity key it
//     changed (write-through). Update holds the Store's writer lock from its
//     first read to the end of the write-through, so updates never
//     interleave.
//   - A reader that misses records the generation before it opens its
//     Badger snapshot and inserts what it read only if the generation is
//     still the same, checked under the shard lock. If a commit happened
//     after the reader's snapshot, either its generation bump is seen (no
//     insert), or the bump comes after the insert — and then so does the
//     writer's write of that key, which takes the same shard lock and
//     overwrites the stale entry.
//   - Inside Update, reads fill the cache unconditionally: under the writer
//     lock the committed state cannot move.
//   - If a commit fails, the keys it wrote are dropped (after a bump), in
//     case the failure was ambiguous.
//
// One generation for the whole cache (not per shard) keeps the protocol
// right for Find's miss path, which learns the person key only after reading
// the mapping. A reader's insert is skipped whenever any commit lands during
// its few microseconds in Badger; the written keys are in the cache anyway
// through write-through, so this costs little.
//
// Memory is bounded per shard by an approximate byte count (slot, map
// entry, person and properties); eviction is CLOCK (a reference bit per entry,
// set on hit, cleared by the sweeping hand).
type cache struct {
	gen      atomic.Uint64
	seed     maphash.Seed
	seed2    maphash.Seed
	shardCap int64
	capacity int64
	shards   [cacheShards]cacheShard
}

const cacheShards = 64

// The bytes an entry holds on the Go heap, which is what the bound counts
// (TestCacheCountsItsMemory measures them): its slot, with the slice's
// growth slack and a free-list index, and its index map entry, with the
// map's slack between growths (map[uint64]int32 holds 26 to 52 bytes per
// entry); a person also its cachedPerson and what that points to, each
// allocation rounded up as the allocator does (heapBytes). Slots and map
// entries freed by evictions are not counted: a shard compacts itself when
// a quarter of its slots are free (cacheShard.compact), so they stay a
// bounded fraction of what is counted.
const (
	slotBytes       = int(unsafe.Sizeof(centry{}))
	mappingOverhead = slotBytes + slotBytes/8 + 4 + 36
	personOverhead  = mappingOverhead + int(unsafe.Sizeof(cachedPerson{}))
	propBytes       = int(unsafe.Sizeof(unionfind.Property{}))
)

type cacheShard struct {
	mu sync.Mutex
	// idx maps a 64-bit hash of a key to its slot; the slot keeps a second,
	// independent 64-bit hash that every lookup compares, so a key is known
	// by 128 bits and the key bytes are not kept at all. Keying by integers
	// keeps lookups to the map's group and the slot — at a million entries
	// every other pointer followed is a cache miss. Two keys are confused
	// only if both hashes collide: about n²/2¹²⁹, 10⁻²³ for 10⁸ keys. Two
	// keys with one first hash share a slot: the later replaces the earlier.
	idx   map[uint64]int32
	slots []centry
	free  []int32
	hand  int
	bytes int64

	hits, misses, stale, evictions uint64
	compactions                    uint64   // for the tests
	_                              [64]byte // keep shards' hot fields on separate cache lines
}

// centry is one cache slot.
type centry struct {
	hash  uint64 // first hash of the key (idx's key)
	hash2 uint64 // second hash, compared on lookup
	used  bool   // the slot holds an entry
	ref   bool   // CLOCK reference bit
	ok    bool   // the record exists (else an absent entry)
	altOK bool
	cost  int32
	m     unionfind.Mapping  // d/ entries
	alt   unionfind.PersonID // d/ entries: the implicit person, once computed
	p     *cachedPerson      // p/ entries that exist; read-only
}

// cachedPerson is a cached person, what its value keeps beside it (its
// founder, the member kept in the person's value instead of an m/ key,
// founder.go, and its lineage head, lineage.go) and its
// properties as JSON, built once per person version. Read-only. Kept out of
// the slot, which every mapping entry pays for too.
type cachedPerson struct {
	unionfind.Person
	meta personMeta
	pj   []byte
}

// mappingHit is what a d/ lookup returns.
type mappingHit struct {
	m     unionfind.Mapping
	ok    bool
	alt   unionfind.PersonID
	altOK bool
}

// live reports whether the mapping points at a stored person.
func (h *mappingHit) live() bool { return h.ok && !h.m.Deleted }

// newCache returns a cache of about capacity bytes.
func newCache(capacity int64) *cache {
	c := &cache{seed: maphash.MakeSeed(), seed2: maphash.MakeSeed(), capacity: capacity, shardCap: capacity / cacheShards}
	for i := range c.shards {
		c.shards[i].idx = make(map[uint64]int32)
	}
	return c
}

// keyHash is the 128-bit identity of a key in the cache.
type keyHash struct{ h1, h2 uint64 }

// shard returns the shard of key k and k's hashes.
func (c *cache) shard(k []byte) (*cacheShard, keyHash) {
	h := keyHash{maphash.Bytes(c.seed, k), maphash.Bytes(c.seed2, k)}
	return &c.shards[h.h1>>58], h // high bits pick the shard; the map hashes h1 again
}

// find returns the slot of the key, or -1. The caller holds the lock.
func (sh *cacheShard) find(h keyHash) int32 {
	if i, ok := sh.idx[h.h1]; ok && sh.slots[i].hash2 == h.h2 {
		return i
	}
	return -1
}

func (c *cache) getMapping(k []byte) (mappingHit, bool) {
	sh, h := c.shard(k)
	sh.mu.Lock()
	i := sh.find(h)
	if i < 0 {
		sh.misses++
		sh.mu.Unlock()
		return mappingHit{}, false
	}
	e := &sh.slots[i]
	if !e.ref {
		e.ref = true
	}
	hit := mappingHit{m: e.m, ok: e.ok, alt: e.alt, altOK: e.altOK}
	sh.hits++
	sh.mu.Unlock()
	return hit, true
}

// getPerson returns a cached person (its Props shared, read-only) and its
// properties as JSON (shared, read-only), whether it exists, and whether the
// key was cached at all.
func (c *cache) getPerson(k []byte) (p unionfind.Person, pj []byte, ok, hit bool) {
	sh, h := c.shard(k)
	sh.mu.Lock()
	i := sh.find(h)
	if i < 0 {
		sh.misses++
		sh.mu.Unlock()
		return unionfind.Person{}, nil, false, false
	}
	e := &sh.slots[i]
	if !e.ref {
		e.ref = true
	}
	if e.ok {
		p, pj = e.p.Person, e.p.pj
	}
	ok = e.ok
	sh.hits++
	sh.mu.Unlock()
	return p, pj, ok, true
}

// getPersonRecord is getPerson with what the person's value keeps beside
// it (personMeta) instead of its properties' JSON.
func (c *cache) getPersonRecord(k []byte) (p unionfind.Person, meta personMeta, ok, hit bool) {
	sh, h := c.shard(k)
	sh.mu.Lock()
	i := sh.find(h)
	if i < 0 {
		sh.misses++
		sh.mu.Unlock()
		return unionfind.Person{}, personMeta{}, false, false
	}
	e := &sh.slots[i]
	if !e.ref {
		e.ref = true
	}
	if e.ok {
		p, meta = e.p.Person, e.p.meta
	}
	ok = e.ok
	sh.hits++
	sh.mu.Unlock()
	return p, meta, ok, true
}

// setAlt records the implicit person of an absent or deleted mapping, if
// the entry is still there and still not live.
func (c *cache) setAlt(k []byte, alt unionfind.PersonID) {
	sh, h := c.shard(k)
	sh.mu.Lock()
	if i := sh.find(h); i >= 0 {
		if e := &sh.slots[i]; !e.ok || e.m.Deleted {
			e.alt, e.altOK = alt, true
		}
	}
	sh.mu.Unlock()
}

// fillMapping inserts a mapping read from the engine. With checkGen it
// inserts only if no commit happened since gen0 was read.
func (c *cache) fillMapping(k []byte, m unionfind.Mapping, ok bool, alt unionfind.PersonID, altOK bool, gen0 uint64, checkGen bool) {
	sh, h := c.shard(k)
	sh.mu.Lock()
	if checkGen && c.gen.Load() != gen0 {
		sh.stale++
		sh.mu.Unlock()
		return
	}
	sh.put(c.shardCap, h, centry{ok: ok, m: m, alt: alt, altOK: altOK, cost: int32(mappingOverhead)})
	sh.mu.Unlock()
}

// fillPerson inserts a person read from the engine; see fillMapping. It
// returns the person's properties as JSON (built for the entry whether or
// not it is inserted).
func (c *cache) fillPerson(k []byte, p unionfind.Person, meta personMeta, ok bool, gen0 uint64, checkGen bool) []byte {
	e := personEntry(p, meta, ok)
	sh, h := c.shard(k)
	sh.mu.Lock()
	if checkGen && c.gen.Load() != gen0 {
		sh.stale++
		sh.mu.Unlock()
		return e.pjOrNil()
	}
	sh.put(c.shardCap, h, e)
	sh.mu.Unlock()
	return e.pjOrNil()
}

// pjOrNil is the properties' JSON of a person entry, nil for an absent one.
func (e *centry) pjOrNil() []byte {
	if e.p == nil {
		return nil
	}
	return e.p.pj
}

// personEntry is the cache entry of a person. Its properties are serialised
// here, once per person version, rather than for every event stamped with
// them.
func personEntry(p unionfind.Person, meta personMeta, ok bool) centry {
	e := centry{ok: ok}
	if !ok {
		e.cost = int32(mappingOverhead)
		return e
	}
	cost := personOverhead + heapBytes(len(meta.founder)) + heapBytes(cap(p.Props)*propBytes)
	for _, pr := range p.Props {
		cost += heapBytes(len(pr.Key)) + heapBytes(cap(pr.Value))
	}
	pj := p.AppendPropertiesJSON(make([]byte, 0, p.PropertiesJSONSize()))
	cost += heapBytes(cap(pj))
	e.p = &cachedPerson{Person: p, meta: meta, pj: pj}
	e.cost = int32(min(cost, 1<<30))
	return e
}

// heapBytes is about what an allocation of n bytes holds: the allocator
// rounds small sizes up to its size classes (8, 16, 24, 32, 48, 64, 80, 96,
// 112, 128, then steps of 16 to 32 bytes up to 256, coarser above).
// Rounding to 16 bytes, and to an eighth above 256, is within a few bytes
// of them.
func heapBytes(n int) int {
	switch {
	case n <= 0:
		return 0
	case n <= 8:
		return 8
	case n <= 256:
		return (n + 15) &^ 15
	default:
		return n + n/8
	}
}

// writeThrough installs the identity values an Update committed. It runs
// under the Store's writer lock.
func (c *cache) writeThrough(dirty map[string][]byte) {
	if len(dirty) == 0 {
		return
	}
	c.gen.Add(1)
	for ks, v := range dirty {
		k := []byte(ks)
		var e centry
		switch {
		case hasTag(k, tagMapping):
			team, did, ok := mappingKeyIDs(k)
			m, err := decodeMapping(team, did, v)
			if !ok || err != nil {
				c.drop(k)
				continue
			}
			e = centry{ok: true, m: m, cost: int32(mappingOverhead)}
		case hasTag(k, tagPerson):
			id, ok := personKeyID(k)
			p, meta, err := decodePersonRecord(id, v)
			if !ok || err != nil {
				c.drop(k)
				continue
			}
			e = personEntry(p, meta, true)
		default:
			continue
		}
		sh, h := c.shard(k)
		sh.mu.Lock()
		sh.put(c.shardCap, h, e)
		sh.mu.Unlock()
	}
}

// reset drops every entry (a Loader wrote behind the cache's back). Readers
// that missed before it insert nothing after it: the generation moved.
func (c *cache) reset() {
	c.gen.Add(1)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.idx)
		sh.slots, sh.free, sh.hand, sh.bytes = nil, nil, 0, 0
		sh.mu.Unlock()
	}
}

// invalidate drops keys whose committed value is unknown (a failed commit).
func (c *cache) invalidate(dirty map[string][]byte) {
	if len(dirty) == 0 {
		return
	}
	c.gen.Add(1)
	for ks := range dirty {
		c.drop([]byte(ks))
	}
}

func (c *cache) drop(k []byte) {
	sh, h := c.shard(k)
	sh.mu.Lock()
	if i := sh.find(h); i >= 0 {
		sh.remove(i)
	}
	sh.mu.Unlock()
}

func hasTag(k, tag []byte) bool {
	return len(k) >= len(tag) && string(k[:len(tag)]) == string(tag)
}

// put inserts or replaces the entry for k, evicting as needed. The caller
// holds the lock.
func (sh *cacheShard) put(capacity int64, h keyHash, e centry) {
	e.hash, e.hash2, e.used = h.h1, h.h2, true
	if i, ok := sh.idx[h.h1]; ok { // the key, or one with the same first hash: replace
		old := &sh.slots[i]
		sh.bytes += int64(e.cost) - int64(old.cost)
		e.ref = true
		*old = e
		sh.evictUntil(capacity, i)
		return
	}
	if int64(e.cost) > capacity {
		return
	}
	sh.evictUntil(capacity-int64(e.cost), -1)
	sh.compact()
	var i int32
	if n := len(sh.free); n > 0 {
		i = sh.free[n-1]
		sh.free = sh.free[:n-1]
		sh.slots[i] = e
	} else {
		i = int32(len(sh.slots))
		sh.slots = append(sh.slots, e)
	}
	sh.idx[h.h1] = i
	sh.bytes += int64(e.cost)
}

// evictUntil runs the CLOCK hand until the shard holds at most limit bytes,
// sparing slot keep.
func (sh *cacheShard) evictUntil(limit int64, keep int32) {
	for sweeps := 0; sh.bytes > limit && sweeps < 2*len(sh.slots)+1; sweeps++ {
		if sh.hand >= len(sh.slots) {
			sh.hand = 0
		}
		i := int32(sh.hand)
		sh.hand++
		e := &sh.slots[i]
		if !e.used || i == keep {
			continue
		}
		if e.ref {
			e.ref = false
			continue
		}
		sh.remove(i)
		sh.evictions++
	}
}

func (sh *cacheShard) remove(i int32) {
	e := &sh.slots[i]
	delete(sh.idx, e.hash)
	sh.bytes -= int64(e.cost)
	*e = centry{}
	sh.free = append(sh.free, i)
}

// minCompactSlots is the fewest slots a shard compacts (a variable for
// the tests, which make small caches compact).
var minCompactSlots = 256

// compact rebuilds the shard's slots and index without the free slots
// once a quarter of them are free — after the cache filled with small
// entries, then with large ones, the slots and the map's groups of the
// evicted would otherwise stay allocated and uncounted. It costs a pass
// over the shard, at most once per len/4 evictions. The caller holds the
// lock.
func (sh *cacheShard) compact() {
	n := len(sh.slots)
	if n < minCompactSlots || len(sh.free) < n/4 {
		return
	}
	live := n - len(sh.free)
	slots := make([]centry, 0, live+live/8)
	idx := make(map[uint64]int32, live)
	hand := 0 // the CLOCK hand keeps its place: the live slots before it
	for i := range sh.slots {
		e := &sh.slots[i]
		if !e.used {
			continue
		}
		if i < sh.hand {
			hand++
		}
		idx[e.hash] = int32(len(slots))
		slots = append(slots, *e)
	}
	sh.slots, sh.idx, sh.free, sh.hand = slots, idx, nil, hand
	sh.compactions++
}

// CacheStats are the counters of a Store's read-through cache, for metrics.
// All are zero for a Store without a cache.
type CacheStats struct {
	Hits      uint64 // lookups answered from the cache
	Misses    uint64 // lookups that went to Badger
	Stale     uint64 // fills skipped because a commit landed during the read
	Evictions uint64
	Entries   int
	Bytes     int64 // approximate bytes held
	Capacity  int64 // the configured bound (Options.CacheBytes)
}

func (c *cache) stats() CacheStats {
	s := CacheStats{Capacity: c.capacity}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		s.Hits += sh.hits
		s.Misses += sh.misses
		s.Stale += sh.stale
		s.Evictions += sh.evictions
		s.Entries += len(sh.idx)
		s.Bytes += sh.bytes
		sh.mu.Unlock()
	}
	return s
}
