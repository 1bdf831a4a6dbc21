package stream

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream/oplog"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// twoLogPartitionApplier is an applier of identity_log partitions 0 and 1
// over a fresh Badger store, closed at the test's end.
func twoLogPartitionApplier(t *testing.T) (*state.Store, *Applier) {
	t.Helper()
	st, err := state.Open(t.TempDir(), state.Options{Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, newApplier(Config{Topics: DefaultTopics()}, st, zaptest.NewLogger(t), endsAt(map[int32]int64{0: 100, 1: 100}))
}

// An op re-logged after a crash is applied once: within one chunk, across
// chunks, and per (log partition, source partition) — the high-water marks
// the applier keeps for a chunk reach the replica with the chunk.
func TestApplierSkipsDuplicateSources(t *testing.T) {
	st, a := twoLogPartitionApplier(t)

	var next = map[int32]int64{}
	rec := func(logPart, srcPart int32, srcOff int64, did string, n int) *kgo.Record {
		op := unionfind.Op{Kind: unionfind.OpEvent, Source: unionfind.Source{Topic: "events_raw", Partition: srcPart, Offset: srcOff},
			Team: "1", DistinctID: did, Timestamp: 1, Set: []unionfind.KV{{Key: "n", Value: json.RawMessage(strconv.Itoa(n))}}}
		b := oplog.Encode(&op)
		r := &kgo.Record{Topic: "identity_log", Partition: logPart, Offset: next[logPart], Value: b}
		next[logPart]++
		return r
	}
	// One chunk: source partition 0 offsets 5, 5 (again), 4 (older), 6;
	// source partition 1 offset 5 (its own mark); log partition 1 with
	// source partition 0 offset 5 (a mark per log partition).
	chunk := []*kgo.Record{
		rec(0, 0, 5, "a", 1),
		rec(0, 0, 5, "a", 2), // duplicate: skipped, n stays 1
		rec(0, 0, 4, "b", 3), // older: skipped
		rec(0, 0, 6, "c", 4),
		rec(0, 1, 5, "d", 5),
		rec(1, 0, 5, "e", 6),
	}
	if err := a.apply(t.Context(), chunk); err != nil {
		t.Fatal(err)
	}
	if got, want := [2]int64{a.Applied.Load(), a.Skipped.Load()}, [2]int64{4, 2}; got != want {
		t.Fatalf("applied, skipped = %v, want %v", got, want)
	}
	// The next chunk repeats the whole batch: everything is skipped.
	again := []*kgo.Record{rec(0, 0, 5, "a", 7), rec(0, 0, 6, "c", 8), rec(0, 1, 5, "d", 9), rec(1, 0, 5, "e", 10), rec(0, 0, 7, "f", 11)}
	if err := a.apply(t.Context(), again); err != nil {
		t.Fatal(err)
	}
	if got, want := [2]int64{a.Applied.Load(), a.Skipped.Load()}, [2]int64{5, 6}; got != want {
		t.Fatalf("after the repeat: applied, skipped = %v, want %v", got, want)
	}
	prop := func(did string) string {
		p, explicit, err := st.Find("1", did)
		if err != nil || !explicit {
			return "absent"
		}
		v, _ := p.Prop("n")
		return string(v.Value)
	}
	for did, want := range map[string]string{"a": "1", "b": "absent", "c": "4", "d": "5", "e": "6", "f": "11"} {
		if got := prop(did); got != want {
			t.Errorf("%s: n = %s, want %s", did, got, want)
		}
	}
	for _, c := range []struct {
		log, part int32
		want      int64
	}{{0, 0, 7}, {0, 1, 5}, {1, 0, 5}} {
		var hw unionfind.Source
		err := st.View(func(tx state.Tx) (err error) {
			hw, _, err = tx.HighWater(c.log, "events_raw", c.part)
			return err
		})
		if err != nil || hw.Offset != c.want {
			t.Errorf("high water of log %d, source partition %d: %+v (err %v), want offset %d", c.log, c.part, hw, err, c.want)
		}
	}
}

// One source partition's events belong to several teams, whose ops log to
// different identity_log partitions: the applier gets the partition's
// sources interleaved. Their outbox results still go into one row per
// transaction, and a worker's span reads every source in it — also one
// whose row ends past the span (a smaller batch after a crashed owner's).
func TestApplierOutboxAcrossLogPartitions(t *testing.T) {
	st, a := twoLogPartitionApplier(t)
	next := map[int32]int64{}
	rec := func(logPart int32, team string, srcOff int64) *kgo.Record {
		op := unionfind.Op{Kind: unionfind.OpEvent, Source: unionfind.Source{Topic: "events_raw", Partition: 0, Offset: srcOff},
			Team: team, DistinctID: "id-" + strconv.FormatInt(srcOff, 10), Timestamp: 1, Set: []unionfind.KV{{Key: "n", Value: json.RawMessage("1")}}}
		r := &kgo.Record{Topic: "identity_log", Partition: logPart, Offset: next[logPart], Value: oplog.Encode(&op)}
		next[logPart]++
		return r
	}
	outboxRows := func() int64 {
		kinds, err := st.RowStats()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range kinds {
			if k.Tag == "x/" {
				return k.Rows
			}
		}
		return 0
	}
	// One transaction: team 1's ops (log 0) and team 2's (log 1), each in
	// source order, interleaved between them: one outbox row.
	if err := a.apply(t.Context(), []*kgo.Record{rec(0, "1", 10), rec(0, "1", 50), rec(1, "2", 20), rec(1, "2", 60)}); err != nil {
		t.Fatal(err)
	}
	if n := outboxRows(); n != 1 {
		t.Fatalf("%d outbox rows for one transaction's sources of one partition, want 1", n)
	}
	// Two more transactions whose rows interleave: 150 and 120 (then 90).
	if err := a.apply(t.Context(), []*kgo.Record{rec(0, "1", 70), rec(0, "1", 150)}); err != nil {
		t.Fatal(err)
	}
	if err := a.apply(t.Context(), []*kgo.Record{rec(1, "2", 80), rec(1, "2", 120)}); err != nil {
		t.Fatal(err)
	}
	var got []int64
	err := st.OutboxSpans("events_raw", []state.OutboxSpan{{Partition: 0, From: 15, To: 100}}, func(src unionfind.Source, _ unionfind.Result) error {
		got = append(got, src.Offset)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{20, 50, 60, 70, 80}; !slices.Equal(got, want) {
		t.Fatalf("span 15..100 read %v, want %v", got, want)
	}
}
