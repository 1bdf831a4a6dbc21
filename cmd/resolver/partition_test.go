package main

// Partition tests (issue 12): instances that are alive but cut off from the
// broker — zombies. The real binary runs as three instances, each in a
// network namespace of its own; the embedded broker runs in this process,
// listening inside a namespace of its own (netlab_test.go), so that the
// test can see the requests it serves and move partitions between its
// nodes. A link is cut while an instance holds an open transaction, and
// healed later; whatever the zombie then tries, every input must come out
// exactly once.

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/gen"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// partitionSession is the session timeout of the group (the broker's, under
// KIP-848) in the partition tests: a cut longer than it loses the member.
const partitionSession = 6 * time.Second

// partitionPort is the port of every broker node in the lab.
const partitionPort = "9092"

// partitionCluster is a cluster whose broker and instances live in a
// network lab.
type partitionCluster struct {
	*cluster
	lab    *netLab
	broker *stream.Broker
	insts  map[int]*proc
}

// instHost is the lab host (and kafka.instance_id) of instance i.
func instHost(i int) string { return "i" + strconv.Itoa(i) }

// txnID is the transactional id of instance i's worker.
func txnID(i int) string { return "resolver-" + instHost(i) }

// newPartitionCluster makes the lab (a broker host with one address per
// node, from .1, and three instance hosts, .10 to .12), starts the embedded
// broker with nodes nodes in it, and creates the topics.
func newPartitionCluster(t *testing.T, name string, timeout time.Duration, nodes int) *partitionCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process test")
	}
	lab := newNetLab(t)
	octets := make([]int, nodes)
	for i := range octets {
		octets[i] = 1 + i
	}
	lab.addHost("broker", octets...)
	for i := range 3 {
		lab.addHost(instHost(i), 10+i)
	}
	c := newClusterNoBroker(t, name, timeout)
	c.adminToken = "partition-test-token"
	c.addr = net.JoinHostPort(lab.addr(1), partitionPort)
	b, err := stream.StartBroker(stream.BrokerConfig{
		Nodes: nodes,
		ListenNode: func(i int) (net.Listener, error) {
			return lab.listen("broker", net.JoinHostPort(lab.addr(1+i), partitionPort))
		},
		SessionTimeout: partitionSession,
	})
	require.NoError(t, err)
	t.Cleanup(b.Close)
	require.NoError(t, stream.EnsureTopics(c.ctx, kadm.NewClient(c.client()), defaultConfig().streamTopics().All(), 8, -1, time.Second, zap.NewNop()))
	return &partitionCluster{cluster: c, lab: lab, broker: b, insts: map[int]*proc{}}
}

// startInstance starts `resolver run` as instance i in its namespace, its
// admin server on its lab address (with a token, as beyond loopback it
// must have one).
func (pc *partitionCluster) startInstance(i int, name string) *proc {
	pc.t.Helper()
	env := append(pc.instanceEnv(pc.instanceDir(i)),
		"RESOLVER_KAFKA_SESSION_TIMEOUT="+partitionSession.String(),
		"RESOLVER_KAFKA_INSTANCE_ID="+instHost(i),
		"RESOLVER_ADMIN_ADDR="+net.JoinHostPort(pc.lab.addr(10+i), "0"),
		"RESOLVER_ADMIN_TOKEN="+pc.adminToken,
	)
	p := pc.startCmd(name, env, pc.lab.command(instHost(i), pc.bin, "run"))
	pc.insts[i] = p
	return p
}

// startAll starts the three instances and waits until each is ready and the
// group is stable with all three.
func (pc *partitionCluster) startAll() {
	pc.t.Helper()
	for i := range 3 {
		pc.startInstance(i, "instance-"+strconv.Itoa(i))
	}
	for i := range 3 {
		pc.waitReady(pc.insts[i])
	}
	pc.waitStable(3)
}

