package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream/oplog"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// endsAt is a lister of the input topic's end offsets that always answers
// ends.
func endsAt(ends map[int32]int64) func(context.Context) (map[int32]int64, error) {
	return func(context.Context) (map[int32]int64, error) { return maps.Clone(ends), nil }
}

// openStore opens a Badger replica in a fresh temporary directory.
func openStore(t *testing.T) *state.Store {
	t.Helper()
	st, err := state.Open(t.TempDir(), state.Options{Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

// logRecs numbers values as identity_log records of partition p from offset
// 0 on.
type logRecs struct {
	next map[int32]int64
}

func (l *logRecs) rec(p int32, v []byte) *kgo.Record {
	if l.next == nil {
		l.next = map[int32]int64{}
	}
	r := &kgo.Record{Topic: "identity_log", Partition: p, Offset: l.next[p], Value: v, Timestamp: time.Now()}
	l.next[p]++
	return r
}

func mustEncode(t *testing.T, op unionfind.Op) []byte {
	t.Helper()
	return oplog.Encode(&op)
}

// realOp is an op of input record (events_raw, part, off): did sets n.
func realOp(part int32, off int64, did string, n int) unionfind.Op {
	return unionfind.Op{Kind: unionfind.OpEvent, Source: unionfind.Source{Topic: "events_raw", Partition: part, Offset: off},
		Team: "1", DistinctID: did, Timestamp: 1_780_000_000_000 + off,
		Set: []unionfind.KV{{Key: "n", Value: json.RawMessage(fmt.Sprint(n))}}}
}

// hostileLog is identity_log as an attacker with write access would leave
// it, with real ops of input partitions 0 and 1 (each of 100 records)
// before, between and after the forged ones, spread over two log
// partitions. It returns the records and the real ops alone, in log order.
func hostileLog(t *testing.T) (recs []*kgo.Record, real []*kgo.Record, want hostileCounts) {
	var l logRecs
	huge := strings.Repeat("T", 70_000)
	realAt := func(p int32, op unionfind.Op) {
		r := l.rec(p, mustEncode(t, op))
		recs = append(recs, r)
		real = append(real, &kgo.Record{Topic: r.Topic, Partition: r.Partition, Offset: int64(len(real)), Value: r.Value})
		want.applied++
	}
	rejected := func(p int32, op unionfind.Op) {
		recs = append(recs, l.rec(p, mustEncode(t, op)))
		want.rejected++
	}
	malformed := func(p int32, v []byte) {
		recs = append(recs, l.rec(p, v))
		want.malformed++
	}
	forged := func(mut func(*unionfind.Op)) unionfind.Op {
		op := realOp(0, 50, "forger", 0)
		mut(&op)
		return op
	}

	realAt(0, realOp(0, 1, "a", 1))
	realAt(1, realOp(1, 1, "b", 1))
	// Issue 11, item 4: a source offset of MaxInt64 raised the high-water
	// mark of input partition 0, and every later real op of it was skipped.
	rejected(0, forged(func(op *unionfind.Op) { op.Source.Offset = math.MaxInt64 }))
	realAt(0, realOp(0, 2, "a", 2))
	// Issue 11, item 1: a 70 kB team became a key Badger refuses, and the
	// applier stopped every replica.
	rejected(0, forged(func(op *unionfind.Op) { op.Team = huge }))
	rejected(1, forged(func(op *unionfind.Op) { op.DistinctID = huge }))
	rejected(1, forged(func(op *unionfind.Op) { op.Merge = &unionfind.Merge{Other: "a"}; op.Team = huge }))
	realAt(0, realOp(0, 3, "c", 3))
	// Sources that are no record of the input topic.
	rejected(0, forged(func(op *unionfind.Op) { op.Source.Offset = 100 }))     // the partition's end
	rejected(0, forged(func(op *unionfind.Op) { op.Source.Offset = 1 << 40 })) // far past it
	rejected(1, forged(func(op *unionfind.Op) { op.Source.Partition = 9 }))
	rejected(1, forged(func(op *unionfind.Op) { op.Source.Partition = -1 }))
	rejected(0, forged(func(op *unionfind.Op) { op.Source.Offset = -5 }))
	rejected(0, forged(func(op *unionfind.Op) { op.Source.Topic = "elsewhere" }))
	rejected(0, forged(func(op *unionfind.Op) { op.Source.Topic = huge }))
	// Ops the graph refuses (unionfind.ErrInvalidOp).
	rejected(1, forged(func(op *unionfind.Op) { op.Kind = 0 }))
	rejected(1, forged(func(op *unionfind.Op) { op.Kind = 9 }))
	rejected(1, forged(func(op *unionfind.Op) { op.DistinctID = "" }))
	rejected(1, forged(func(op *unionfind.Op) { op.Team = "" }))
	realAt(1, realOp(1, 2, "b", 2))
	// Records that are no op at all.
	malformed(0, nil) // a Kafka tombstone
	malformed(0, []byte{})
	malformed(1, []byte{0xff, 0xfe, 0x00, 0x13})
	malformed(1, []byte("hello, applier"))
	malformed(0, []byte(`{"kind":1,"team":"1"}`))
	malformed(0, []byte(`{"v":1,`))
	malformed(1, protowire.AppendVarint(protowire.AppendTag(nil, oplog.VersionField, protowire.VarintType), 1<<40))
	// Real ops after all of it, of both input partitions and both log
	// partitions, with a merge.
	realAt(0, realOp(0, 4, "a", 4))
	realAt(1, realOp(0, 5, "d", 5))
	m := realOp(1, 3, "b", 3)
	m.Merge = &unionfind.Merge{Other: "e", Guarded: true}
	realAt(1, m)
	realAt(0, realOp(1, 99, "f", 6)) // the partition's last record
	return recs, real, want
}

type hostileCounts struct{ applied, rejected, malformed int64 }

// TestApplierRejectsWhatNoReplicaCanApply pins issue 11, items 1 and 4: a
// record every replica refuses is skipped by every replica alike — a warn
// line and a count, its offset applied past — and never stops the applier;
// real ops around it, including those of the source partition a forged
// MaxInt64 offset claimed, are applied. Replicas applying the log in
// different chunks agree with each other and with a replica that was only
// ever given the real ops.
func TestApplierRejectsWhatNoReplicaCanApply(t *testing.T) {
	recs, real, want := hostileLog(t)
	ends := endsAt(map[int32]int64{0: 100, 1: 100})
	cfg := Config{Topics: DefaultTopics()}

	whole := newApplier(cfg, openStore(t), zaptest.NewLogger(t), ends)
	require.NoError(t, whole.apply(t.Context(), recs))
	assert.Equal(t, want, hostileCounts{whole.Applied.Load(), whole.Rejected.Load(), whole.Malformed.Load()})
	assert.Zero(t, whole.Skipped.Load())
	assert.NoError(t, whole.Health())
	assert.Equal(t, map[int32]int64{0: int64(countPart(recs, 0)), 1: int64(countPart(recs, 1))}, whole.Offsets(),
		"every record's offset is applied past")

	oneByOne := newApplier(cfg, openStore(t), zaptest.NewLogger(t), ends)
	for _, r := range recs {
		require.NoError(t, oneByOne.apply(t.Context(), []*kgo.Record{r}))
	}
	clean := newApplier(cfg, openStore(t), zaptest.NewLogger(t), ends)
	require.NoError(t, clean.apply(t.Context(), real))

	fp := func(a *Applier) string {
		f, err := a.st.Fingerprint()
		require.NoError(t, err)
		return f
	}
	assert.Equal(t, fp(whole), fp(oneByOne), "replicas that applied the same log in other chunks")
	assert.Equal(t, fp(clean), fp(whole), "the replica equals one that never saw the forged records")

	for did, n := range map[string]string{"a": "4", "b": "3", "c": "3", "d": "5", "f": "6"} {
		assert.Equal(t, n, propN(t, whole.st, did), "%s", did)
	}
	var hw unionfind.Source
	require.NoError(t, whole.st.View(func(tx state.Tx) (err error) {
		hw, _, err = tx.HighWater(0, "events_raw", 0)
		return err
	}))
	assert.Equal(t, int64(4), hw.Offset, "the high-water mark of input partition 0 in log partition 0 is its last real op's")
}

// propN is the property n of did's stored person in team 1, or "absent".
func propN(t *testing.T, st *state.Store, did string) string {
	t.Helper()
	p, explicit, err := st.Find("1", did)
	require.NoError(t, err)
	if !explicit {
		return "absent"
	}
	v, _ := p.Prop("n")
	return string(v.Value)
}

func countPart(recs []*kgo.Record, p int32) int {
	n := 0
	for _, r := range recs {
		if r.Partition == p {
			n++
		}
	}
	return n
}

// applyWatch is an Observer that keeps the applier's last report.
type applyWatch struct {
	mu   sync.Mutex
	last ApplyReport
}

func (w *applyWatch) ObserveBatch(*BatchReport) {}
func (w *applyWatch) ObserveLag(LagReport)      {}
func (w *applyWatch) ObserveApply(r *ApplyReport) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = *r
	w.last.Refusals = nil
}

func (w *applyWatch) report() ApplyReport {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// TestApplierPausesAtUnknownVersion pins issue 11, item 4: an op of a
// version this binary does not know was skipped with an error line, so in a
// rolling upgrade old replicas would differ from new ones for good. Now the
// applier applies its partition up to that record and no further, says so
// (Health, the report's Paused, an error line), keeps applying the other
// partitions, and Wait fails the batches that need the partition with a
// retryable error instead of hanging.
func TestApplierPausesAtUnknownVersion(t *testing.T) {
	st := openStore(t)
	obs := &applyWatch{}
	cfg := Config{Topics: DefaultTopics(), Observer: obs}
	a := newApplier(cfg, st, zaptest.NewLogger(t), endsAt(map[int32]int64{0: 100}))
	a.pauseRetry = 50 * time.Millisecond
	v3 := protowire.AppendString(protowire.AppendTag(protowire.AppendVarint(protowire.AppendTag(nil, oplog.VersionField, protowire.VarintType), 4),
		7, protowire.BytesType), "1") // version 4, then a field 7 (team in version 2)

	var l logRecs
	recs := []*kgo.Record{
		l.rec(0, mustEncode(t, realOp(0, 1, "before", 1))),
		l.rec(1, mustEncode(t, realOp(0, 2, "other-partition", 1))),
		l.rec(0, v3), // offset 1 of log partition 0
		l.rec(0, mustEncode(t, realOp(0, 3, "after", 1))),
		l.rec(1, mustEncode(t, realOp(0, 4, "other-partition-later", 1))),
	}
	require.NoError(t, a.apply(t.Context(), recs), "a pause is not an error of apply")

	assert.Equal(t, map[int32]int64{0: 1, 1: 2}, a.Offsets(), "partition 0 stops at the record; partition 1 goes on")
	assert.Equal(t, "1", propN(t, st, "before"))
	assert.Equal(t, "absent", propN(t, st, "after"), "nothing after the record is applied")
	assert.Equal(t, "1", propN(t, st, "other-partition-later"))
	applied, err := st.AppliedOffsets()
	require.NoError(t, err)
	assert.Equal(t, int64(1), applied[0], "a restarted (upgraded) instance resumes at the record")

	h := a.Health()
	require.ErrorIs(t, h, ErrApplierPaused)
	assert.False(t, errors.Is(h, errFatal), "a pause does not stop the instance")
	for _, s := range []string{"partition 0 of identity_log at offset 1 holds op version 4", "upgrade"} {
		assert.Contains(t, h.Error(), s)
	}
	assert.True(t, obs.report().Paused)
	assert.Equal(t, int64(3), a.Applied.Load())
	assert.Zero(t, a.Malformed.Load()+a.Rejected.Load(), "the record is neither skipped nor rejected")

	// More records of the paused partition are held too.
	require.NoError(t, a.apply(t.Context(), []*kgo.Record{l.rec(0, mustEncode(t, realOp(0, 5, "later", 1)))}))
	assert.Equal(t, "absent", propN(t, st, "later"))
	assert.Equal(t, int64(1), a.Offsets()[0])

	// Wait: what was applied is there; what needs the paused partition
	// fails, retryable, after the backoff; it never hangs.
	require.NoError(t, a.Wait(t.Context(), map[int32]int64{0: 0, 1: 1}))
	start := time.Now()
	err = a.Wait(t.Context(), map[int32]int64{0: 2, 1: 0})
	require.ErrorIs(t, err, ErrApplierPaused)
	assert.True(t, isRetryable(err), "the batch is aborted and retried, the instance keeps running")
	assert.GreaterOrEqual(t, time.Since(start), a.pauseRetry, "the retry waits a while")
	// A paused partition counts as caught up at start-up once everything
	// before the record is applied: the instance starts and waits there.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.NoError(t, a.wait(ctx, map[int32]int64{0: 3, 1: 1}, true))
}

// TestApplierOpIsAllOrNothing: an op that fails half way through its writes
// leaves none of them. Here the op is a merge that moves more distinct ids
// than one transaction of a small Badger holds, so it fails after writing
// some of them; it is rejected (the bound is Badger's, the same on every
// replica), and the replica equals one that never saw it.
func TestApplierOpIsAllOrNothing(t *testing.T) {
	open := func() *state.Store {
		st, err := state.Open(t.TempDir(), state.Options{Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), MemTableBytes: 1 << 20, CacheBytes: -1})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}
	const ids = 3000
	var l logRecs
	var before []*kgo.Record
	off := int64(0)
	for i := range ids { // one person with 3000 distinct ids
		op := realOp(0, off, fmt.Sprintf("member-%04d", i), i)
		if i > 0 {
			op.Merge = &unionfind.Merge{Other: fmt.Sprintf("member-%04d", i), Guarded: false}
			op.DistinctID = "member-0000"
		}
		before = append(before, l.rec(0, mustEncode(t, op)))
		off++
	}
	// "big", explicit, absorbs all 3000 (it survives: docs/SEMANTICS.md §4;
	// unguarded, a move limit above them).
	before = append(before, l.rec(0, mustEncode(t, realOp(0, off, "big", 0))))
	off++
	big := realOp(0, off, "big", 1)
	big.Merge = &unionfind.Merge{Other: "member-0000"}
	bigRec := l.rec(0, mustEncode(t, big))
	after := l.rec(0, mustEncode(t, realOp(0, off+1, "after", 7)))

	cfg := Config{Topics: DefaultTopics(), MaxMergeMove: 1_000_000}
	ends := endsAt(map[int32]int64{0: off + 2})
	a := newApplier(cfg, open(), zaptest.NewLogger(t), ends)
	require.NoError(t, a.apply(t.Context(), append(append(append([]*kgo.Record{}, before...), bigRec), after)))
	assert.Equal(t, int64(1), a.Rejected.Load(), "the merge too big for one transaction")
	assert.Equal(t, "7", propN(t, a.st, "after"))

	clean := newApplier(cfg, open(), zaptest.NewLogger(t), ends)
	require.NoError(t, clean.apply(t.Context(), append(append([]*kgo.Record{}, before...), after)))
	fa, err := a.st.Fingerprint()
	require.NoError(t, err)
	fc, err := clean.st.Fingerprint()
	require.NoError(t, err)
	assert.Equal(t, fc, fa, "no write of the rejected op is left")
	p, explicit, err := a.st.Find("1", "member-0001")
	require.NoError(t, err)
	require.True(t, explicit)
	q, _, err := a.st.Find("1", "member-0000")
	require.NoError(t, err)
	assert.Equal(t, q.ID, p.ID, "no member moved")
}

// TestSourceEndsListedOnDemand: the input topic's end offsets are listed
// only when an op claims an offset the cache cannot vouch for, once per
// chunk; a source record written after the last listing (the input topic
// grew) is found by the next listing, so a real op is never rejected; and a
// listing that fails is retried, never taken as a rejection.
func TestSourceEndsListedOnDemand(t *testing.T) {
	var (
		mu    sync.Mutex
		end   = int64(10)
		calls int
		fail  int // listings still to fail
	)
	list := func(context.Context) (map[int32]int64, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if fail > 0 {
			fail--
			return nil, errors.New("broker unavailable")
		}
		return map[int32]int64{0: end}, nil
	}
	listings := func() int {
		mu.Lock()
		defer mu.Unlock()
		return calls
	}
	cfg := Config{Topics: DefaultTopics(), Kafka: Kafka{RetryBackoff: time.Millisecond}}
	a := newApplier(cfg, openStore(t), zaptest.NewLogger(t), list)
	var l logRecs
	op := func(off int64) *kgo.Record {
		return l.rec(0, mustEncode(t, realOp(0, off, fmt.Sprintf("d%d", off), 1)))
	}

	require.NoError(t, a.apply(t.Context(), []*kgo.Record{op(1), op(2)}))
	assert.Equal(t, 1, listings(), "the first chunk lists once")
	require.NoError(t, a.apply(t.Context(), []*kgo.Record{op(3), op(9)}))
	assert.Equal(t, 1, listings(), "offsets below the cached end need no listing")

	mu.Lock()
	end, fail = 20, 2 // the input topic grew; the broker fails twice
	mu.Unlock()
	forged := l.rec(0, mustEncode(t, realOp(0, math.MaxInt64, "forged", 1)))
	require.NoError(t, a.apply(t.Context(), []*kgo.Record{op(15), forged, op(19)}))
	assert.Equal(t, 1+3, listings(), "one listing for the chunk, after two that failed")
	assert.Equal(t, int64(6), a.Applied.Load(), "every real op, including those past the old end")
	assert.Equal(t, int64(1), a.Rejected.Load(), "only the forged one")

	// A cancelled context while the listing fails is a clean stop, not a
	// rejection.
	mu.Lock()
	fail = 1 << 30
	mu.Unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := a.apply(ctx, []*kgo.Record{op(25)})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, int64(1), a.Rejected.Load())
	assert.Equal(t, "absent", propN(t, a.st, "d25"))
}
