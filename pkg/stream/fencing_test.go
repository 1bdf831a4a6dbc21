package stream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/resolver-dev/resolver/internal/gen"
)

// TestPipelineSurvivesFencing pins a bug: when the worker session's
// transactional producer was fenced, the batch failed with PRODUCER_FENCED
// and the whole instance stopped. That happens with no second process at
// all — the embedded broker, restarted after a crash, aborts open
// transactions and bumps their producers' epochs (TestClusterBrokerRestart
// in cmd/resolver saw instances exit this way) — so the pipeline must go on
// with a new session. Here the fencing comes from a client that initialises
// the same transactional id mid-stream: the instance keeps running, replaces
// its session, and every input still comes out exactly once.
func TestPipelineSurvivesFencing(t *testing.T) {
	h := newHarness(t)
	cfg := gen.DefaultConfig()
	cfg.Seed = 9
	cfg.Users = 60
	cfg.PadBytes = 0
	recs, in := mixedStream(t, cfg)
	half := len(recs) / 2

	inst := h.start(t.TempDir())
	h.produce(recs[:half])
	wait(t, 60*time.Second, "some batches committed", func() bool { return inst.p.Stats().Committed.Load() > 0 })

	// The imposter: same transactional id; its producer initialisation
	// bumps the epoch, fencing the instance's producer.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	require.NoError(t, EnsureTopics(ctx, kadm.NewClient(h.client()), []string{"fence_test"}, 1, -1, time.Second, h.log))
	imp := h.client(kgo.TransactionalID(h.cfg.TransactionalID), kgo.DefaultProduceTopic("fence_test"))
	require.NoError(t, imp.BeginTransaction())
	require.NoError(t, imp.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr())
	require.NoError(t, imp.EndTransaction(ctx, kgo.TryAbort))
	imp.Close()

	committed, logged := inst.p.Stats().Committed.Load(), time.Now()
	h.produce(recs[half:])
	// The instance must go on committing batches. If it stopped, say with
	// what error; if it hangs, say what its counters saw (CI once timed
	// out here in collect with 500 of 1,790 records out and nothing logged).
	wait(t, 120*time.Second, "a batch committed after the fencing", func() bool {
		select {
		case err := <-inst.done:
			t.Fatalf("pipeline stopped after being fenced: %v", err)
		default:
		}
		if s := inst.p.Stats(); s.Committed.Load() > committed {
			return true
		} else if time.Since(logged) > 30*time.Second {
			logged = time.Now()
			t.Logf("still waiting: committed %d (%d before the second half), fenced %d, group-fenced %d",
				s.Committed.Load(), committed, s.Fenced.Load(), s.GroupFenced.Load())
		}
		return false
	})
	h.collect(t, in)
	select {
	case err := <-inst.done:
		t.Fatalf("pipeline stopped after being fenced: %v", err)
	default:
	}
	assert.GreaterOrEqual(t, inst.p.Stats().Fenced.Load(), int64(1), "the instance was fenced and replaced its session")
	checkFeedMatchesReplica(t, h.fold(t), inst.st)
	inst.stop(t)
}

// TestIsFenced: the errors that make the worker replace its session, and
// some that do not.
func TestIsFenced(t *testing.T) {
	for _, err := range []error{kerr.ProducerFenced, kerr.InvalidProducerEpoch, kerr.InvalidTxnState,
		fmt.Errorf("stream: end transaction: %w", kerr.InvalidTxnState)} {
		assert.True(t, isFenced(err), "%v", err)
	}
	for _, err := range []error{nil, kerr.NotCoordinator, kerr.ConcurrentTransactions, kerr.UnknownTopicOrPartition, context.Canceled} {
		assert.False(t, isFenced(err), "%v", err)
	}
}

// TestNoteFencing: fencings older than the window are forgotten.
func TestNoteFencing(t *testing.T) {
	var f []time.Time
	t0 := time.Now()
	for i := range maxFencings {
		assert.Equal(t, i+1, noteFencing(&f, t0.Add(time.Duration(i)*time.Second)))
	}
	assert.Equal(t, maxFencings+1, noteFencing(&f, t0.Add(10*time.Second)), "one too many within the window")
	assert.Equal(t, 1, noteFencing(&f, t0.Add(10*time.Second+2*fencingWindow)), "all earlier ones expired")
}

// TestRestartAbortsPredecessorTransaction pins a stall after kill -9: an
// instance killed between committing its transaction's offsets
// (TxnOffsetCommit) and ending it leaves the transaction open, and until
// it ends the broker answers the group's offset fetches
// UNSTABLE_OFFSET_COMMIT (the embedded broker for every partition of the
// group). The restarted instance, with the same transactional id, waited
// for it too, up to the transaction timeout, because kgo initialises the
// producer (which aborts the predecessor's transaction) only at the first
// produce, after the offsets. Here the predecessor is a transaction opened
// by hand with a 2-minute timeout, holding an offset of the group; the
// instance must process the whole stream well before that.
func TestRestartAbortsPredecessorTransaction(t *testing.T) {
	h := newHarness(t)
	cfg := gen.DefaultConfig()
	cfg.Seed = 13
	cfg.Users = 20
	recs, in := mixedStream(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cl := h.client()
	adm := kadm.NewClient(cl)
	require.NoError(t, EnsureTopics(ctx, adm, h.cfg.Topics.All(), h.cfg.TopicPartitions, -1, time.Second, h.log, h.cfg.Topics.TopicOptions()...))
	var topicID kadm.TopicID
	wait(t, 10*time.Second, "the input topic's id", func() bool {
		topics, err := adm.ListTopics(ctx, h.cfg.Topics.Raw)
		require.NoError(t, err)
		topicID = topics[h.cfg.Topics.Raw].ID
		return topics[h.cfg.Topics.Raw].Err == nil
	})

	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID = &h.cfg.TransactionalID
	init.TransactionTimeoutMillis = 120_000
	ir, err := init.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.NoError(t, kerr.ErrorForCode(ir.ErrorCode))
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.TransactionalID = h.cfg.TransactionalID
	commit.Group = h.cfg.Group
	commit.ProducerID, commit.ProducerEpoch = ir.ProducerID, ir.ProducerEpoch
	commit.Generation = -1
	ct := kmsg.NewTxnOffsetCommitRequestTopic()
	ct.Topic, ct.TopicID = h.cfg.Topics.Raw, topicID
	cp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	cp.Partition, cp.Offset, cp.LeaderEpoch = 0, 0, -1
	ct.Partitions = append(ct.Partitions, cp)
	commit.Topics = append(commit.Topics, ct)
	cr, err := commit.RequestWith(ctx, cl)
	require.NoError(t, err)
	for _, rt := range cr.Topics {
		for _, rp := range rt.Partitions {
			require.NoError(t, kerr.ErrorForCode(rp.ErrorCode), "TxnOffsetCommit of the predecessor")
		}
	}

	start := time.Now()
	h.produce(recs)
	inst := h.start(t.TempDir())
	h.collect(t, in)
	took := time.Since(start)
	t.Logf("%d records out %v after the start, with the predecessor's transaction open", len(recs), took.Round(time.Millisecond))
	assert.Less(t, took, 60*time.Second, "the instance waited for its predecessor's transaction to time out")
	inst.stop(t)
}
