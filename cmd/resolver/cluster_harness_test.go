package main

// The cluster harness of the multi-process tests (cluster_test.go,
// partition_test.go, hostile_test.go, diskfull_test.go): the real resolver
// binary built once per test, `resolver broker` and `resolver run` processes
// with their logs, a read_committed collector of the outputs, the feeds
// folded as a warehouse would, and the checks every cluster test ends with
// (exactly once, equal fingerprints, the single-instance baseline). Kept
// apart from the tests, as hashicorp/raft keeps its fuzzy/ harness.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/internal/gen"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// clusterInput is the generated stream of the cluster tests: a few thousand
// records from 100 people over 3 teams, with logins whose anonymous and
// identified ids are keyed to different partitions, cross-device logins and
// aliases, personless traffic, illegal ids and malformed records — but no
// shared-device races, whose outcome legitimately depends on log order.
// CLUSTER_TEST_USERS overrides the 100 people (1000 make the ~30,000
// records of issue 11's kill runs).
func clusterInput() gen.Config {
	c := gen.DefaultConfig()
	c.Seed = 4
	c.Users = 100
	c.PadBytes = 100
	c.SharedDeviceRate = gen.None
	c.CrossDeviceShare = 0.3
	if v := os.Getenv("CLUSTER_TEST_USERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			panic("CLUSTER_TEST_USERS: want a positive number, got " + v)
		}
		c.Users = n
	}
	return c
}

// buildResolver builds the resolver binary into a temp dir of t, without
// -race (subprocesses stay fast; the race detector runs on the in-process
// tests).
func buildResolver(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "resolver")
	start := time.Now()
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build:\n%s", out)
	t.Logf("built the resolver binary in %v", time.Since(start).Round(time.Millisecond))
	return bin
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is one resolver process.
type proc struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{} // closed when it has exited
	err            error         // Wait's result, once done
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// hasLog reports whether the process logged a JSON line with msg.
func (p *proc) hasLog(msg string) bool {
	_, ok := firstLogField(p.stderr.String(), msg, "msg")
	return ok
}

// hadPartitions reports whether the process logged an assignment of some
// partition of events_raw.
func (p *proc) hadPartitions() bool {
	for _, line := range readLines(p.stderr.String()) {
		var m struct {
			Msg        string             `json:"msg"`
			Partitions map[string][]int32 `json:"partitions"`
		}
		if json.Unmarshal([]byte(line), &m) == nil && m.Msg == "partitions assigned" && len(m.Partitions["events_raw"]) > 0 {
			return true
		}
	}
	return false
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not die after SIGKILL", p.name)
	}
}

// stop sends SIGTERM and requires a clean exit (code 0) within timeout.
func (p *proc) stop(t *testing.T, timeout time.Duration) {
	t.Helper()
	require.False(t, p.exited(), "%s exited on its own: %v\n%s", p.name, p.err, tail(p.stderr.String(), 30))
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s did not stop within %v after SIGTERM\n%s", p.name, timeout, tail(p.stderr.String(), 30))
	}
	require.NoError(t, p.err, "%s: unclean exit\n%s", p.name, tail(p.stderr.String(), 30))
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// cluster is the processes of one test: a broker and the resolver
// instances, every one of them killed at cleanup.
type cluster struct {
	t         *testing.T
	name      string          // prefixes process names
	ctx       context.Context // the test's deadline
	bin       string
	root      string
	port      int
	addr      string
	brokerDir string
	broker    *proc
	protocol  string // kafka.group_protocol of the instances
	workers   int    // stream.workers of each instance

	adminToken string // the instances' admin.token, if any (partition tests)

	mu    sync.Mutex
	procs []*proc
}

// The cluster tests run the instances with the config's defaults of
// kafka.group_protocol and stream.workers; CLUSTER_TEST_GROUP_PROTOCOL and
// CLUSTER_TEST_WORKERS override them, to compare.
func clusterGroupSettings(t *testing.T) (protocol string, workers int) {
	t.Helper()
	def := defaultConfig()
	protocol, workers = def.Kafka.GroupProtocol, def.Stream.Workers
	if v := os.Getenv("CLUSTER_TEST_GROUP_PROTOCOL"); v != "" {
		protocol = v
	}
	if v := os.Getenv("CLUSTER_TEST_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "CLUSTER_TEST_WORKERS")
		workers = n
	}
	return protocol, workers
}

