package state

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// BenchmarkDeferredSort sorts the rows one spill of the deferred index
// holds (deferredIndex.sortRows): lineage index keys of one team, in the
// order a replay makes them (log position rising, ids and persons random).
//
//	go test -run XXX -bench DeferredSort -count 6 ./pkg/state/
func BenchmarkDeferredSort(b *testing.B) {
	const n = 1 << 20
	r := rand.New(rand.NewPCG(1, 2))
	var d deferredIndex
	rows := make([]deferredRow, 0, n)
	for i := range n {
		p := lpos{part: 3, off: int64(i / 3), index: uint32(i % 3)}
		var k []byte
		if i%3 == 0 {
			var id unionfind.PersonID
			for j := range id {
				id[j] = byte(r.Uint32())
			}
			k = histPersonPrefix(nil, "team-1", id)
		} else {
			k = histIDPrefix(nil, "team-1", histMoved, uuid.Must(uuid.NewRandomFromReader(rngReader{r})).String())
		}
		rows = append(rows, deferredRow{appendPos(k, p), make([]byte, histValueLen)})
	}
	d.add(rows)
	unsorted := slices.Clone(d.rows)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		copy(d.rows, unsorted)
		b.StartTimer()
		d.sortRows()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/row")
}

type rngReader struct{ r *rand.Rand }

func (g rngReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(g.r.Uint32())
	}
	return len(p), nil
}
