package stream

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream/oplog"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TestTruncatedLogRefused pins a bug of issue 4: the applier consumed
// identity_log from the replica's next offset to apply, and when retention
// (here DeleteRecords) had deleted the log past it, the client silently
// started over at the log start, so `resolver run` went on with the deleted
// records' identity state missing. Now a replica the log has left behind is
// refused by NewApplier, Pipeline.Run and Rebuild alike, naming each
// partition with its next offset to apply and its log start offset, and
// nothing is written to it; a replica that has applied past the deleted
// records starts as before.
func TestTruncatedLogRefused(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	adm := kadm.NewClient(h.client())
	require.NoError(t, EnsureTopics(ctx, adm, h.cfg.Topics.All(), h.cfg.TopicPartitions, -1, time.Second, h.log, h.cfg.Topics.TopicOptions()...))

	// Ten ops on each of partitions 0 and 1, of records of the input
	// topic (the applier rejects ops of sources that do not exist).
	h.fillRaw(ctx, 0, 10)
	h.fillRaw(ctx, 1, 10)
	var recs []*kgo.Record
	for p := range int32(2) {
		for i := range 10 {
			op := unionfind.Op{Kind: unionfind.OpEvent, Team: "1", EventUUID: uuid.NewString(),
				Source:     unionfind.Source{Topic: h.cfg.Topics.Raw, Partition: p, Offset: int64(i)},
				DistinctID: fmt.Sprintf("user-%d-%d", p, i), Timestamp: 1_780_000_000_000 + int64(i)}
			b := oplog.Encode(&op)
			recs = append(recs, &kgo.Record{Topic: h.cfg.Topics.IdentityLog, Partition: p, Value: b})
		}
	}
	require.NoError(t, h.client(kgo.RecordPartitioner(kgo.ManualPartitioner())).ProduceSync(ctx, recs...).FirstErr())
	_, err := topicPartitions(ctx, adm, h.cfg.Topics.IdentityLog)
	require.NoError(t, err)

	replica := func(applied map[int32]int64) *state.Store {
		st, err := state.Open(t.TempDir(), state.Options{Logger: h.log})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		require.NoError(t, st.Update(func(tx state.Tx) error {
			for p, o := range applied {
				if err := tx.SetApplied(p, o); err != nil {
					return err
				}
			}
			return nil
		}))
		return st
	}
	stale := replica(map[int32]int64{0: 3})       // partition 1 never applied
	ahead := replica(map[int32]int64{0: 8, 1: 2}) // past the deleted records

	// Retention deletes offsets 0–5 of partition 0 and 0–1 of partition 1.
	del := kadm.Offsets{}
	del.AddOffset(h.cfg.Topics.IdentityLog, 0, 6, -1)
	del.AddOffset(h.cfg.Topics.IdentityLog, 1, 2, -1)
	dr, err := adm.DeleteRecords(ctx, del)
	require.NoError(t, err)
	require.NoError(t, dr.Error())

	want := []TruncatedPartition{{Partition: 0, Next: 3, Start: 6}, {Partition: 1, Next: 0, Start: 2}}
	check := func(t *testing.T, err error) {
		t.Helper()
		require.Error(t, err)
		require.True(t, errors.Is(err, ErrLogTruncated), "%v", err)
		var te *LogTruncatedError
		require.True(t, errors.As(err, &te), "%v", err)
		assert.Equal(t, h.cfg.Topics.IdentityLog, te.Topic)
		assert.Equal(t, want, te.Partitions)
		for _, s := range []string{
			"partition 0 of identity_log starts at offset 6, but the replica's next offset to apply is 3 (offsets 3 to 5 were deleted",
			"partition 1 of identity_log starts at offset 2, but the replica's next offset to apply is 0 (offsets 0 to 1 were deleted",
			"resolver restore --from FILE",
		} {
			assert.Contains(t, err.Error(), s)
		}
	}

	t.Run("NewApplier", func(t *testing.T) {
		_, err := NewApplier(ctx, h.cfg, stale, h.log)
		check(t, err)
	})
	t.Run("Pipeline.Run", func(t *testing.T) {
		p, err := New(h.cfg, stale, h.log)
		require.NoError(t, err)
		check(t, p.Run(ctx))
		select {
		case <-p.Started():
			t.Fatal("ready over a replica the log has left behind")
		default:
		}
	})
	t.Run("Rebuild", func(t *testing.T) {
		_, err := Rebuild(ctx, h.cfg, stale, h.log, nil)
		check(t, err)
	})
	t.Run("empty replica", func(t *testing.T) {
		_, err := NewApplier(ctx, h.cfg, replica(nil), h.log)
		var te *LogTruncatedError
		require.True(t, errors.As(err, &te), "%v", err)
		assert.Equal(t, []TruncatedPartition{{Partition: 0, Next: 0, Start: 6}, {Partition: 1, Next: 0, Start: 2}}, te.Partitions)
	})
	applied, err := stale.AppliedOffsets()
	require.NoError(t, err)
	assert.Equal(t, map[int32]int64{0: 3}, applied, "the refused replica was written to")

	t.Run("ahead", func(t *testing.T) {
		res, err := Rebuild(ctx, h.cfg, ahead, h.log, nil)
		require.NoError(t, err)
		assert.Equal(t, map[int32]int64{0: 10, 1: 10}, res.IdentityLog)
		assert.Equal(t, int64(2+8), res.Applied, "the records after the replica's offsets")
	})
}