// holdAt arms a trap in the broker: at the first request of kind key that
// match accepts, the broker stops (its whole request loop) until the
// returned release is called, after hit is closed. The test cuts a link
// there, so the request is served but its answer never reaches the client.
// If the test does not release within 10s, the broker goes on alone.
func (pc *partitionCluster) holdAt(key kmsg.Key, match func(kmsg.Request) bool) (hit <-chan struct{}, release func()) {
	h, r := make(chan struct{}), make(chan struct{})
	var once sync.Once
	kf := pc.broker.Kfake()
	kf.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if !match(req) {
			return nil, nil, false
		}
		kf.DropControl()
		once.Do(func() {
			close(h)
			select {
			case <-r:
			case <-time.After(10 * time.Second):
			}
		})
		return nil, nil, false // the broker serves it as usual
	})
	var rel sync.Once
	return h, func() { rel.Do(func() { close(r) }) }
}

// transactionalProduce matches a produce of instance i's worker inside its
// transaction: the instance is mid-batch, with a transaction open.
func transactionalProduce(i int) func(kmsg.Request) bool {
	id := txnID(i)
	return func(req kmsg.Request) bool {
		p, ok := req.(*kmsg.ProduceRequest)
		return ok && p.TransactionID != nil && *p.TransactionID == id
	}
}

// cutMidBatch waits until instance i produces inside a transaction and cuts
// the named hosts while the broker holds that produce.
func (pc *partitionCluster) cutMidBatch(i int, hosts ...string) {
	pc.t.Helper()
	hit, release := pc.holdAt(kmsg.Produce, transactionalProduce(i))
	defer release()
	select {
	case <-hit:
	case <-time.After(60 * time.Second):
		pc.t.Fatalf("instance %d produced nothing inside a transaction within 60s", i)
	case <-pc.ctx.Done():
		pc.t.Fatal("test deadline")
	}
	pc.lab.cut(hosts...)
}

// produceChunk produces recs[lo:hi].
func (pc *partitionCluster) produceChunk(recs []gen.Record, lo, hi int) {
	pc.t.Helper()
	pc.produce(recs[lo:hi])
	pc.lab.note("produced records %d-%d", lo, hi)
}

// finish waits for every output and checks the run: every input exactly
// once on events_person + events_dead_letter, every instance ready within
// readiness.max_lag all along and converged on identity_log's end, the feeds
// and the replicas' content equal to the single-instance run's, equal
// fingerprints, and billing exactly once. It returns the instances'
// /metrics, read before they stop.
func (pc *partitionCluster) finish(base runResult, col *collector, recs []gen.Record, ready *readyWatch) map[int]string {
	pc.t.Helper()
	for _, p := range pc.insts {
		pc.waitReady(p)
	}
	pc.waitAll(col, recs, 150*time.Second)
	pc.t.Logf("replicas on identity_log's end %v after the outputs were all read", pc.waitConverged(pc.insts, convergeWait()))
	ready.check(pc.insts)
	metrics := map[int]string{}
	for i, p := range pc.insts {
		code, body, err := httpGet(pc.t, "http://"+p.adminAddr()+"/metrics", pc.adminToken)
		require.NoError(pc.t, err)
		require.Equal(pc.t, 200, code)
		metrics[i] = string(body)
	}
	compareFeeds(pc.t, base.feeds, pc.fold())
	checkReplicas(pc.t, pc.stopAll(pc.insts), base)
	pc.checkBilling(col, pc.insts)
	return metrics
}

