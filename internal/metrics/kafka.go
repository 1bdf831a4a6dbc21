package metrics

import (
	"context"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// KafkaNamespace is the namespace of the franz-go client metrics (kprom):
// resolver_connects_total, resolver_produce_uncompressed_bytes_total, ...
const KafkaNamespace = "resolver"

// WorkerRole is the role name of the worker sessions' clients
// (stream.ClientOpts's name): the consumers of the input topic, whose
// partitions resolver_consumer_lag_records covers.
const WorkerRole = "worker"

// lagTimeout bounds the end-offset listing of one scrape.
const lagTimeout = 2 * time.Second

// ClientHooks returns the hooks of one new Kafka client of the given role
// (its stream.ClientOpts name: worker, ops, keys, admin, ...); pass it as
// stream.Kafka.ClientHooks. Each client gets franz-go's client metrics
// (plugin/kprom, namespace resolver) on this registry, labelled client_id
// with the role (role-2, role-3, ... while several clients of one role are
// open, so the label's values are bounded by the clients open at once);
// its metrics leave the registry when it closes. The worker clients also
// feed resolver_consumer_lag_records (WatchConsumerLag).
//
// A hook is meant for one client; should a second client be made with the
// same options, its events count under the first one's label.
func (m *Metrics) ClientHooks(role string) []kgo.Hook {
	return []kgo.Hook{&clientHooks{m: m, role: LabelValue(role)}}
}

// clientHooks forwards a client's events to its own kprom.Metrics, made
// when the client is (OnNewClient runs before any of the client's
// goroutines start, so no event comes earlier).
type clientHooks struct {
	m    *Metrics
	role string

	once  sync.Once
	cl    *kgo.Client
	label string
	k     *kprom.Metrics
}

var (
	_ kgo.HookNewClient           = (*clientHooks)(nil)
	_ kgo.HookClientClosed        = (*clientHooks)(nil)
	_ kgo.HookBrokerConnect       = (*clientHooks)(nil)
	_ kgo.HookBrokerDisconnect    = (*clientHooks)(nil)
	_ kgo.HookBrokerWrite         = (*clientHooks)(nil)
	_ kgo.HookBrokerRead          = (*clientHooks)(nil)
	_ kgo.HookBrokerE2E           = (*clientHooks)(nil)
	_ kgo.HookBrokerThrottle      = (*clientHooks)(nil)
	_ kgo.HookProduceBatchWritten = (*clientHooks)(nil)
	_ kgo.HookFetchBatchRead      = (*clientHooks)(nil)
)

func (h *clientHooks) OnNewClient(cl *kgo.Client) {
	h.once.Do(func() {
		h.cl = cl
		h.label = h.m.clients.acquire(h.role)
		h.k = kprom.NewMetrics(KafkaNamespace,
			kprom.Registry(h.m.reg),
			kprom.WithStaticLabel(prometheus.Labels{"client_id": h.label}),
			kprom.FetchAndProduceDetail(kprom.ByNode, kprom.ByTopic, kprom.Batches, kprom.Records,
				kprom.CompressedBytes, kprom.UncompressedBytes, kprom.ConsistentNaming),
		)
		h.k.OnNewClient(cl)
		if h.role == WorkerRole {
			h.m.lag.add(cl)
		}
	})
}

func (h *clientHooks) OnClientClosed(cl *kgo.Client) {
	if h.k == nil || cl != h.cl {
		return
	}
	if h.role == WorkerRole {
		h.m.lag.remove(cl)
	}
	h.k.OnClientClosed(cl) // unregisters its metrics
	h.m.clients.release(h.label)
}

func (h *clientHooks) OnBrokerConnect(meta kgo.BrokerMetadata, d time.Duration, c net.Conn, err error) {
	if h.k != nil {
		h.k.OnBrokerConnect(meta, d, c, err)
	}
}

func (h *clientHooks) OnBrokerDisconnect(meta kgo.BrokerMetadata, c net.Conn) {
	if h.k != nil {
		h.k.OnBrokerDisconnect(meta, c)
	}
}

func (h *clientHooks) OnBrokerWrite(meta kgo.BrokerMetadata, key int16, n int, wait, write time.Duration, err error) {
	if h.k != nil {
		h.k.OnBrokerWrite(meta, key, n, wait, write, err)
	}
}

func (h *clientHooks) OnBrokerRead(meta kgo.BrokerMetadata, key int16, n int, wait, read time.Duration, err error) {
	if h.k != nil {
		h.k.OnBrokerRead(meta, key, n, wait, read, err)
	}
}

func (h *clientHooks) OnBrokerE2E(meta kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if h.k != nil {
		h.k.OnBrokerE2E(meta, key, e2e)
	}
}

func (h *clientHooks) OnBrokerThrottle(meta kgo.BrokerMetadata, d time.Duration, after bool) {
	if h.k != nil {
		h.k.OnBrokerThrottle(meta, d, after)
	}
}

func (h *clientHooks) OnProduceBatchWritten(meta kgo.BrokerMetadata, topic string, part int32, bm kgo.ProduceBatchMetrics) {
	if h.k != nil {
		h.k.OnProduceBatchWritten(meta, topic, part, bm)
	}
}

func (h *clientHooks) OnFetchBatchRead(meta kgo.BrokerMetadata, topic string, part int32, bm kgo.FetchBatchMetrics) {
	if h.k != nil {
		h.k.OnFetchBatchRead(meta, topic, part, bm)
	}
}

// clientLabels hands out the client_id label values: the role, then
// role-2, role-3, ... for clients of one role open at the same time (a
// worker per stream.workers, a session replaced while the old one closes).
type clientLabels struct {
	mu    sync.Mutex
	inUse map[string]bool
}

func (c *clientLabels) acquire(role string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inUse == nil {
		c.inUse = map[string]bool{}
	}
	label := role
	for i := 2; c.inUse[label]; i++ {
		label = role + "-" + strconv.Itoa(i)
	}
	c.inUse[label] = true
	return label
}

func (c *clientLabels) release(label string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inUse, label)
}