// The same loss while the applier runs: retention deletes records of
// identity_log that a running applier has not fetched yet. The client used
// to reset silently to the log start and go on without them; the applier
// now stops with ErrLogTruncated naming the partition and the offset it
// needed, having applied nothing past the gap.
func TestTruncatedWhileApplierRuns(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	adm := kadm.NewClient(h.client())
	require.NoError(t, EnsureTopics(ctx, adm, h.cfg.Topics.All(), h.cfg.TopicPartitions, -1, time.Second, h.log, h.cfg.Topics.TopicOptions()...))
	_, err := topicPartitions(ctx, adm, h.cfg.Topics.IdentityLog)
	require.NoError(t, err)
	producer := h.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	h.fillRaw(ctx, 0, 20) // the ops' source records
	did := func(i int) string { return fmt.Sprintf("user-%d", i) }
	produce := func(from, to int) {
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			op := unionfind.Op{Kind: unionfind.OpEvent, Team: "1", EventUUID: uuid.NewString(),
				Source: unionfind.Source{Topic: h.cfg.Topics.Raw, Offset: int64(i)}, DistinctID: did(i), Timestamp: 1_780_000_000_000}
			b := oplog.Encode(&op)
			recs = append(recs, &kgo.Record{Topic: h.cfg.Topics.IdentityLog, Partition: 0, Value: b})
		}
		require.NoError(t, producer.ProduceSync(ctx, recs...).FirstErr())
	}

	produce(0, 10)
	st, err := state.Open(t.TempDir(), state.Options{Logger: h.log})
	require.NoError(t, err)
	defer st.Close()
	a, err := NewApplier(ctx, h.cfg, st, h.log) // the log is whole: accepted
	require.NoError(t, err)
	// The applier's client fetches (and holds) what is there now; then the
	// log grows, and retention deletes up to offset 15 before it is read.
	time.Sleep(time.Second)
	produce(10, 20)
	del := kadm.Offsets{}
	del.AddOffset(h.cfg.Topics.IdentityLog, 0, 15, -1)
	dr, err := adm.DeleteRecords(ctx, del)
	require.NoError(t, err)
	require.NoError(t, dr.Error())

	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(ctx) }()
	select {
	case err := <-runErr:
		require.ErrorIs(t, err, ErrLogTruncated)
		assert.Contains(t, err.Error(), "partition 0 of "+h.cfg.Topics.IdentityLog+" no longer holds offset")
	case <-time.After(30 * time.Second):
		t.Fatal("the applier went on past deleted records of identity_log")
	}
	applied, err := st.AppliedOffsets()
	require.NoError(t, err)
	assert.LessOrEqual(t, applied[0], int64(10), "applied past the gap")
	for i := 15; i < 20; i++ {
		_, explicit, err := st.Find("1", did(i))
		require.NoError(t, err)
		assert.False(t, explicit, "%s (after the gap) was applied", did(i))
	}
}