// clusterBatch is the stream.max_batch_records of the cluster tests'
// instances: 500, not the default, so that their small input makes many
// transactions for a kill to land between or inside;
// CLUSTER_TEST_BATCH overrides it (e.g. the default, 2500, or 5000, to check that
// larger transactions recover the same way).
func clusterBatch(t *testing.T) int {
	t.Helper()
	if v := os.Getenv("CLUSTER_TEST_BATCH"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "CLUSTER_TEST_BATCH")
		require.Positive(t, n, "CLUSTER_TEST_BATCH")
		return n
	}
	return 500
}

// newCluster builds the binary and starts `resolver broker` on a free port
// with its data in a temp dir. The whole test must end before timeout.
func newCluster(t *testing.T, name string, timeout time.Duration) *cluster {
	t.Helper()
	c := newClusterNoBroker(t, name, timeout)
	c.startBroker()
	return c
}

// newClusterNoBroker builds the binary and sets the cluster up without
// starting `resolver broker` (the caller provides the broker, at c.addr).
func newClusterNoBroker(t *testing.T, name string, timeout time.Duration) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process test")
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	c := &cluster{t: t, name: name, ctx: ctx, bin: buildResolver(t), root: t.TempDir()}
	c.protocol, c.workers = clusterGroupSettings(t)
	c.brokerDir = filepath.Join(c.root, "broker")
	c.port = freePort(t)
	c.addr = fmt.Sprintf("127.0.0.1:%d", c.port)
	t.Cleanup(func() {
		c.mu.Lock()
		procs := slices.Clone(c.procs)
		c.mu.Unlock()
		for _, p := range procs {
			if !p.exited() {
				_ = p.cmd.Process.Signal(syscall.SIGKILL)
				<-p.done
			}
			if t.Failed() {
				t.Logf("--- last lines of %s (exit: %v):\n%s", p.name, p.err, tail(p.stderr.String(), 25))
			}
			if dir := os.Getenv("CLUSTER_TEST_LOGS"); dir != "" { // keep every log for a look
				name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name() + "-" + p.name + ".log")
				_ = os.WriteFile(filepath.Join(dir, name), []byte(p.stderr.String()), 0o644)
			}
		}
	})
	return c
}

// env is the environment of every process: the test's, without RESOLVER_*
// (TestMain has removed those), plus extra.
func (c *cluster) env(extra ...string) []string {
	return append(os.Environ(), append([]string{"RESOLVER_LOG_FORMAT=json"}, extra...)...)
}

// start runs the binary with args and env.
func (c *cluster) start(name string, env []string, args ...string) *proc {
	c.t.Helper()
	return c.startCmd(name, env, exec.Command(c.bin, args...))
}

