package stream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream/oplog"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// mergeWorkload is n identity_log records of one partition: logins that
// make persons (user-i absorbs anon-i), and every third op an alias that
// merges two of those persons, which relabels the absorbed person's
// members (a scan of its m/ keys).
func mergeWorkload(tb testing.TB, n int) []*kgo.Record { return workload(tb, n, 3) }

// workload is mergeWorkload with an alias every aliasEvery-th op; 0: none
// (logins only: no scan).
func workload(tb testing.TB, n, aliasEvery int) []*kgo.Record {
	tb.Helper()
	base := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC).UnixMilli()
	recs := make([]*kgo.Record, 0, n)
	for i := range n {
		op := unionfind.Op{Kind: unionfind.OpEvent, Source: unionfind.Source{Topic: DefaultTopics().Raw, Partition: 0, Offset: int64(i)},
			Team: "1", EventUUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Timestamp: base + int64(i)}
		if aliasEvery > 0 && i%aliasEvery == aliasEvery-1 {
			op.DistinctID, op.Merge = fmt.Sprintf("user-%d", i-1), &unionfind.Merge{Other: fmt.Sprintf("user-%d", i-2)}
		} else {
			op.DistinctID, op.Merge = fmt.Sprintf("user-%d", i), &unionfind.Merge{Other: fmt.Sprintf("anon-%d", i), Guarded: true}
		}
		b := oplog.Encode(&op)
		recs = append(recs, &kgo.Record{Partition: 0, Offset: int64(i), Value: b})
	}
	return recs
}

// BenchmarkApplyChunk applies the same 8,192 identity_log records in
// chunks of a given size (one Badger transaction each), as the applier
// does with what one poll returns: ~tens of records when it keeps up, up
// to applierBatch when it is catching up.
func BenchmarkApplyChunk(b *testing.B) {
	const n = 8192
	for _, w := range []struct {
		name string
		recs []*kgo.Record
	}{{"logins", workload(b, n, 0)}, {"logins+aliases", mergeWorkload(b, n)}} {
		for _, chunk := range []int{64, 128, 256, 512, 4096} {
			benchApply(b, w.name, w.recs, chunk)
		}
	}
}

func benchApply(b *testing.B, name string, recs []*kgo.Record, chunk int) {
	n := len(recs)
	{
		b.Run(fmt.Sprintf("%s/chunk=%d", name, chunk), func(b *testing.B) {
			b.ReportAllocs()
			var rows, bytes, outbox, lineage int64 // of the last store: deterministic
			for b.Loop() {
				b.StopTimer()
				st, err := state.Open(b.TempDir(), state.Options{})
				if err != nil {
					b.Fatal(err)
				}
				a := newApplier(Config{Topics: DefaultTopics()}, st, zap.NewNop(), endsAt(map[int32]int64{0: int64(n)}))
				b.StartTimer()
				for i := 0; i < n; i += chunk {
					a.batch = chunk
					if err := a.apply(context.Background(), recs[i:min(i+chunk, n)]); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				var kinds map[string]state.RowKind
				rows, bytes, kinds = rowTotals(b, st)
				outbox = kinds["x/"].Rows
				lineage = kinds["l/"].KeyBytes + kinds["l/"].ValueBytes + kinds["h/"].KeyBytes + kinds["h/"].ValueBytes
				st.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/op-applied")
			// The rows the store holds per op (nothing is trimmed here), and
			// those of the outbox (x/): one per op before batches.
			b.ReportMetric(float64(rows)/float64(n), "rows/op")
			b.ReportMetric(float64(outbox)/float64(n), "outbox-rows/op")
			// Their key and value bytes, and those of lineage (l/ and h/).
			b.ReportMetric(float64(bytes)/float64(n), "row-B/op")
			b.ReportMetric(float64(lineage)/float64(n), "lineage-B/op")
		})
	}
}

// rowTotals returns the rows a store holds (state.Store.RowStats), their
// key and value bytes, and the rows and bytes per key tag.
func rowTotals(tb testing.TB, st *state.Store) (rows, bytes int64, byTag map[string]state.RowKind) {
	tb.Helper()
	kinds, err := st.RowStats()
	if err != nil {
		tb.Fatal(err)
	}
	byTag = map[string]state.RowKind{}
	for _, k := range kinds {
		rows += k.Rows
		bytes += k.KeyBytes + k.ValueBytes
		byTag[k.Tag] = k
	}
	return rows, bytes, byTag
}
