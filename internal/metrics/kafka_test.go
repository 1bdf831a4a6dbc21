package metrics_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/internal/metrics"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// TestBuildInfo: resolver_build_info is 1 with the build as labels, empty
// values "unknown", every value bounded.
func TestBuildInfo(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   metrics.BuildInfo
		want map[string]string
	}{
		{"set", metrics.BuildInfo{Version: "1.4.0", Commit: "abc123", GoVersion: "go1.26.8"},
			map[string]string{"version": "1.4.0", "commit": "abc123", "goversion": "go1.26.8"}},
		{"empty", metrics.BuildInfo{},
			map[string]string{"version": "unknown", "commit": "unknown", "goversion": "unknown"}},
		{"hostile", metrics.BuildInfo{Version: "v\n1\x00" + string(make([]byte, 200)), Commit: "c", GoVersion: "g"},
			map[string]string{"commit": "c", "goversion": "g"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := metrics.New(metrics.Config{Build: tt.in})
			assert.Equal(t, 1.0, value(t, m.Registry(), "resolver_build_info", tt.want))
			for _, v := range labelValues(t, m.Registry(), "resolver_build_info", "version") {
				assert.LessOrEqual(t, len(v), metrics.MaxLabelBytes)
				assert.NotContains(t, v, "\n")
			}
		})
	}
}

// kafkaCluster is an in-process kfake broker with topic of parts
// partitions.
func kafkaCluster(t *testing.T, topic string, parts int32) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, topic))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func produce(t *testing.T, addr, topic string, part int32, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: part, Value: []byte(strconv.Itoa(i))}
	}
	require.NoError(t, cl.ProduceSync(t.Context(), recs...).FirstErr())
}