// startCmd runs cmd (which runs the binary) with env as a process of the
// cluster.
func (c *cluster) startCmd(name string, env []string, cmd *exec.Cmd) *proc {
	c.t.Helper()
	cmd.Env = env
	p := &proc{name: c.name + "/" + name, cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	require.NoError(c.t, cmd.Start(), "start %s", name)
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return p
}

// startBroker starts (or restarts) `resolver broker` on the cluster's port
// and data dir and waits until it has created the topics.
func (c *cluster) startBroker() {
	c.t.Helper()
	// The instances' session timeout: under the consumer group protocol
	// it is the broker's.
	c.broker = c.start("broker", c.env("RESOLVER_KAFKA_SESSION_TIMEOUT=6s"), "broker", "--listen", c.addr, "--data-dir", c.brokerDir, "--partitions", "8")
	c.waitFor(c.broker, 30*time.Second, "broker listening", func() bool {
		return strings.Contains(c.broker.stdout.String(), "resolver broker listening on")
	})
}

// instanceDir is the state.dir of instance i.
func (c *cluster) instanceDir(i int) string {
	return filepath.Join(c.root, "instance-"+strconv.Itoa(i))
}

// instanceEnv is the environment of instance i against the cluster's broker.
func (c *cluster) instanceEnv(stateDir string) []string {
	return c.env(
		"RESOLVER_KAFKA_BROKERS="+c.addr,
		"RESOLVER_STATE_DIR="+stateDir,
		"RESOLVER_ADMIN_ADDR=127.0.0.1:0",
		"RESOLVER_KAFKA_SESSION_TIMEOUT=6s",
		"RESOLVER_KAFKA_GROUP_PROTOCOL="+c.protocol,
		"RESOLVER_STREAM_WORKERS="+strconv.Itoa(c.workers),
		"RESOLVER_KAFKA_RETRY_BACKOFF_MAX=500ms",
		"RESOLVER_STREAM_MAX_BATCH_RECORDS="+strconv.Itoa(clusterBatch(c.t)),
		"RESOLVER_STREAM_OUTBOX_TRIM_INTERVAL=2s",
		"RESOLVER_STREAM_SHUTDOWN_TIMEOUT=30s",
	)
}

// startInstance starts `resolver run` on stateDir without waiting.
func (c *cluster) startInstance(name, stateDir string) *proc {
	c.t.Helper()
	return c.start(name, c.instanceEnv(stateDir), "run")
}

// waitReady waits for an instance's "ready" log line: its applier has
// caught up with identity_log as of its start.
func (c *cluster) waitReady(p *proc) {
	c.t.Helper()
	c.waitFor(p, 60*time.Second, p.name+" ready", func() bool { return p.hasLog("ready") })
}

// waitFor polls cond, failing if p exits, timeout passes or the test's
// deadline comes.
func (c *cluster) waitFor(p *proc, timeout time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if p != nil && p.exited() {
			c.t.Fatalf("%s exited (%v) while waiting for %s\n%s", p.name, p.err, what, tail(p.stderr.String(), 30))
		}
		if time.Now().After(deadline) || c.ctx.Err() != nil {
			c.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// command runs a short-lived resolver command to completion and returns
// its stdout; a non-zero exit fails the test unless wantCode says otherwise.
func (c *cluster) command(env []string, wantCode int, args ...string) (stdout, stderr string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = env
	var o, e syncBuffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("resolver %v: %v", args, err)
	}
	require.Equal(c.t, wantCode, code, "resolver %v: stderr:\n%s", args, tail(e.String(), 30))
	return o.String(), e.String()
}

// summary runs `resolver fingerprint --format json` on a stopped
// instance's state dir.
func (c *cluster) summary(stateDir string) stateSummary {
	c.t.Helper()
	out, _ := c.command(c.instanceEnv(stateDir), 0, "fingerprint", "--format", "json")
	return summaryOf(c.t, out)
}

// client is a Kafka client of the test, closed at cleanup.
func (c *cluster) client(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.addr), kgo.RetryBackoffFn(func(int) time.Duration { return 200 * time.Millisecond })}, opts...)...)
	require.NoError(c.t, err)
	c.t.Cleanup(cl.Close)
	return cl
}

// produce writes records to events_raw keyed as capture keys them (so one
// distinct_id stays on one partition, in order).
func (c *cluster) produce(recs []gen.Record) {
	c.t.Helper()
	cl := c.client(kgo.DefaultProduceTopic("events_raw"))
	batch := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		batch[i] = &kgo.Record{Key: r.Key, Value: r.Value}
	}
	require.NoError(c.t, cl.ProduceSync(c.ctx, batch...).FirstErr())
	cl.Close()
}

// waitStable waits until the consumer group is stable with the members of
// n instances between which every partition of events_raw is assigned: no
// rebalance is under way, so no member is in the middle of a join.
func (c *cluster) waitStable(n int) {
	c.t.Helper()
	adm := kadm.NewClient(c.client())
	last := ""
	defer func() {
		if c.t.Failed() {
			c.t.Logf("group last seen: %s", last)
		}
	}()
	c.waitFor(nil, 90*time.Second, fmt.Sprintf("group stable with %d instances", n), func() bool {
		var stable bool
		stable, last = c.group(adm, n)
		return stable
	})
}