// TestPartitionLongerThanSession (scenario 1): an instance is cut off in
// the middle of a batch — its transactional produce served by the broker,
// the answer lost — for longer than the session timeout. The group moves
// its partitions to the other two, which process its batch again; when the
// link heals, the zombie tries to finish its batch and is refused.
func TestPartitionLongerThanSession(t *testing.T) {
	base := baseline(t)
	pc := newPartitionCluster(t, "partition-long", 240*time.Second, 1)
	recs := generate(clusterInput())
	col := pc.collect()
	ready := pc.watchReadiness()
	pc.startAll()

	third := len(recs) / 3
	pc.produceChunk(recs, 0, third)
	pc.cutMidBatch(0, "i0")
	pc.produceChunk(recs, third, 2*third)
	pc.waitStable(2) // the group has moved the zombie's partitions on
	pc.lab.note("group stable with two instances")
	pc.produceChunk(recs, 2*third, len(recs))
	pc.waitFor(nil, 60*time.Second, "the two others' outputs", func() bool { return col.count() >= 2*third })
	time.Sleep(partitionSession) // the zombie stays cut off for well over its session
	pc.lab.heal("i0")
	pc.waitStable(3)
	pc.lab.note("group stable with three instances")

	metrics := pc.finish(base, col, recs, ready)
	pc.checkZombie(0, metrics[0], stream.ZombieGroupFenced)
}

// zombieLog is a zombie batch's log line (pkg/stream zombieFate).
type zombieLog struct {
	Msg           string            `json:"msg"`
	Fate          string            `json:"fate"`
	TransactionID string            `json:"transactional_id"`
	ProducerID    *int64            `json:"producer_id"`
	ProducerEpoch *int16            `json:"producer_epoch"`
	MemberEpoch   int32             `json:"member_epoch"`
	Records       int               `json:"records"`
	Partitions    map[string]string `json:"partitions"`
}

// zombieLogs are the zombie-batch lines of a process's log.
func zombieLogs(log string) []zombieLog {
	var out []zombieLog
	for _, l := range readLines(log) {
		var z zombieLog
		if json.Unmarshal([]byte(l), &z) == nil && strings.HasPrefix(z.Msg, "zombie batch") {
			out = append(out, z)
		}
	}
	return out
}

// checkZombie checks that instance i logged its zombie batch with the
// given fates (one of them), its transactional id and its producer's id and
// epoch, and counted it in resolver_zombie_batches_total.
func (pc *partitionCluster) checkZombie(i int, metrics string, fates ...string) {
	pc.t.Helper()
	p := pc.insts[i]
	zs := zombieLogs(p.stderr.String())
	if !assert.NotEmpty(pc.t, zs, "%s logs its zombie batch; its log about the group and transactions:\n%s", p.name, zombieLines(p.stderr.String())) {
		return
	}
	counted := 0.0
	for _, f := range fates {
		counted += metricValue(metrics, `resolver_zombie_batches_total{fate="`+f+`"}`)
	}
	for _, z := range zs {
		pc.t.Logf("%s: %s (fate %s, %s, producer %v epoch %v, member epoch %d, %d records of %v)", p.name, z.Msg, z.Fate, z.TransactionID,
			deref(z.ProducerID), deref(z.ProducerEpoch), z.MemberEpoch, z.Records, z.Partitions)
		assert.Contains(pc.t, fates, z.Fate, "the zombie's fate")
		assert.Equal(pc.t, txnID(i), z.TransactionID)
		assert.NotNil(pc.t, z.ProducerEpoch, "the zombie's log names its producer epoch")
		assert.Positive(pc.t, z.Records)
	}
	assert.GreaterOrEqual(pc.t, counted, float64(len(zs)), "resolver_zombie_batches_total of %s counts its zombie batches", p.name)
}

// deref is *v, or "none" for nil.
func deref[T any](v *T) any {
	if v == nil {
		return "none"
	}
	return *v
}

// metricValue is the value of one series in a /metrics body, 0 if absent.
func metricValue(body, series string) float64 {
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// zombieLines are the log lines of a process about its group membership and
// transactions.
func zombieLines(log string) string {
	var out []string
	for _, l := range readLines(log) {
		if strings.Contains(l, "fenced") || strings.Contains(l, "lost") || strings.Contains(l, "abort") || strings.Contains(l, "revoked") || strings.Contains(l, "assigned") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// metricLines are the lines of a /metrics body whose series start with one
// of prefixes.
func metricLines(body string, prefixes ...string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
			}
		}
	}
	return strings.Join(out, "\n")
}

var _ = assert.Equal
var _ = fmt.Sprintf
