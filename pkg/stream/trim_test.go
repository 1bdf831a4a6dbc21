package stream

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/resolver-dev/resolver/pkg/state"
)

// trimCounter is an Observer that counts failed trims.
type trimCounter struct {
	nopObserver
	errs atomic.Int64
}

func (c *trimCounter) ObserveTrimError() { c.errs.Add(1) }

type nopObserver struct{}

func (nopObserver) ObserveBatch(*BatchReport) {}
func (nopObserver) ObserveApply(*ApplyReport) {}
func (nopObserver) ObserveLag(LagReport)      {}

// TestTrimFailuresWarnAndCount pins issue 11: a failed outbox trim was
// logged at debug only, so an outbox that stopped shrinking went unseen.
// It is a warning now, and counted.
func TestTrimFailuresWarnAndCount(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	adm, closeAdm, err := NewAdmin(h.cfg.Kafka, h.log)
	require.NoError(t, err)
	defer closeAdm()
	require.NoError(t, EnsureTopics(ctx, adm, h.cfg.Topics.All(), h.cfg.TopicPartitions, h.cfg.ReplicationFactor, h.cfg.Kafka.RetryBackoff, h.log, h.cfg.Topics.TopicOptions()...))
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: h.cfg.Topics.Raw, Partition: 0, At: 10})
	require.Eventually(t, func() bool { // the new topic shows in the broker's metadata after a moment
		resp, err := adm.CommitOffsets(ctx, h.cfg.Group, offs)
		return err == nil && resp.Error() == nil
	}, 10*time.Second, 50*time.Millisecond, "commit an offset of the group")

	st, err := state.Open(t.TempDir(), state.Options{Logger: h.log})
	require.NoError(t, err)
	require.NoError(t, st.Close()) // every trim fails with ErrClosed

	core, logs := observer.New(zapcore.WarnLevel)
	obs := &trimCounter{}
	cfg := h.cfg
	cfg.Observer = obs
	p, err := New(cfg, st, zap.New(core))
	require.NoError(t, err)
	done := make(chan struct{})
	tctx, stop := context.WithCancel(ctx)
	go func() { defer close(done); p.trimOutbox(tctx, adm) }()
	require.Eventually(t, func() bool { return obs.errs.Load() >= 2 }, 20*time.Second, 50*time.Millisecond)
	stop()
	<-done
	entries := logs.FilterMessage("outbox trim failed (retried next interval)").All()
	require.NotEmpty(t, entries)
	require.Equal(t, zapcore.WarnLevel, entries[0].Level)
	require.Zero(t, logs.FilterMessageSnippet("fetch the group's committed offsets").Len(), "a group with offsets is not a failure")
}