// waitRebalance waits until the consumer group is rebalancing — under the
// classic protocol preparing or completing a rebalance, under KIP-848
// reconciling (some member has yet to release or take partitions of the
// current assignment) — or timeout has passed.
func (c *cluster) waitRebalance(n int, timeout time.Duration) {
	c.t.Helper()
	adm := kadm.NewClient(c.client())
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && c.ctx.Err() == nil {
		if stable, desc := c.group(adm, n); !stable && !strings.HasPrefix(desc, "unknown") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// group describes the consumer group under the cluster's protocol, and
// whether it is stable with the members of n instances sharing every
// partition of events_raw and identity_commands.
func (c *cluster) group(adm *kadm.Client, n int) (stable bool, desc string) {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	members := n * c.workers
	if c.protocol == stream.GroupProtocolConsumer {
		gs, err := adm.DescribeConsumerGroups(ctx, "resolver")
		if err != nil {
			return false, "unknown: " + err.Error()
		}
		g := gs["resolver"]
		parts := 0 // of events_raw and identity_commands; kfake's describe omits topic names, so they count once
		for _, ps := range g.AssignedPartitions() {
			parts += len(ps)
		}
		desc = fmt.Sprintf("%s, epoch %d, %d members, %d partitions assigned", g.State, g.Epoch, len(g.Members), parts)
		return g.Err == nil && g.State == "Stable" && len(g.Members) == members && parts == 8, desc
	}
	gs, err := adm.DescribeGroups(ctx, "resolver")
	if err != nil {
		return false, "unknown: " + err.Error()
	}
	g := gs["resolver"]
	parts := map[string]bool{}
	for _, m := range g.Members {
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				for _, p := range t.Partitions {
					parts[t.Topic+"/"+strconv.Itoa(int(p))] = true
				}
			}
		}
	}
	desc = fmt.Sprintf("%s, %d members, %d partitions assigned", g.State, len(g.Members), len(parts))
	return g.Err == nil && g.State == "Stable" && len(g.Members) == members && len(parts) == 9, desc // events_raw's 8, identity_commands' 1
}

// logEnds returns the end offset of each identity_log partition.
func (c *cluster) logEnds() map[int32]int64 {
	c.t.Helper()
	adm := kadm.NewClient(c.client())
	ends, err := adm.ListEndOffsets(c.ctx, "identity_log")
	require.NoError(c.t, err)
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			out[o.Partition] = o.Offset
		}
	})
	return out
}

// generate returns the records of a generator config.
func generate(cfg gen.Config) []gen.Record {
	g := gen.New(cfg)
	var out []gen.Record
	for {
		r, ok := g.Next()
		if !ok {
			return out
		}
		out = append(out, r)
	}
}

// readerOpts are the options of every read_committed reader of the tests.
// One record batch per partition per fetch works around a defect of the
// embedded broker's crash recovery: kfake aborts the transactions that were
// open when it was killed without writing abort markers, and a
// read_committed client (kgo, like the Java client) that receives such an
// aborted transaction in a fetch response treats every later batch of the
// same producer in that response as aborted too, until an abort marker that
// never comes — so committed records of a producer that survived a broker
// crash are skipped by readers whose fetch spans the crash point. With one
// batch per fetch, kfake lists the aborted transaction only with its own
// batches. The records are in the log and committed (kcat reads them).
func readerOpts(topics ...string) []kgo.Opt {
	return []kgo.Opt{
		kgo.ConsumeTopics(topics...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.FetchMaxPartitionBytes(1),
	}
}

// collector reads events_person and events_dead_letter read_committed from
// the start, in the background, for the whole test. It keys every output
// by where it is in the log, so that a record the reader was handed twice
// (a client-side refetch) is told apart from one the resolver wrote twice.
type collector struct {
	mu          sync.Mutex
	stamped     map[string]map[string]bool // uuid → log positions
	dead        map[string]map[string]bool // original value → log positions
	persons     map[string]string
	producers   map[string]string // log position → the producer id and epoch that wrote it
	n           int               // distinct positions
	redelivered int               // records handed to the reader again at a position it had seen
}

func (c *cluster) collect() *collector {
	c.t.Helper()
	col := &collector{stamped: map[string]map[string]bool{}, dead: map[string]map[string]bool{}, persons: map[string]string{}, producers: map[string]string{}}
	cl := c.client(readerOpts("events_person", "events_dead_letter")...)
	ctx, cancel := context.WithCancel(c.ctx)
	done := make(chan struct{})
	c.t.Cleanup(func() { cancel(); <-done })
	see := func(m map[string]map[string]bool, k string, r *kgo.Record) {
		pos := fmt.Sprintf("%s/%d@%d", r.Topic, r.Partition, r.Offset)
		if m[k] == nil {
			m[k] = map[string]bool{}
		}
		if m[k][pos] {
			col.redelivered++
			return
		}
		m[k][pos] = true
		col.producers[pos] = fmt.Sprintf("producer %d epoch %d", r.ProducerID, r.ProducerEpoch)
		col.n++
	}
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			col.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				if r.Topic == "events_dead_letter" {
					see(col.dead, string(r.Value), r)
					return
				}
				var s struct {
					UUID     string `json:"uuid"`
					PersonID string `json:"person_id"`
				}
				if json.Unmarshal(r.Value, &s) == nil {
					see(col.stamped, s.UUID, r)
					col.persons[s.UUID] = s.PersonID
				}
			})
			col.mu.Unlock()
		}
	}()
	return col
}

