package stream

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/pkg/state"
)

// TestBillingViewOffsetsReachEnd pins a bug: the billing view read
// billing_usage without its transaction markers, so the offsets it stored
// stopped one short of each partition's end (every transaction ends with a
// marker) and nothing — a rebuild, a readiness check — could tell that the
// view had caught up. With the markers kept, the stored offsets equal the
// last stable offsets, and aborted deltas are still not counted.
func TestBillingViewOffsetsReachEnd(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(h.client())
	require.NoError(t, EnsureTopics(ctx, adm, h.cfg.Topics.All(), 2, -1, time.Second, h.log, h.cfg.Topics.TopicOptions()...))

	txn := h.client(kgo.TransactionalID("billing-test"), kgo.DefaultProduceTopic(h.cfg.Topics.Billing), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	delta := `{"team":"1","month":"2026-11","class":"identified","count":3}`
	for i, commit := range []bool{true, false, true, true} {
		require.NoError(t, txn.BeginTransaction())
		for p := range int32(2) {
			require.NoError(t, txn.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte(delta)}).FirstErr(), "txn %d", i)
		}
		require.NoError(t, txn.EndTransaction(ctx, kgo.TransactionEndTry(commit)), "txn %d", i)
	}

	_, err := topicPartitions(ctx, adm, h.cfg.Topics.Billing) // waits out kgo's cached metadata
	require.NoError(t, err)
	lso, err := adm.ListCommittedOffsets(ctx, h.cfg.Topics.Billing)
	require.NoError(t, err)
	want := map[int32]int64{}
	lso.Each(func(o kadm.ListedOffset) {
		require.NoError(t, o.Err, "partition %d", o.Partition)
		want[o.Partition] = o.Offset
	})
	require.Equal(t, map[int32]int64{0: 8, 1: 8}, want, "4 transactions of one record and one marker per partition")

	st, err := state.Open(t.TempDir(), state.Options{Logger: h.log})
	require.NoError(t, err)
	defer st.Close()
	v, err := NewBillingView(ctx, h.cfg, st, adm, h.log)
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- v.Run(runCtx) }()
	defer func() { stop(); require.NoError(t, <-done) }()

	var got map[int32]int64
	wait(t, 30*time.Second, "billing offsets at the last stable offsets", func() bool {
		got, err = st.BillingOffsets()
		require.NoError(t, err)
		return maps.Equal(got, want)
	})
	var n int64
	require.NoError(t, st.BillingTotals(func(_, _, _ string, c int64) error { n += c; return nil }))
	require.Equal(t, int64(3*3*2), n, "three committed transactions of 3 events on 2 partitions")
}
