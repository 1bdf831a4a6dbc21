package state

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// heapPerEntry fills a cache of capacity bytes with n entries made by put
// and returns the Go heap it holds per entry, and the bytes it counted per
// entry.
func heapPerEntry(t *testing.T, n int, put func(c *cache, i int)) (heap, counted float64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := newCache(1 << 40)
	for i := range n {
		put(c, i)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := c.stats()
	runtime.KeepAlive(c)
	if st.Entries != n {
		t.Fatalf("cache holds %d entries, want %d", st.Entries, n)
	}
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n), float64(st.Bytes) / float64(n)
}

// TestCacheCountsItsMemory: the bytes the cache counts against its bound
// (state.cache_bytes) are the Go heap it holds, within 20%, for mapping
// entries and for persons with and without properties, at sizes where the
// index map sits anywhere between two growths.
func TestCacheCountsItsMemory(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("measures the heap; the race detector's shadow memory distorts it")
	}
	mapping := func(c *cache, i int) {
		m := unionfind.Mapping{PersonID: unionfind.ImplicitPersonID("1", fmt.Sprint("p", i)), Version: 1}
		c.fillMapping(mappingKey(nil, "1", fmt.Sprint("id-", i)), m, true, unionfind.PersonID{}, false, 0, false)
	}
	person := func(props int) func(c *cache, i int) {
		return func(c *cache, i int) {
			p := unionfind.Person{ID: unionfind.ImplicitPersonID("1", fmt.Sprint("p", i)), Size: 2, Version: 3, CreatedAt: 1}
			for j := range props {
				p.Props = append(p.Props, unionfind.Property{Key: fmt.Sprint("key", j), Value: json.RawMessage(fmt.Sprintf(`"value-%d-%d"`, i, j)), Time: 1})
			}
			c.fillPerson(personKey(nil, "1", p.ID), p, fmt.Sprint("founder-", i), true, 0, false)
		}
	}
	for _, n := range []int{100_000, 170_000, 300_000} {
		for _, tc := range []struct {
			name string
			put  func(c *cache, i int)
		}{
			{"mappings", mapping},
			{"persons", person(0)},
			{"persons with 3 properties", person(3)},
		} {
			heap, counted := heapPerEntry(t, n, tc.put)
			t.Logf("%d %s: heap %.0f B per entry, counted %.0f", n, tc.name, heap, counted)
			if r := counted / heap; r < 0.8 || r > 1.2 {
				t.Errorf("%d %s: the cache counts %.0f bytes per entry, the heap holds %.0f (ratio %.2f)", n, tc.name, counted, heap, r)
			}
		}
	}
}
