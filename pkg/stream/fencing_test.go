package stream

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/pkg/gen"
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

	h.produce(recs[half:])
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