func (col *collector) count() int {
	col.mu.Lock()
	defer col.mu.Unlock()
	return col.n
}

// waitAll waits until the collector has seen at least n outputs, then a
// little longer so that a duplicate would show, and checks that every
// input came out exactly once: its uuid in events_person, or (malformed
// records) its bytes in events_dead_letter, at one position of the log, and
// nothing else.
func (c *cluster) waitAll(col *collector, in []gen.Record, timeout time.Duration) {
	c.t.Helper()
	c.waitFor(nil, timeout, fmt.Sprintf("%d outputs", len(in)), func() bool { return col.count() >= len(in) })
	time.Sleep(2 * time.Second)
	col.mu.Lock()
	defer col.mu.Unlock()
	var lost, dup []string
	for _, r := range in {
		var at map[string]bool
		if r.Reason != "" {
			at = col.dead[string(r.Value)]
		} else {
			at = col.stamped[r.UUID]
		}
		switch {
		case len(at) == 0:
			lost = append(lost, r.UUID+" "+r.Kind)
		case len(at) > 1:
			var where []string
			for _, pos := range slices.Sorted(maps.Keys(at)) {
				where = append(where, pos+" ("+col.producers[pos]+")")
			}
			dup = append(dup, fmt.Sprintf("%s %s at %s", r.UUID, r.Kind, strings.Join(where, ", ")))
		}
	}
	if len(dup) > 0 { // whose producers wrote the copies
		if txns, err := kadm.NewClient(c.client()).ListTransactions(c.ctx, nil, nil); err == nil {
			for _, tx := range txns.Sorted() {
				c.t.Logf("transactional id %s: producer %d", tx.TxnID, tx.ProducerID)
			}
		}
	}
	if col.redelivered > 0 {
		c.t.Logf("the reader was handed %d records again at positions it had read (not duplicates in the log)", col.redelivered)
	}
	assert.Empty(c.t, lost, "inputs with no output")
	assert.Empty(c.t, dup, "inputs output more than once")
	require.Equal(c.t, len(in), col.n, "outputs in events_person + events_dead_letter = inputs")
}

// feeds are the persons and person_distinct_ids topics folded by version
// as a ReplacingMergeTree would, reduced to content: each distinct_id's
// person (or deletion), and each live person's row without its version.
type feeds struct {
	dids    map[string]string // team:distinct_id → person id, "deleted" for a deleted mapping
	persons map[string]string // team:id → {created_at, is_identified, properties} of a live person
}

// fold reads both feed topics to their ends as of now.
func (c *cluster) fold() feeds {
	c.t.Helper()
	f := feeds{dids: map[string]string{}, persons: map[string]string{}}
	dids := map[string]stream.DistinctIDRow{}
	for _, r := range c.readAll("person_distinct_ids") {
		var d stream.DistinctIDRow
		require.NoError(c.t, json.Unmarshal(r.Value, &d))
		k := d.Team + ":" + d.DistinctID
		if cur, ok := dids[k]; !ok || d.Version > cur.Version {
			dids[k] = d
		}
	}
	for k, d := range dids {
		if d.IsDeleted {
			f.dids[k] = "deleted"
		} else {
			f.dids[k] = d.PersonID
		}
	}
	persons := map[string]stream.PersonRow{}
	for _, r := range c.readAll("persons") {
		var p stream.PersonRow
		require.NoError(c.t, json.Unmarshal(r.Value, &p))
		k := p.Team + ":" + p.ID
		if cur, ok := persons[k]; !ok || p.Version > cur.Version {
			persons[k] = p
		}
	}
	for k, p := range persons {
		if p.IsDeleted {
			continue
		}
		p.Version = 0
		b, err := json.Marshal(p)
		require.NoError(c.t, err)
		f.persons[k] = string(b)
	}
	return f
}

