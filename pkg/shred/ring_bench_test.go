package shred

import (
	"strconv"
	"testing"
)

// BenchmarkRingGet is the applier's lookup of a sealed op's key, in a ring
// holding 100,000 keys.
func BenchmarkRingGet(b *testing.B) {
	r := testRing(nil)
	for i := range 100_000 {
		r.set(string(appendGenKey(nil, "phc_abc", "user:"+strconv.Itoa(i), 0)), kidEntry{kid: uint64(i + 1), key: Key{byte(i)}})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i = (i + 7919) % 100_000
		if _, st := r.Get("phc_abc", "user:"+strconv.Itoa(i), 0, uint64(i+1)); st != Present {
			b.Fatal(st)
		}
	}
}
