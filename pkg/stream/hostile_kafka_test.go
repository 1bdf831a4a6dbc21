package stream

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream/oplog"
)

// topicsUp creates the harness's topics and waits for their metadata.
func (h *harness) topicsUp(ctx context.Context) *kadm.Client {
	h.t.Helper()
	adm := kadm.NewClient(h.client())
	require.NoError(h.t, EnsureTopics(ctx, adm, h.cfg.Topics.All(), h.cfg.TopicPartitions, -1, time.Second, h.log, h.cfg.Topics.TopicOptions()...))
	for _, topic := range []string{h.cfg.Topics.IdentityLog, h.cfg.Topics.Billing, h.cfg.Topics.Raw} {
		_, err := topicPartitions(ctx, adm, topic)
		require.NoError(h.t, err)
	}
	return adm
}

// fillRaw writes n records (not events: they are never consumed here, or
// are dead letters) to partition p of the input topic, so that ops may
// name them as their sources.
func (h *harness) fillRaw(ctx context.Context, p int32, n int) {
	h.t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: h.cfg.Topics.Raw, Partition: p, Value: []byte("filler")}
	}
	require.NoError(h.t, h.client(kgo.RecordPartitioner(kgo.ManualPartitioner())).ProduceSync(ctx, recs...).FirstErr())
}

// produceTo writes recs to topic as they are — partition, value, a nil
// value as a Kafka tombstone.
func (h *harness) produceTo(ctx context.Context, topic string, recs []*kgo.Record) {
	h.t.Helper()
	out := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		out[i] = &kgo.Record{Topic: topic, Partition: r.Partition, Key: r.Key, Value: r.Value}
	}
	require.NoError(h.t, h.client(kgo.RecordPartitioner(kgo.ManualPartitioner())).ProduceSync(ctx, out...).FirstErr())
}

// TestForgedIdentityLogTwoReplicas is issue 11's items 1 and 4 against a
// real broker: identity_log holds forged records produced straight to the
// topic — an op with a 70 kB team, a source offset of MaxInt64 followed by
// real ops of that source partition, garbage, a Kafka tombstone, sources
// that are no record of the input topic — and, at the end of one
// partition, an op of an unknown version followed by a real op. Two
// replicas apply it: neither stops, both apply every real op before the
// unknown version and none after it, both pause there (Health), and their
// fingerprints are equal.
func TestForgedIdentityLogTwoReplicas(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	h.topicsUp(ctx)
	h.fillRaw(ctx, 0, 100)
	h.fillRaw(ctx, 1, 100)

	recs, _, want := hostileLog(t)
	var l logRecs
	for _, r := range recs {
		l.rec(r.Partition, nil)
	}
	v3 := protowire.AppendVarint(protowire.AppendTag(nil, oplog.VersionField, protowire.VarintType), 4)
	pausedAt := l.next[1]
	recs = append(recs, l.rec(1, v3), l.rec(1, mustEncode(t, realOp(0, 60, "held", 1))))
	h.produceTo(ctx, h.cfg.Topics.IdentityLog, recs)

	type replica struct {
		a    *Applier
		done chan error
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var reps []replica
	for range 2 {
		st := openStore(t)
		a, err := NewApplier(ctx, h.cfg, st, h.log)
		require.NoError(t, err)
		a.pauseLog = 200 * time.Millisecond
		r := replica{a, make(chan error, 1)}
		go func() { r.done <- a.Run(runCtx) }()
		reps = append(reps, r)
	}
	for i, r := range reps {
		wait(t, 30*time.Second, fmt.Sprintf("replica %d applies the log up to the unknown version", i), func() bool {
			o := r.a.Offsets()
			return o[0] == l.next[0] && o[1] == pausedAt
		})
		require.ErrorIs(t, r.a.Health(), ErrApplierPaused, "replica %d", i)
		assert.Equal(t, want, hostileCounts{r.a.Applied.Load(), r.a.Rejected.Load(), r.a.Malformed.Load()}, "replica %d", i)
		assert.Equal(t, "6", propN(t, r.a.st, "f"), "replica %d: the last real op before the pause", i)
		assert.Equal(t, "4", propN(t, r.a.st, "a"), "replica %d: real ops of the partition a MaxInt64 source claimed", i)
		assert.Equal(t, "absent", propN(t, r.a.st, "held"), "replica %d: an op after the pause", i)
		select {
		case err := <-r.done:
			t.Fatalf("replica %d stopped: %v", i, err)
		default:
		}
	}
	f0, err := reps[0].a.st.Fingerprint()
	require.NoError(t, err)
	f1, err := reps[1].a.st.Fingerprint()
	require.NoError(t, err)
	assert.Equal(t, f0, f1, "two replicas of the same forged log")

	stop()
	for _, r := range reps {
		require.NoError(t, <-r.done, "a shutdown is no error")
		require.ErrorIs(t, r.a.Health(), ErrApplierStopped, "after Run returned")
	}

	// A rebuild by this binary cannot get past the unknown version: it
	// says so instead of waiting forever, and keeps what it applied.
	st := openStore(t)
	_, err = Rebuild(ctx, h.cfg, st, h.log, nil)
	require.ErrorIs(t, err, ErrApplierPaused)
	fr, err := st.Fingerprint()
	require.NoError(t, err)
	assert.Equal(t, f0, fr, "the rebuilt replica up to the pause")
}

// billingOf reads a replica's billing totals as "team/month/class" → n.
func billingTotals(t *testing.T, st *state.Store) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	require.NoError(t, st.BillingTotals(func(team, month, class string, n int64) error {
		out[team+"/"+month+"/"+class] = n
		return nil
	}))
	return out
}

