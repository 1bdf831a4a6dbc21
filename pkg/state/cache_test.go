package state

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// The race the cache protocol exists for, played out step by step: a
// reader misses and reads the old mapping, the writer commits a new one and
// writes it through, then the reader tries to insert what it read. The
// insert must be refused. In the other order (the reader inserts first) the
// writer's write-through must overwrite it.
func TestCacheRefusesStaleFill(t *testing.T) {
	s, _ := openTest(t, testOptions(t))
	c := s.cache
	k := mappingKey(nil, "1", "a")
	old := unionfind.Mapping{PersonID: pidA, Version: 1}
	newer := unionfind.Mapping{PersonID: pidB, Version: 2}
	update(t, s, func(tx Tx) error { return tx.PutMapping("1", "a", old) })
	c.drop(k)

	// Reader: miss, remember the generation, "read Badger" (old).
	gen0 := c.gen.Load()
	// Writer commits the newer value.
	update(t, s, func(tx Tx) error { return tx.PutMapping("1", "a", newer) })
	// Reader inserts what it read: refused.
	c.fillMapping(k, old, true, unionfind.PersonID{}, false, gen0, true)
	if h, hit := c.getMapping(k); !hit || h.m != newer {
		t.Fatalf("after a late stale fill the cache holds %+v (hit=%v), want %+v", h.m, hit, newer)
	}
	if c.stats().Stale == 0 {
		t.Fatal("stale fill not counted")
	}

	// Other order: the stale insert lands first (no commit seen yet), then
	// the writer's write-through replaces it.
	c.drop(k)
	gen0 = c.gen.Load()
	c.fillMapping(k, newer, true, unionfind.PersonID{}, false, gen0, true)
	third := unionfind.Mapping{PersonID: pidA, Version: 3}
	update(t, s, func(tx Tx) error { return tx.PutMapping("1", "a", third) })
	if h, _ := c.getMapping(k); h.m != third {
		t.Fatalf("write-through did not replace the filled entry: %+v", h.m)
	}
}