// lagOf is the lag series of one partition; ok is false without one.
func lagOf(t *testing.T, m *metrics.Metrics, topic string, part int) (float64, bool) {
	t.Helper()
	mfs, err := m.Registry().Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "resolver_consumer_lag_records" {
			continue
		}
		for _, s := range mf.GetMetric() {
			if hasLabels(s, map[string]string{"topic": topic, "partition": strconv.Itoa(part)}) {
				return s.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

// TestConsumerLag: resolver_consumer_lag_records of a worker client (a
// group member made with ClientHooks(WorkerRole)) is the partition's end
// offset minus the worker's position — the offset after the records it
// polled — for the partitions it consumes, and grows as records arrive;
// clients of other roles and closed clients add nothing.
func TestConsumerLag(t *testing.T) {
	const topic = "events_raw"
	addr := kafkaCluster(t, topic, 2)
	produce(t, addr, topic, 0, 10)

	m := metrics.New(metrics.Config{})
	m.WatchConsumerLag(topic)
	m.WatchConsumerLag("other") // only the first call counts

	// Not a worker: consumes, but is not a member whose lag is reported.
	other, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.WithHooks(m.ClientHooks("admin")...))
	require.NoError(t, err)
	defer other.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.Len(t, other.PollRecords(ctx, 3).Records(), 3)
	_, ok := lagOf(t, m, topic, 0)
	assert.False(t, ok, "no worker: no lag series")

	w, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumerGroup("g"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.WithHooks(m.ClientHooks(metrics.WorkerRole)...))
	require.NoError(t, err)
	polled := 0
	for polled < 4 {
		fs := w.PollRecords(ctx, 4-polled)
		require.NoError(t, ctx.Err())
		polled += len(fs.Records())
	}
	lag, ok := lagOf(t, m, topic, 0)
	require.True(t, ok, "the worker's partition has a lag series")
	assert.Equal(t, 6.0, lag, "10 records, 4 polled")
	_, ok = lagOf(t, m, topic, 1)
	assert.False(t, ok, "partition 1 has nothing consumed or committed")

	produce(t, addr, topic, 0, 5)
	lag, _ = lagOf(t, m, topic, 0)
	assert.Equal(t, 11.0, lag, "5 more records")

	require.NoError(t, w.CommitUncommittedOffsets(ctx))
	lag, _ = lagOf(t, m, topic, 0)
	assert.Equal(t, 11.0, lag, "committing the polled records moves nothing")

	// franz-go's client metrics of both clients, each under its client_id.
	ids := labelValues(t, m.Registry(), "resolver_fetch_records_total", "client_id")
	assert.Contains(t, ids, "admin")
	assert.Contains(t, ids, metrics.WorkerRole)

	w.Close()
	_, ok = lagOf(t, m, topic, 0)
	assert.False(t, ok, "a closed worker reports no lag")
	assert.NotContains(t, labelValues(t, m.Registry(), "resolver_fetch_records_total", "client_id"), metrics.WorkerRole,
		"a closed client's metrics leave the registry")
}

// TestClientLabels: clients of one role open at once get role, role-2,
// ...; a closed client's label is reused, so the values stay bounded by
// the clients open at once.
func TestClientLabels(t *testing.T) {
	const topic = "t"
	addr := kafkaCluster(t, topic, 1)
	m := metrics.New(metrics.Config{})
	open := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.WithHooks(m.ClientHooks("ops")...))
		require.NoError(t, err)
		require.NoError(t, cl.Ping(t.Context())) // a connection: a series
		return cl
	}
	ids := func() []string {
		v := labelValues(t, m.Registry(), "resolver_connects_total", "client_id")
		slices.Sort(v)
		return slices.Compact(v)
	}
	a, b, c := open(), open(), open()
	assert.Equal(t, []string{"ops", "ops-2", "ops-3"}, ids())
	b.Close()
	assert.Equal(t, []string{"ops", "ops-3"}, ids())
	d := open()
	assert.Equal(t, []string{"ops", "ops-2", "ops-3"}, ids())
	for _, cl := range []*kgo.Client{a, c, d} {
		cl.Close()
	}
	assert.Empty(t, ids())

	// The registry, with franz-go's metrics in it, still passes the linter
	// for our own metrics (kprom's names are its own).
	cl := open()
	defer cl.Close()
	problems, err := testutil.GatherAndLint(m.Registry(), "resolver_build_info")
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// lagPartitions lists the partitions m reports a lag for.
func lagPartitions(t *testing.T, m *metrics.Metrics) []string {
	t.Helper()
	return labelValues(t, m.Registry(), "resolver_consumer_lag_records", "partition")
}

// TestConsumerLagRebalance: two instances (two Metrics, one worker each)
// in one group report disjoint partitions once the group has rebalanced: a
// revoked partition leaves the instance that gave it up, so a sum across
// instances counts each partition once.
func TestConsumerLagRebalance(t *testing.T) {
	for _, protocol := range stream.GroupProtocols {
		t.Run(protocol, func(t *testing.T) { testConsumerLagRebalance(t, protocol) })
	}
}

func testConsumerLagRebalance(t *testing.T, protocol string) {
	const topic = "events_raw"
	protoOpts, err := stream.GroupProtocolOpts(stream.Kafka{GroupProtocol: protocol, SessionTimeout: 6 * time.Second})
	require.NoError(t, err)
	addr := kafkaCluster(t, topic, 4)
	for p := range int32(4) {
		produce(t, addr, topic, p, 5)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	worker := func(m *metrics.Metrics) *kgo.Client {
		m.WatchConsumerLag(topic)
		cl, err := kgo.NewClient(append(protoOpts, kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumerGroup("g"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
			kgo.WithHooks(m.ClientHooks(metrics.WorkerRole)...))...)
		require.NoError(t, err)
		t.Cleanup(cl.Close)
		return cl
	}
	// drain polls and commits what a worker has, as a batch loop would.
	drain := func(cl *kgo.Client) {
		pctx, pcancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer pcancel()
		cl.PollFetches(pctx)
		_ = cl.CommitUncommittedOffsets(ctx)
	}
	ma, mb := metrics.New(metrics.Config{}), metrics.New(metrics.Config{})
	a := worker(ma)
	for len(lagPartitions(t, ma)) < 4 {
		drain(a)
		require.NoError(t, ctx.Err(), "a never owned all 4 partitions: %v", lagPartitions(t, ma))
	}
	b := worker(mb)
	for {
		drain(a)
		drain(b)
		pa, pb := lagPartitions(t, ma), lagPartitions(t, mb)
		all := append(slices.Clone(pa), pb...)
		slices.Sort(all)
		if len(pa) > 0 && len(pb) > 0 && slices.Equal(all, []string{"0", "1", "2", "3"}) {
			break // disjoint and complete
		}
		require.NoError(t, ctx.Err(), "a reports %v, b reports %v", pa, pb)
	}
}
