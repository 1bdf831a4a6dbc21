package stream

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/resolver-dev/resolver/internal/broker"
	"github.com/resolver-dev/resolver/pkg/state"
)

// harness is an embedded broker and the config of pipelines against it.
type harness struct {
	t      *testing.T
	broker *broker.Broker
	addr   string
	cfg    Config
	log    *zap.Logger
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", MinSessionTimeout: time.Second, Logger: log})
	require.NoError(t, err)
	t.Cleanup(b.Close)
	addr := b.Addrs()[0]
	cfg := Config{
		Kafka:              Kafka{Brokers: []string{addr}, SessionTimeout: 6 * time.Second, RetryBackoff: 200 * time.Millisecond},
		TopicPartitions:    8,
		MaxBatchRecords:    500,
		OutboxTrimInterval: 500 * time.Millisecond,
	}.WithDefaults()
	return &harness{t: t, broker: b, addr: addr, cfg: cfg, log: log}
}

// instance is one running pipeline over its own replica.
type instance struct {
	p      *Pipeline
	st     *state.Store
	cancel context.CancelFunc
	done   chan error
}

// start runs a pipeline on the replica in dir until stop.
// readyTimeout bounds the wait for an instance to be ready. Catching up
// with 20,000 merges (TestReadyAfterCatchUp) under the race detector, on
// two cores shared with the other packages' tests, took over 30s.
const readyTimeout = 90 * time.Second

func (h *harness) start(dir string, mutate ...func(*Pipeline)) *instance {
	h.t.Helper()
	st, err := state.Open(dir, state.Options{Logger: h.log})
	require.NoError(h.t, err)
	p, err := New(h.cfg, st, h.log)
	require.NoError(h.t, err)
	for _, m := range mutate {
		m(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{p: p, st: st, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- p.Run(ctx) }()
	select {
	case <-p.Started():
	case err := <-in.done:
		h.t.Fatalf("pipeline stopped before ready: %v", err)
	case <-time.After(readyTimeout):
		h.t.Fatalf("pipeline not ready after %v", readyTimeout)
	}
	return in
}

// stop shuts the instance down in order and closes its replica.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	in.cancel()
	select {
	case err := <-in.done:
		require.NoError(t, err)
	case <-time.After(60 * time.Second):
		t.Fatal("pipeline did not stop within 60s")
	}
	require.NoError(t, in.st.Close())
}

func (h *harness) client(opts ...kgo.Opt) *kgo.Client {
	h.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(h.addr)}, opts...)...)
	require.NoError(h.t, err)
	h.t.Cleanup(cl.Close)
	return cl
}

// produce writes records to the input topic, in order per key.
func (h *harness) produce(recs []*kgo.Record) {
	h.t.Helper()
	cl := h.client(kgo.DefaultProduceTopic(h.cfg.Topics.Raw), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	require.NoError(h.t, cl.ProduceSync(context.Background(), recs...).FirstErr())
}

// readCommitted reads topics from the start under read_committed until the
// total reaches want, then keeps reading for a short settle period so that a
// duplicate would show up; it fails after timeout.
func (h *harness) readCommitted(want int, timeout time.Duration, topics ...string) map[string][]*kgo.Record {
	h.t.Helper()
	cl := h.client(kgo.ConsumeTopics(topics...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	out := map[string][]*kgo.Record{}
	n := 0
	deadline := time.Now().Add(timeout)
	settle := time.Time{}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			out[r.Topic] = append(out[r.Topic], r)
			n++
		})
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				h.t.Logf("fetch %s/%d: %v", e.Topic, e.Partition, e.Err)
			}
		}
		now := time.Now()
		if n >= want && settle.IsZero() {
			settle = now.Add(1500 * time.Millisecond)
		}
		if !settle.IsZero() && now.After(settle) {
			return out
		}
		if now.After(deadline) {
			h.t.Fatalf("read %d of %d records from %v within %v", n, want, topics, timeout)
		}
	}
}

// readAll reads every record of a topic (read_committed) up to its end
// offsets as of the call.
func (h *harness) readAll(topic string) []*kgo.Record {
	h.t.Helper()
	cl := h.client(kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	var mu sync.Mutex
	var out []*kgo.Record
	idle := 0
	for idle < 4 {
		ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		got := 0
		fs.EachRecord(func(r *kgo.Record) {
			mu.Lock()
			out = append(out, r)
			mu.Unlock()
			got++
		})
		if got == 0 {
			idle++
		} else {
			idle = 0
		}
	}
	return out
}

// wait polls cond until it holds or timeout passes.
func wait(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