// Find from many goroutines while the writer merges and deletes: no Find
// fails, and once the writer is done every Find agrees with a snapshot —
// no stale entry survived. Run with -race.
func TestFindConcurrentWithUpdate(t *testing.T) {
	o := testOptions(t)
	o.CacheBytes = 64 << 10 // small: fills and evictions race with the writer too
	defer func(n int) { minCompactSlots = n }(minCompactSlots)
	minCompactSlots = 2 // and shards compact as they go
	s, _ := openTest(t, o)
	const ids = 60
	did := func(i int) string { return fmt.Sprintf("d%02d", i) }
	g := unionfind.Graph{}
	rounds := 300
	if raceEnabled || testing.Short() {
		rounds = 100
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := s.Finder() // odd readers share snapshots across lookups
			defer f.Close()
			for i := r; !stop.Load(); i++ {
				find := s.FindWithProperties
				if r%2 == 1 {
					find = f.FindWithProperties
					if i%16 == 0 {
						f.Close() // a fresh snapshot now and then
					}
				}
				p, props, explicit, err := find("1", did(i%ids))
				if err != nil {
					errs <- err
					return
				}
				if want := wantProps(&p, explicit); string(props) != string(want) {
					errs <- fmt.Errorf("FindWithProperties(%s): properties %s do not belong to the person found (%s)", did(i%ids), props, want)
					return
				}
			}
		}()
	}
	for i := range rounds {
		a, b := did(i%ids), did((i*7+3)%ids)
		ops := []unionfind.Op{
			{Kind: unionfind.OpEvent, Team: "1", DistinctID: a, Timestamp: int64(i),
				Set: []unionfind.KV{{Key: "n", Value: json.RawMessage(fmt.Sprint(i))}}},
			{Kind: unionfind.OpEvent, Team: "1", DistinctID: b, Timestamp: int64(i), Merge: &unionfind.Merge{Other: a}},
		}
		if i%5 == 4 {
			p, _, err := s.Find("1", b)
			must(t, err)
			ops = append(ops, unionfind.Op{Kind: unionfind.OpDeletePerson, Team: "1", PersonID: p.ID})
		}
		update(t, s, func(tx Tx) error {
			for j := range ops {
				if _, err := g.Apply(tx, &ops[j]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Find during updates: %v", err)
	}
	for i := range ids {
		got, gotExp, err := s.Find("1", did(i))
		must(t, err)
		var want unionfind.Person
		var wantExp bool
		view(t, s, func(tx Tx) (err error) { want, wantExp, err = unionfind.Find(tx, "1", did(i)); return err })
		if gotExp != wantExp || !samePerson(got, want) {
			t.Fatalf("Find(%s) after the writer stopped: %+v %v, snapshot %+v %v", did(i), got, gotExp, want, wantExp)
		}
		_, props, _, err := s.FindWithProperties("1", did(i))
		must(t, err)
		f := s.Finder()
		fGot, fProps, fExp, err := f.FindWithProperties("1", did(i))
		f.Close()
		must(t, err)
		if fExp != wantExp || !samePerson(fGot, want) || string(fProps) != string(props) {
			t.Fatalf("Finder.FindWithProperties(%s) after the writer stopped: %+v %v %s, snapshot %+v %v %s", did(i), fGot, fExp, fProps, want, wantExp, props)
		}
		if string(props) != string(wantProps(&want, wantExp)) {
			t.Fatalf("FindWithProperties(%s) after the writer stopped: properties %s, snapshot %s", did(i), props, wantProps(&want, wantExp))
		}
	}
	st := s.CacheStats()
	if st.Hits == 0 || st.Misses == 0 {
		t.Fatalf("cache stats not counting: %+v", st)
	}
	compactions := uint64(0)
	for i := range s.cache.shards {
		sh := &s.cache.shards[i]
		sh.mu.Lock()
		compactions += sh.compactions
		sh.mu.Unlock()
	}
	if compactions == 0 {
		t.Fatalf("no shard compacted (%+v)", st)
	}
	checkShards(t, s.cache)
}

// The cache stays within its byte bound and keeps answering correctly
// while it evicts.
func TestCacheBounded(t *testing.T) {
	o := testOptions(t)
	o.CacheBytes = 32 << 10
	s, _ := openTest(t, o)
	var g unionfind.Graph
	update(t, s, func(tx Tx) error {
		for i := range 2000 {
			op := unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: fmt.Sprint("id-", i), Timestamp: 1}
			if _, err := g.Apply(tx, &op); err != nil {
				return err
			}
		}
		return nil
	})
	for round := range 2 {
		for i := range 2000 {
			d := fmt.Sprint("id-", i)
			p, explicit, err := s.Find("1", d)
			if err != nil || !explicit || p.ID != unionfind.ImplicitPersonID("1", d) {
				t.Fatalf("round %d Find(%s): %+v %v %v", round, d, p, explicit, err)
			}
		}
	}
	st := s.CacheStats()
	if st.Bytes > st.Capacity || st.Evictions == 0 || st.Entries == 0 {
		t.Fatalf("cache not bounded or not evicting: %+v", st)
	}
}

// Hits on a warm cache: the second Find of an id reads nothing from Badger.
func TestCacheStatsCount(t *testing.T) {
	s, _ := openTest(t, testOptions(t))
	applyOps(t, s, opsForFingerprint())
	_, _, err := s.Find("1", "user-1")
	must(t, err)
	before := s.CacheStats()
	for range 10 {
		_, _, err = s.Find("1", "user-1")
		must(t, err)
		_, _, err = s.Find("1", "never-seen")
		must(t, err)
	}
	after := s.CacheStats()
	if after.Misses-before.Misses > 1 { // never-seen misses once, then its absent entry hits
		t.Fatalf("warm Find missed: %+v → %+v", before, after)
	}
	if after.Hits-before.Hits < 29 {
		t.Fatalf("warm Find did not hit: %+v → %+v", before, after)
	}
	if (NewMemory().CacheStats() != CacheStats{}) {
		t.Fatal("memory store has cache stats")
	}
}

// wantProps is what FindWithProperties must return as the properties of a
// person found: its properties' JSON when explicit, else nil.
func wantProps(p *unionfind.Person, explicit bool) []byte {
	if !explicit {
		return nil
	}
	return p.AppendPropertiesJSON(nil)
}

// A Finder's lookups share the snapshot of its first miss: they see what
// was committed before it, not what was committed after, and what they
// read from the old snapshot is never put in the cache over the newer
// value — Store.Find and a new Finder see the commit at once.
func TestFinderSnapshot(t *testing.T) {
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) {
			s := ec.make(t)
			g := unionfind.Graph{}
			apply := func(op unionfind.Op) {
				update(t, s, func(tx Tx) error { _, err := g.Apply(tx, &op); return err })
			}
			set := func(did, v string) unionfind.Op {
				return unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: did, Timestamp: 1,
					Set: []unionfind.KV{{Key: "v", Value: json.RawMessage(v)}}}
			}
			apply(set("a", `1`))
			if s.cache != nil {
				s.cache.drop(mappingKey(nil, "1", "b"))
				s.cache.drop(mappingKey(nil, "1", "a"))
			}

			f := s.Finder()
			defer f.Close()
			p, explicit, err := f.Find("1", "a") // first miss: the snapshot opens
			must(t, err)
			if !explicit || string(p.Props[0].Value) != `1` {
				t.Fatalf("Finder missed a commit made before it: %+v %v", p, explicit)
			}
			if _, mem := s.eng.(*memEngine); mem {
				// The memory engine's snapshot is a read lock: an update
				// would wait for Close. Nothing more to show.
				return
			}
			apply(set("b", `2`)) // committed after the snapshot opened
			if s.cache != nil {
				s.cache.drop(mappingKey(nil, "1", "b")) // evicted: the Finder must read its snapshot
			}
			if _, explicit, err := f.Find("1", "b"); err != nil || explicit {
				t.Fatalf("Finder saw a commit made after its snapshot (explicit %v, err %v)", explicit, err)
			}
			if _, explicit, err := s.Find("1", "b"); err != nil || !explicit {
				t.Fatalf("after a Finder read the old value, Store.Find does not see the commit (explicit %v, err %v): a stale fill reached the cache", explicit, err)
			}
			f.Close()
			if _, explicit, err := f.Find("1", "b"); err != nil || !explicit {
				t.Fatalf("a Finder reopened after Close does not see the commit (explicit %v, err %v)", explicit, err)
			}
		})
	}
}
