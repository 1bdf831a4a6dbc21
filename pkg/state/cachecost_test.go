package state

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// heapHeld runs fill on a new cache of capacity bytes and returns the Go
// heap the cache holds afterwards, and the cache.
func heapHeld(capacity int64, fill func(c *cache)) (int64, *cache) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := newCache(capacity)
	fill(c)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(c)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc), c
}

func fillMappings(c *cache, from, n int) {
	for i := from; i < from+n; i++ {
		m := unionfind.Mapping{PersonID: unionfind.ImplicitPersonID("1", fmt.Sprint("p", i)), Version: 1}
		c.fillMapping(mappingKey(nil, "1", fmt.Sprint("id-", i)), m, true, unionfind.PersonID{}, false, 0, false)
	}
}

// fillPersons caches n persons as Find does: decoded from their stored
// values (decodePersonRecord), each with props properties of about
// valueLen bytes and a founder.
func fillPersons(c *cache, from, n, props, valueLen int) {
	for i := from; i < from+n; i++ {
		p := unionfind.Person{ID: unionfind.ImplicitPersonID("1", fmt.Sprint("p", i)), Size: 2, Version: 3, CreatedAt: 1}
		for j := range props {
			v := fmt.Sprintf(`"value-%d-%d-%s"`, i, j, strings.Repeat("v", valueLen))
			p.Props = append(p.Props, unionfind.Property{Key: fmt.Sprintf("key%02d", j), Value: json.RawMessage(v), Time: 1})
		}
		stored := encodePersonValue(&p, founderMeta(fmt.Sprint("founder-", i)))
		got, founder, err := decodeFounder(p.ID, stored)
		if err != nil {
			panic(err)
		}
		c.fillPerson(personKey(nil, "1", p.ID), got, founderMeta(founder), true, 0, false)
	}
}

// TestCacheCountsItsMemory: the bytes the cache counts against its bound
// (state.cache_bytes) are the Go heap it holds, within 20%, for mapping
// entries and for persons with and without properties, at sizes where the
// index map sits anywhere between two growths.
func TestCacheCountsItsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("fills caches of up to 300k entries")
	}
	sizes := []int{100_000, 170_000, 300_000}
	if raceEnabled { // the same figures (the race detector's memory is not Go heap), 3x slower
		sizes = sizes[:1]
	}
	for _, n := range sizes {
		for _, tc := range []struct {
			name string
			fill func(c *cache)
		}{
			{"mappings", func(c *cache) { fillMappings(c, 0, n) }},
			{"persons", func(c *cache) { fillPersons(c, 0, n, 0, 0) }},
			{"persons with 3 properties", func(c *cache) { fillPersons(c, 0, n, 3, 8) }},
			{"persons with 20 properties", func(c *cache) { fillPersons(c, 0, n/4, 20, 30) }},
		} {
			heap, c := heapHeld(1<<40, tc.fill)
			st := c.stats()
			heapPer, counted := float64(heap)/float64(st.Entries), float64(st.Bytes)/float64(st.Entries)
			t.Logf("%d %s: heap %.0f B per entry, counted %.0f", n, tc.name, heapPer, counted)
			if r := counted / heapPer; r < 0.8 || r > 1.2 {
				t.Errorf("%d %s: the cache counts %.0f bytes per entry, the heap holds %.0f (ratio %.2f)", n, tc.name, counted, heapPer, r)
			}
		}
	}
}

// TestCacheHeapStaysBounded: a full cache of small entries (mappings)
// that then fills with large ones (persons with a 2 KB property) evicts
// most of its slots; the slots and map entries they leave must not stay
// allocated on top of the bound.
func TestCacheHeapStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a 16 MiB cache twice over")
	}
	const capacity = 16 << 20
	perMapping := mappingOverhead
	heap, c := heapHeld(capacity, func(c *cache) {
		fillMappings(c, 0, 2*capacity/perMapping)
		fillPersons(c, 0, 2*capacity/2500, 1, 2000)
	})
	st := c.stats()
	t.Logf("capacity %d: counted %d, heap %d (%.2f×), %d entries", capacity, st.Bytes, heap, float64(heap)/capacity, st.Entries)
	if st.Bytes > capacity {
		t.Fatalf("counted %d bytes over the capacity %d", st.Bytes, capacity)
	}
	if heap > capacity*5/4 {
		t.Errorf("a %d-byte cache holds %d bytes of heap (%.2f×)", capacity, heap, float64(heap)/capacity)
	}
}