// readAll reads a topic read_committed up to its last stable offsets as of
// the call.
func (c *cluster) readAll(topic string) []*kgo.Record {
	c.t.Helper()
	adm := kadm.NewClient(c.client())
	ends, err := adm.ListCommittedOffsets(c.ctx, topic)
	require.NoError(c.t, err)
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	cl := c.client(append(readerOpts(topic), kgo.KeepControlRecords())...)
	defer cl.Close()
	var out []*kgo.Record
	next := map[int32]int64{}
	for !maps.EqualFunc(want, next, func(w, n int64) bool { return n >= w }) {
		require.NoError(c.t, c.ctx.Err(), "reading %s: at %v of %v", topic, next, want)
		fs := cl.PollFetches(c.ctx)
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}

// compareFeeds checks two runs' folded feeds for equal content.
func compareFeeds(t *testing.T, want, got feeds) {
	t.Helper()
	require.NotEmpty(t, want.dids)
	var diffs []string
	for k, w := range want.dids {
		if g := got.dids[k]; g != w {
			diffs = append(diffs, fmt.Sprintf("distinct_id %s: person %s, baseline %s", k, g, w))
		}
	}
	for k := range got.dids {
		if _, ok := want.dids[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("distinct_id %s: not in the baseline", k))
		}
	}
	for k, w := range want.persons {
		if g := got.persons[k]; g != w {
			diffs = append(diffs, fmt.Sprintf("person %s:\n  got      %s\n  baseline %s", k, g, w))
		}
	}
	for k := range got.persons {
		if _, ok := want.persons[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("person %s: live here, not in the baseline", k))
		}
	}
	slices.Sort(diffs)
	if len(diffs) > 20 {
		diffs = append(diffs[:20], fmt.Sprintf("… and %d more", len(diffs)-20))
	}
	assert.Empty(t, diffs, "folded feeds differ from the single-instance run")
}

// runResult is what the tests compare between runs.
type runResult struct {
	summary stateSummary
	feeds   feeds
}

var (
	baselineMu   sync.Mutex
	baselineRuns = map[int64]runResult{}
)

// baseline is the single-instance run over clusterInput(), computed once
// per test binary.
func baseline(t *testing.T) runResult {
	t.Helper()
	in := clusterInput()
	baselineMu.Lock()
	defer baselineMu.Unlock()
	if r, ok := baselineRuns[in.Seed]; ok {
		return r
	}
	start := time.Now()
	c := newCluster(t, "baseline", 90*time.Second)
	recs := generate(in)
	col := c.collect()
	dir := c.instanceDir(0)
	inst := c.startInstance("instance", dir)
	c.waitReady(inst)
	c.produce(recs)
	c.waitAll(col, recs, 60*time.Second)
	r := runResult{feeds: c.fold()}
	inst.stop(t, 40*time.Second)
	r.summary = c.summary(dir)
	assert.Equal(t, c.logEnds(), r.summary.IdentityLog, "baseline replica applied the whole log")
	baselineRuns[in.Seed] = r
	t.Logf("single-instance baseline: %d records in %v; content digest %s", len(recs), time.Since(start).Round(time.Millisecond), r.summary.ContentDigest)
	c.broker.stop(t, 20*time.Second)
	return r
}

// stopAll stops every instance cleanly, in parallel, and returns their
// summaries; each must have applied identity_log to its end.
func (c *cluster) stopAll(insts map[int]*proc) map[int]stateSummary {
	c.t.Helper()
	var wg sync.WaitGroup
	for _, p := range insts {
		wg.Go(func() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(40 * time.Second):
			}
		})
	}
	wg.Wait()
	for _, p := range insts {
		require.True(c.t, p.exited(), "%s did not stop within 40s", p.name)
		require.NoError(c.t, p.err, "%s: unclean exit\n%s", p.name, tail(p.stderr.String(), 30))
	}
	ends := c.logEnds()
	out := map[int]stateSummary{}
	for i := range insts {
		s := c.summary(c.instanceDir(i))
		assert.Equal(c.t, ends, s.IdentityLog, "instance %d applied identity_log to its end", i)
		out[i] = s
	}
	return out
}

// billed is the sum of a stopped instance's billing totals: every stamped
// event is billed once, in one class.
func (c *cluster) billed(stateDir string) int64 {
	c.t.Helper()
	st, err := state.Open(filepath.Join(stateDir, "identity"), state.Options{CacheBytes: -1})
	require.NoError(c.t, err)
	defer st.Close()
	var n int64
	require.NoError(c.t, st.BillingTotals(func(_, _, _ string, k int64) error { n += k; return nil }))
	return n
}

