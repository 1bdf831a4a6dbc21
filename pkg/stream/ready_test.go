package stream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/pkg/stream/oplog"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TestReadyAfterCatchUp pins readiness (issue 4): a fresh instance joining
// after others have filled identity_log must not stamp from a stale
// replica. identity_log holds thousands of merges (user-i into anon-i) when
// the instance starts, and events_raw already holds personless events of
// some user-i, which the instance's workers can fetch the moment they join
// the group. Ready must close only once the applier has reached the log's
// end as of start-up, and every one of those events must be stamped with
// its merged person (anon-i's), never user-i's implicit one.
func TestReadyAfterCatchUp(t *testing.T) {
	const merges = 20000
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	adm := kadm.NewClient(h.client())
	require.NoError(t, EnsureTopics(ctx, adm, h.cfg.Topics.All(), h.cfg.TopicPartitions, -1, time.Second, h.log, h.cfg.Topics.TopicOptions()...))

	// What other instances logged before this one starts. The ops' source
	// is one record of the input topic (the applier rejects ops of sources
	// that do not exist), which the group has consumed already: its outbox
	// rows are not this test's business.
	_, err := topicPartitions(ctx, adm, h.cfg.Topics.Raw)
	require.NoError(t, err)
	h.fillRaw(ctx, 0, 1)
	var done kadm.Offsets
	done.AddOffset(h.cfg.Topics.Raw, 0, 1, -1)
	var committed kadm.OffsetResponses
	wait(t, 10*time.Second, "the group's offset commit", func() bool { // metadata may lag the topic's creation
		committed, err = adm.CommitOffsets(ctx, h.cfg.Group, done)
		return err == nil && committed.Error() == nil
	})
	base := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	ops := make([]*kgo.Record, 0, merges)
	for i := range merges {
		op := unionfind.Op{
			Kind:       unionfind.OpEvent,
			Source:     unionfind.Source{Topic: h.cfg.Topics.Raw, Partition: 0, Offset: 0, Index: uint32(i)},
			Team:       "1",
			DistinctID: fmt.Sprintf("user-%d", i),
			EventUUID:  uuid.NewString(),
			Timestamp:  base.UnixMilli() + int64(i),
			Merge:      &unionfind.Merge{Other: fmt.Sprintf("anon-%d", i), Guarded: true},
		}
		b := oplog.Encode(&op)
		ops = append(ops, &kgo.Record{Topic: h.cfg.Topics.IdentityLog, Key: []byte("1"), Value: b})
	}
	require.NoError(t, h.client().ProduceSync(ctx, ops...).FirstErr())
	_, err = topicPartitions(ctx, adm, h.cfg.Topics.IdentityLog)
	require.NoError(t, err)
	endsAtStart, err := adm.ListEndOffsets(ctx, h.cfg.Topics.IdentityLog)
	require.NoError(t, err)
	want := map[int32]int64{}
	endsAtStart.Each(func(o kadm.ListedOffset) { want[o.Partition] = o.Offset })

	// Events waiting for the instance: personless, so stamping them is a
	// pure read of the replica.
	var evs []*kgo.Record
	wantPerson := map[string]string{}
	for i := 0; i < merges; i += merges / 200 {
		u := uuid.NewString()
		did := fmt.Sprintf("user-%d", i)
		evs = append(evs, &kgo.Record{Key: []byte("1:" + did), Value: fmt.Appendf(nil,
			`{"uuid":%q,"event":"$pageview","distinct_id":%q,"team_id":1,"timestamp":%q,"properties":{"$process_person_profile":false}}`,
			u, did, base.Add(time.Hour).Format(time.RFC3339))})
		wantPerson[u] = unionfind.ImplicitPersonID("1", fmt.Sprintf("anon-%d", i)).String()
	}
	h.produce(evs)

	start := time.Now()
	inst := h.start(t.TempDir())
	defer inst.stop(t)
	offs := inst.p.Applier().Offsets()
	t.Logf("ready after %v with %d merges in identity_log", time.Since(start), merges)
	for p, end := range want {
		if end > 0 {
			assert.GreaterOrEqual(t, offs[p], end, "partition %d: ready before the applier reached the end of identity_log as of start-up", p)
		}
	}

	out := h.readCommitted(len(evs), 60*time.Second, h.cfg.Topics.Person)
	require.Len(t, out[h.cfg.Topics.Person], len(evs))
	stale := 0
	for _, r := range out[h.cfg.Topics.Person] {
		s := decodeStamped(t, r)
		if s.PersonID != wantPerson[s.UUID] {
			stale++
		}
	}
	assert.Zero(t, stale, "events stamped from a replica that had not caught up")
}

// TestReadyAfterBillingCatchUp pins readiness of the billing view (issue
// 4): /v1/billing answers from the replica's billing totals, which the
// billing view folds from billing_usage, so an instance must not report
// ready while its view is still folding. billing_usage holds 40,000 deltas
// in transactions of other instances (one of them aborted) when a fresh
// instance starts; when Ready closes, the view's offsets must have reached
// the last stable offsets as of start-up and the totals must count every
// committed delta and no aborted one.
func TestReadyAfterBillingCatchUp(t *testing.T) {
	const txns, perTxn = 40, 1000
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	adm := kadm.NewClient(h.client())
	require.NoError(t, EnsureTopics(ctx, adm, h.cfg.Topics.All(), h.cfg.TopicPartitions, -1, time.Second, h.log, h.cfg.Topics.TopicOptions()...))

	// What other instances billed before this one starts.
	txn := h.client(kgo.TransactionalID("earlier-instance"), kgo.DefaultProduceTopic(h.cfg.Topics.Billing),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var committed int64
	for i := range txns {
		recs := make([]*kgo.Record, perTxn)
		for j := range recs {
			team := fmt.Sprint(1 + j%5)
			recs[j] = &kgo.Record{Key: []byte(team), Partition: int32(j % h.cfg.TopicPartitions),
				Value: fmt.Appendf(nil, `{"team":%q,"month":"2026-11","class":"identified","count":1}`, team)}
		}
		require.NoError(t, txn.BeginTransaction())
		require.NoError(t, txn.ProduceSync(ctx, recs...).FirstErr(), "transaction %d", i)
		commit := i != txns/2
		require.NoError(t, txn.EndTransaction(ctx, kgo.TransactionEndTry(commit)), "transaction %d", i)
		if commit {
			committed += perTxn
		}
	}
	_, err := topicPartitions(ctx, adm, h.cfg.Topics.Billing)
	require.NoError(t, err)
	lso, err := adm.ListCommittedOffsets(ctx, h.cfg.Topics.Billing)
	require.NoError(t, err)
	want := map[int32]int64{}
	lso.Each(func(o kadm.ListedOffset) { want[o.Partition] = o.Offset })

	start := time.Now()
	inst := h.start(t.TempDir())
	defer inst.stop(t)
	offs, err := inst.st.BillingOffsets()
	require.NoError(t, err)
	var total int64
	require.NoError(t, inst.st.BillingTotals(func(_, _, _ string, n int64) error { total += n; return nil }))
	t.Logf("ready after %v with %d deltas in billing_usage", time.Since(start), txns*perTxn)
	for p, end := range want {
		assert.GreaterOrEqual(t, offs[p], end, "partition %d: ready before the billing view reached the last stable offset of billing_usage as of start-up", p)
	}
	assert.Equal(t, committed, total, "billing totals when ready")
}