// billingWatch is an Observer that sums the billing view's reports.
type billingWatch struct {
	applyWatch
	sum BillingReport
}

func (w *billingWatch) ObserveBilling(r *BillingReport) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sum.Folded += r.Folded
	w.sum.Malformed += r.Malformed
	w.sum.Rejected += r.Rejected
}

func (w *billingWatch) report() BillingReport {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sum
}

// TestBillingViewSkipsForgedDeltas pins issue 11, item 5: two forged
// billing_usage deltas of MaxInt64 overflowed a total (and /v1/billing
// answered 500 for every team). Forged records — MaxInt64 twice, a negative
// count, bad months, a 70 kB team, a control character, garbage, a Kafka
// tombstone — are each skipped with a count, the real deltas around them
// are folded with exact totals, and the view keeps running. A local
// failure (the store closed under it) then stops it with the cause, which
// Health reports.
func TestBillingViewSkipsForgedDeltas(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	adm := h.topicsUp(ctx)

	delta := func(p int32, team, month, class string, n int64) *kgo.Record {
		return &kgo.Record{Partition: p, Value: fmt.Appendf(nil, `{"team":%q,"month":%q,"class":%q,"count":%d}`, team, month, class, n)}
	}
	recs := []*kgo.Record{
		delta(0, "1", "2026-11", "identified", 5),
		delta(0, "1", "2026-11", "identified", math.MaxInt64),
		delta(1, "1", "2026-11", "identified", math.MaxInt64),
		delta(0, "1", "2026-11", "anonymous", -3),
		delta(1, "1", "0001-01", "anonymous", 1),
		delta(1, "1", "2026-13", "anonymous", 1),
		delta(0, strings.Repeat("T", 70_000), "2026-11", "anonymous", 1),
		delta(0, "1\nforged", "2026-11", "anonymous", 1),
		delta(1, "1", "2026-11", "vip", 1),
		delta(0, "2", "2026-11", "anonymous", 0),
		{Partition: 1, Value: nil},                 // a Kafka tombstone
		{Partition: 0, Value: []byte("\xff\x00{")}, // garbage
		{Partition: 1, Value: []byte(`[]`)},
		delta(1, "1", "2026-11", "identified", 7),
		delta(0, "2", "2026-11", "anonymous", billing.MaxDeltaCount),
		delta(1, "2", "2026-11", "anonymous", 1),
	}
	h.produceTo(ctx, h.cfg.Topics.Billing, recs)

	st := openStore(t)
	obs := &billingWatch{}
	cfg := h.cfg
	cfg.Observer = obs
	v, err := NewBillingView(ctx, cfg, st, adm, h.log)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx) }()
	require.NoError(t, v.CatchUp(ctx, adm))

	assert.Equal(t, map[string]int64{
		"1/2026-11/identified": 12,
		"2/2026-11/anonymous":  billing.MaxDeltaCount + 1,
	}, billingTotals(t, st))
	assert.Equal(t, BillingReport{Folded: 4, Malformed: 3, Rejected: 9}, obs.report())
	assert.NoError(t, v.Health())

	// A local failure: the store is closed under the running view.
	require.NoError(t, st.Close())
	h.produceTo(ctx, h.cfg.Topics.Billing, []*kgo.Record{delta(0, "1", "2026-11", "identified", 1)})
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrBillingViewStopped)
		require.ErrorIs(t, err, state.ErrClosed, "the cause is in the error")
		assert.Contains(t, err.Error(), "local to this instance")
		assert.Equal(t, err, v.Health())
	case <-time.After(30 * time.Second):
		t.Fatal("the billing view went on over a closed store")
	}
}

// TestPipelineStopsWithTheCause pins issue 11, item 1's "the real cause not
// logged": a local failure of the applier or the billing view (here their
// store is closed under them) stops the instance, and Pipeline.Run returns
// the component's own error — the cause, not just "applier stopped".
func TestPipelineStopsWithTheCause(t *testing.T) {
	for _, c := range []struct {
		name  string
		topic func(Topics) string
		want  error
	}{
		{"applier", func(t Topics) string { return t.IdentityLog }, ErrApplierStopped},
		{"billing view", func(t Topics) string { return t.Billing }, ErrBillingViewStopped},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
			defer cancel()
			in := h.start(t.TempDir())
			defer in.cancel()
			require.NoError(t, in.st.Close())
			h.produceTo(ctx, c.topic(h.cfg.Topics), []*kgo.Record{{Value: []byte("not an op, not a delta")}})
			select {
			case err := <-in.done:
				require.ErrorIs(t, err, c.want)
				require.ErrorIs(t, err, state.ErrClosed, "the cause")
				assert.True(t, errors.Is(err, errFatal))
				assert.Contains(t, err.Error(), "local to this instance")
			case <-time.After(60 * time.Second):
				t.Fatal("the instance went on without its " + c.name)
			}
		})
	}
}
