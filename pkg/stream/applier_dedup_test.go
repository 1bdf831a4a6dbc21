package stream

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream/oplog"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// An op re-logged after a crash is applied once: within one chunk, across
// chunks, and per (log partition, source partition) — the high-water marks
// the applier keeps for a chunk reach the replica with the chunk.
func TestApplierSkipsDuplicateSources(t *testing.T) {
	st, err := state.Open(t.TempDir(), state.Options{Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := newApplier(Config{Topics: DefaultTopics()}, st, zaptest.NewLogger(t), endsAt(map[int32]int64{0: 100, 1: 100}))

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