// checkBilling: every instance's billing view counts each stamped event
// once.
func (c *cluster) checkBilling(col *collector, insts map[int]*proc) {
	c.t.Helper()
	col.mu.Lock()
	want := int64(len(col.stamped)) // after waitAll: each once
	col.mu.Unlock()
	for i := range insts {
		assert.Equal(c.t, want, c.billed(c.instanceDir(i)), "billing view of instance %d: events billed vs events stamped", i)
	}
}

// checkReplicas: all replicas of one log have one fingerprint, and their
// content is the baseline's.
func checkReplicas(t *testing.T, sums map[int]stateSummary, base runResult) {
	t.Helper()
	var first stateSummary
	for i := range len(sums) {
		s := sums[i]
		if i == 0 {
			first = s
			continue
		}
		assert.Equal(t, first.Fingerprint, s.Fingerprint, "fingerprint of instance %d vs instance 0", i)
		assert.Equal(t, first.IdentityLog, s.IdentityLog, "applied offsets of instance %d vs instance 0", i)
	}
	assert.Equal(t, base.summary.ContentDigest, first.ContentDigest, "content digest vs the single-instance run")
	t.Logf("fingerprint %s, content digest %s", first.Fingerprint, first.ContentDigest)
}

// startReady starts n instances in the cluster's group, each on its own
// state dir, and waits until every one is ready.
func (c *cluster) startReady(n int) map[int]*proc {
	insts := map[int]*proc{}
	for i := range n {
		insts[i] = c.startInstance(fmt.Sprintf("instance-%d", i), c.instanceDir(i))
	}
	for _, p := range insts {
		c.waitReady(p)
	}
	return insts
}

// convergeWait is how long, once every output has been read (waitAll, which
// then waits 2s more), the instances get to be ready with identity_log
// applied to its end: the log stopped growing before the last output
// committed, and a ready replica holds the log as of readiness.max_lag ago
// at most — so readiness.max_lag plus a second of slack for the poll.
func convergeWait() time.Duration { return defaultConfig().Readiness.MaxLag + time.Second }

// checkMergesOnce checks that person_merges holds every lineage record of
// the stopped replica in stateDir exactly once: no record twice (its parts
// counted by log position and part), none missing, none extra — the
// exactly-once of the feeds, for lineage (docs/SEMANTICS.md §8). It returns
// how many records there were.
func (c *cluster) checkMergesOnce(stateDir string) int {
	c.t.Helper()
	type rec struct {
		team, rule, refused string
		part                int32
		off                 int64
	}
	key := func(team string, part int32, off int64, rule, refused string) rec {
		return rec{team: team, part: part, off: off, rule: rule, refused: refused}
	}
	feed := map[rec]int{}  // records (their first parts) on person_merges
	moved := map[rec]int{} // ids moved, summed over parts
	var dups []string
	seenPart := map[string]bool{}
	for _, r := range c.readAll("person_merges") {
		var m stream.MergeRow
		require.NoError(c.t, json.Unmarshal(r.Value, &m), "%s", r.Value)
		k := key(m.Team, m.LogPartition, m.LogOffset, m.Rule, m.Refused)
		p := fmt.Sprintf("%v part %d/%d", k, m.Part, m.Parts)
		if seenPart[p] {
			dups = append(dups, p)
			continue
		}
		seenPart[p] = true
		if m.Part == 1 {
			feed[k]++
		}
		moved[k] += len(m.DistinctIDsMoved)
	}
	st, err := state.Open(filepath.Join(stateDir, "identity"), state.Options{})
	require.NoError(c.t, err)
	defer func() { require.NoError(c.t, st.Close()) }()
	var missing []string
	n := 0
	require.NoError(c.t, st.EachLineage(func(row unionfind.MergeRow, total uint64) error {
		n++
		k := key(row.Team, row.Log.Partition, row.Log.Offset, row.Rule.String(), row.Refused)
		switch {
		case feed[k] == 0:
			missing = append(missing, fmt.Sprint(k))
		case moved[k] != int(total):
			missing = append(missing, fmt.Sprintf("%v: %d ids on person_merges, %d recorded", k, moved[k], total))
		}
		feed[k]--
		return nil
	}))
	var extra []string
	for k, left := range feed {
		if left > 0 {
			extra = append(extra, fmt.Sprint(k))
		}
	}
	assert.Empty(c.t, dups, "person_merges rows written twice")
	assert.Empty(c.t, missing, "lineage records missing from person_merges")
	assert.Empty(c.t, extra, "person_merges rows of no recorded lineage")
	return n
}