var consumerLagDesc = prometheus.NewDesc("resolver_consumer_lag_records",
	"Records of the input topic this instance's partition workers have not committed yet, per partition they own: the partition's end offset (high watermark), listed at scrape time, minus the workers' position in it (the offset after the last record they polled, else their group's committed offset). A partition appears once this instance has consumed or committed in it, and leaves when it is revoked.",
	[]string{"topic", "partition"}, nil)

// WatchConsumerLag makes resolver_consumer_lag_records cover topic (the
// input topic, topics.raw) for the partitions the worker clients (those
// made with ClientHooks(WorkerRole)) own. Only the first call has an
// effect. Each scrape lists the topic's end offsets once, through a worker
// client, within 2s; a listing that fails leaves the metric out of that
// scrape.
func (m *Metrics) WatchConsumerLag(topic string) {
	m.lag.mu.Lock()
	defer m.lag.mu.Unlock()
	if m.lag.topic != "" || topic == "" {
		return
	}
	m.lag.topic = topic
	m.reg.MustRegister(&m.lag)
}

// consumerLag is the collector of resolver_consumer_lag_records over the
// open worker clients.
type consumerLag struct {
	mu      sync.Mutex
	topic   string
	clients []*kgo.Client
}

func (l *consumerLag) add(cl *kgo.Client) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clients = append(l.clients, cl)
}

func (l *consumerLag) remove(cl *kgo.Client) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, c := range l.clients {
		if c == cl {
			l.clients = append(l.clients[:i], l.clients[i+1:]...)
			return
		}
	}
}

func (l *consumerLag) Describe(ch chan<- *prometheus.Desc) { ch <- consumerLagDesc }

func (l *consumerLag) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	topic, clients := l.topic, append([]*kgo.Client(nil), l.clients...)
	l.mu.Unlock()
	pos := positions(topic, clients)
	if len(pos) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), lagTimeout)
	defer cancel()
	ends, err := kadm.NewClient(clients[0]).ListEndOffsets(ctx, topic)
	if err != nil {
		return
	}
	for part, at := range pos {
		end, ok := ends.Lookup(topic, part)
		if !ok || end.Err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(consumerLagDesc, prometheus.GaugeValue, float64(lagOf(end.Offset, at)),
			topic, strconv.FormatInt(int64(part), 10))
	}
}

// positions is, for every partition of topic some client consumes, the
// furthest of its committed offset and the offset after its last polled
// record.
func positions(topic string, clients []*kgo.Client) map[int32]int64 {
	pos := map[int32]int64{}
	note := func(offs map[string]map[int32]kgo.EpochOffset) {
		for part, eo := range offs[topic] {
			if p, ok := pos[part]; !ok || eo.Offset > p {
				pos[part] = eo.Offset
			}
		}
	}
	for _, cl := range clients {
		note(cl.CommittedOffsets())
		note(cl.UncommittedOffsets())
	}
	return pos
}

// lagOf is the records between a position and the end offset; never
// negative (a listing older than the position), and the whole partition
// when the position is not an offset yet (-1 and below: nothing consumed).
func lagOf(end, at int64) int64 {
	if at < 0 {
		at = 0
	}
	return max(end-at, 0)
}