// checkShards checks each shard's bookkeeping: the index points at used
// slots holding its hash, free slots are unused, and the bytes are the sum
// of the entries' costs.
func checkShards(t *testing.T, c *cache) {
	t.Helper()
	for si := range c.shards {
		sh := &c.shards[si]
		sh.mu.Lock()
		used, bytes := 0, int64(0)
		for i := range sh.slots {
			if e := &sh.slots[i]; e.used {
				used++
				bytes += int64(e.cost)
				if j, ok := sh.idx[e.hash]; !ok || j != int32(i) {
					t.Errorf("shard %d: slot %d is not indexed (%d %v)", si, i, j, ok)
				}
			}
		}
		for _, i := range sh.free {
			if sh.slots[i].used {
				t.Errorf("shard %d: free slot %d in use", si, i)
			}
		}
		if used != len(sh.idx) || used+len(sh.free) != len(sh.slots) || bytes != sh.bytes {
			t.Errorf("shard %d: %d used, %d indexed, %d free of %d slots; %d bytes counted, %d held", si, used, len(sh.idx), len(sh.free), len(sh.slots), sh.bytes, bytes)
		}
		sh.mu.Unlock()
	}
}

// TestCacheCompactKeepsEntries: compaction (a cache of mappings refilled
// with persons) keeps every entry it keeps right, findable and counted.
func TestCacheCompactKeepsEntries(t *testing.T) {
	c := newCache(4 << 20)
	const mappings, persons = 60_000, 3_000
	fillMappings(c, 0, mappings)
	checkShards(t, c)
	fillPersons(c, 0, persons, 1, 2000)
	checkShards(t, c)
	compacted := 0
	for i := range c.shards { // what is left free since the last put's compaction
		sh := &c.shards[i]
		sh.mu.Lock()
		if n := len(sh.slots); n >= minCompactSlots/2 {
			if len(sh.free) >= n/4 {
				compacted++
			}
			sh.slots = append(sh.slots, make([]centry, minCompactSlots)...) // enough slots, all free
			for j := n; j < len(sh.slots); j++ {
				sh.free = append(sh.free, int32(j))
			}
			sh.compact()
		}
		sh.mu.Unlock()
	}
	if compacted == 0 {
		t.Fatal("no shard had slots to compact")
	}
	checkShards(t, c)
	hits := 0
	for i := range mappings {
		h, hit := c.getMapping(mappingKey(nil, "1", fmt.Sprint("id-", i)))
		if hit && h.m.PersonID != unionfind.ImplicitPersonID("1", fmt.Sprint("p", i)) {
			t.Fatalf("mapping %d: %+v", i, h)
		}
	}
	for i := range persons {
		id := unionfind.ImplicitPersonID("1", fmt.Sprint("p", i))
		p, meta, ok, hit := c.getPersonRecord(personKey(nil, "1", id))
		if !hit {
			continue
		}
		hits++
		if !ok || p.ID != id || meta.founder != fmt.Sprint("founder-", i) || len(p.Props) != 1 {
			t.Fatalf("person %d: %+v %q %v", i, p, meta.founder, ok)
		}
	}
	if st := c.stats(); hits < st.Entries/2 || st.Bytes > st.Capacity {
		t.Fatalf("%d persons found; %+v", hits, st)
	}
	// Refilled with mappings, the cache keeps working.
	fillMappings(c, mappings, mappings)
	checkShards(t, c)
}
