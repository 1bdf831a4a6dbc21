package stream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// Fencing limits: a worker session whose producer is fenced is replaced
// (see renewSession), but more than maxFencings fencings within
// fencingWindow mean that another live process uses the same transactional
// id, and the instance stops rather than fence it back and forth.
const (
	maxFencings   = 5
	fencingWindow = time.Minute
)

// The consumer group protocols of kafka.group_protocol.
const (
	// GroupProtocolClassic is the JoinGroup/SyncGroup protocol: the
	// members rebalance together and one of them, the leader, assigns the
	// partitions (kgo's cooperative-sticky balancer).
	GroupProtocolClassic = "classic"
	// GroupProtocolConsumer is KIP-848's protocol: each member only
	// heartbeats (ConsumerGroupHeartbeat), the broker assigns the
	// partitions (its "range" assignor: each topic's partitions spread
	// over the members) and moves a partition to a new owner only once
	// the old one has released it or has been fenced. It needs Kafka 4.0
	// or later, or the embedded broker; kgo falls back to the classic
	// protocol (with the eager range balancer) on a broker without it.
	// The session timeout is then the broker's
	// (group.consumer.session.timeout.ms; the embedded broker sets it from
	// kafka.session_timeout, see broker.Config), not the client's.
	GroupProtocolConsumer = "consumer"

	// DefaultGroupProtocol is the protocol of an empty Kafka.GroupProtocol:
	// KIP-848's, which the embedded broker implements without the defects
	// of its classic coordinator (see rebalanceTimeout), so that the kill
	// test (TestClusterKill9 in cmd/resolver: eight kills, some inside
	// rebalances) runs without the classic protocol's stalls — about 22s,
	// against up to 52s. On Kafka before 4.0 kgo falls back to classic.
	DefaultGroupProtocol = GroupProtocolConsumer
)

// GroupProtocols are the values ParseGroupProtocol accepts.
var GroupProtocols = []string{GroupProtocolClassic, GroupProtocolConsumer}

// ParseGroupProtocol checks a kafka.group_protocol value and returns it,
// "" being DefaultGroupProtocol.
func ParseGroupProtocol(name string) (string, error) {
	switch name {
	case "":
		return DefaultGroupProtocol, nil
	case GroupProtocolClassic, GroupProtocolConsumer:
		return name, nil
	}
	return "", fmt.Errorf("unknown group protocol %q: want one of %s", name, strings.Join(GroupProtocols, ", "))
}

// GroupProtocolOpts are the group options of k's group protocol, for the
// worker sessions and for any group member that should behave as one (the
// bench's passthrough). Under both protocols the client sends its session
// and rebalance timeouts (a zero SessionTimeout is 10s): the classic
// protocol uses both; KIP-848 uses the rebalance timeout (how long a member
// may take to release revoked partitions before it is fenced) and the
// session timeout only if kgo falls back to the classic protocol.
func GroupProtocolOpts(k Kafka) ([]kgo.Opt, error) {
	protocol, err := ParseGroupProtocol(k.GroupProtocol)
	if err != nil {
		return nil, fmt.Errorf("stream: kafka.group_protocol: %w", err)
	}
	if k.SessionTimeout <= 0 {
		k.SessionTimeout = defaultSessionTimeout
	}
	opts := []kgo.Opt{
		kgo.SessionTimeout(k.SessionTimeout),
		kgo.RebalanceTimeout(rebalanceTimeout(k.SessionTimeout)),
	}
	if protocol == GroupProtocolConsumer {
		// ServerSideBalancer takes effect only with the range or the
		// (eager) sticky balancer first, and asks for the broker's assignor
		// of that name. Range spreads each topic over the members; the
		// broker's "uniform" (what sticky asks for) only evens out the
		// count of partitions per member, and moved a whole topic to a
		// joining member — with the events on one member and the commands
		// on the other, a second worker or instance added nothing
		// (TestGroupSpreadsTheInput).
		opts = append(opts, kgo.Balancers(kgo.RangeBalancer()), kgo.ServerSideBalancer())
	}
	return opts, nil
}

// newSession makes the transactional group session of worker w.
func (p *Pipeline) newSession(w *worker) (*kgo.GroupTransactSession, error) {
	txnID := w.txnID
	protoOpts, err := GroupProtocolOpts(p.cfg.Kafka)
	if err != nil {
		return nil, err
	}
	opts := append(OutputClientOpts(p.cfg.Kafka, p.log, "worker"), protoOpts...)
	sess, err := kgo.NewGroupTransactSession(append(opts,
		kgo.ConsumerGroup(p.cfg.Group),
		kgo.ConsumeTopics(p.cfg.Topics.Raw, p.cfg.Topics.Commands),
		kgo.TransactionalID(txnID),
		// kgo's default is 40s: a zombie's open transaction would hold
		// back the outputs' readers that long (TestPartitionLongerThanSession).
		kgo.TransactionTimeout(p.cfg.Kafka.TransactionTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(defaultFetchMaxWait),
		// Anyone who can produce to the input writes what this client
		// decompresses: bounded (boundedDecompressor), with the fetch.
		kgo.WithDecompressor(newBoundedDecompressor(p.cfg.MaxBatchBytes, p.cfg.MaxCompressionRatio)),
		kgo.FetchMaxBytes(boundedFetchMaxBytes),
		kgo.ProducerLinger(0),
		kgo.ProducerBatchMaxBytes(p.batchMaxBytes()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.OnPartitionsAssigned(func(ctx context.Context, cl *kgo.Client, a map[string][]int32) {
			p.log.Info("partitions assigned", zap.Any("partitions", a))
			p.initProducer(ctx, cl, w)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			if len(r) > 0 {
				w.revoked.Store(true)
			}
			p.log.Info("partitions revoked", zap.Any("partitions", r))
		}),
		kgo.OnPartitionsLost(func(_ context.Context, cl *kgo.Client, l map[string][]int32) {
			w.lost.Store(true)
			member, epoch := cl.GroupMetadata()
			p.log.Warn("partitions lost: the group has given them to other members, as this member's session expired or its member epoch was fenced (cut off from the broker, or stalled, for longer than kafka.session_timeout); the batch in hand, if any, will be aborted",
				zap.Any("partitions", l), zap.String("member_id", member), zap.Int32("member_epoch", epoch),
				zap.String("transactional_id", txnID))
		}),
	)...)
	if err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	// Also at once, not only at the first assignment: a restarted worker
	// that is given no partition (more workers than the group needs, or a
	// rebalance still settling) must still abort what its predecessor left
	// open, or the group's offsets stay unstable until that transaction
	// times out. Bounded, so an unreachable broker only delays start-up;
	// the assignment callback tries again.
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Kafka.SessionTimeout)
	p.initProducer(ctx, sess.Client(), w)
	cancel()
	return sess, nil
}

// initProducer initialises the session's transactional producer unless it
// is already (kgo would do it only at the first produce). It runs in
// OnPartitionsAssigned, which kgo calls before the session reads the
// committed offsets of the partitions it was given, so the session first
// fences the previous incarnation of its transactional id and aborts the
// transaction that one, killed, may have left open — as Kafka's Java
// producer does in initTransactions. Otherwise the offsets stay unstable
// until that transaction times out (kgo's default: 40s): Kafka answers
// UNSTABLE_OFFSET_COMMIT for a partition with a pending transactional
// offset commit, the embedded broker for every partition of the group while
// any transaction holds one of its offsets. An instance restarted after
// kill -9 then waited on its own predecessor's transaction for the first
// produce that would have aborted it, and the group stalled with it (seen
// in TestClusterKill9 in cmd/resolver: 40s, until kfake's "txn timeout
// abort" of the victim's transactional id; TestRestartAbortsPredecessorTransaction).
//
// ctx is the client's: Close ends a wait on an unreachable broker. A
// failure is logged; the next Begin reports a fatal one.
func (p *Pipeline) initProducer(ctx context.Context, cl *kgo.Client, w *worker) {
	id, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("initialising the transactional producer", zap.String("transactional_id", w.txnID), zap.Error(err))
		}
		return
	}
	w.producer.Store(&producerEpoch{id, epoch})
}

// zombieFate says whether the batch just ended was a zombie's (see
// BatchReport.Zombie) and logs it: the worker tried to commit and the
// group had moved its partitions on, or its producer was fenced. try and
// committed are what the worker asked of End and what End did; batchErr is
// the batch's own failure, endErr End's.
func (p *Pipeline) zombieFate(ctx context.Context, w *worker, fs kgo.Fetches, try kgo.TransactionEndTry, committed bool, batchErr, endErr error) string {
	if ctx.Err() != nil {
		return "" // stopping: an abort is ours
	}
	var fate, msg string
	switch {
	case isFenced(batchErr) || isFenced(endErr):
		fate = ZombieProducerFenced
		msg = "zombie batch: the broker fenced this worker's transactional producer (it knows a newer epoch: the transaction outlived its timeout, or a newer incarnation of the transactional id began); the transaction is aborted and the records are processed again, by a new session or by the partitions' new owners"
		p.stats.Fenced.Add(1)
	case try == kgo.TryCommit && endErr == nil && !committed:
		if !w.lost.Load() && !p.awaitLost(ctx, w) {
			// kgo aborts the first transaction after any revocation,
			// even of no partition, even one before the transaction
			// began; or the broker did not confirm the offsets.
			p.log.Info("transaction aborted by the group session (a rebalance revoked partitions, or the offsets' commit was not confirmed); the records are processed again",
				zap.String("transactional_id", w.txnID), zap.Bool("revoked", w.revoked.Load()), zap.Int("records", fs.NumRecords()))
			return ""
		}
		fate = ZombieGroupFenced
		msg = "zombie batch: the group moved this batch's partitions to other members before it could commit (this member's session expired or its epoch was fenced: cut off from the broker, or stalled, for longer than kafka.session_timeout); the broker refused its offsets, the transaction is aborted, and the new owners process the records"
		p.stats.GroupFenced.Add(1)
	default:
		return ""
	}
	member, epoch := w.sess.Client().GroupMetadata()
	fields := []zap.Field{zap.String("fate", fate), zap.String("transactional_id", w.txnID)}
	if pe := w.producer.Load(); pe != nil {
		fields = append(fields, zap.Int64("producer_id", pe.id), zap.Int16("producer_epoch", pe.epoch))
	}
	fields = append(fields, zap.String("member_id", member), zap.Int32("member_epoch", epoch),
		zap.Int("records", fs.NumRecords()), zap.Any("partitions", fetchedPartitions(fs)))
	if err := cmp.Or(endErr, batchErr); err != nil {
		fields = append(fields, zap.Error(err))
	}
	p.log.Warn(msg, fields...)
	return fate
}

// awaitLost waits a little for the session to learn that it lost its
// partitions, after a commit the group session refused without saying why:
// a member whose session expired may be refused its offsets (its member is
// unknown) before its next heartbeat reports the loss. It waits two
// heartbeat intervals of the embedded broker's (a tenth of the session
// timeout each), at most 2s.
func (p *Pipeline) awaitLost(ctx context.Context, w *worker) bool {
	deadline := time.Now().Add(min(p.cfg.Kafka.SessionTimeout/5, 2*time.Second))
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if w.lost.Load() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return w.lost.Load()
}

// fetchedPartitions are the partitions of a poll and the offsets it
// fetched of each, "first-last".
func fetchedPartitions(fs kgo.Fetches) map[string]string {
	out := map[string]string{}
	fs.EachPartition(func(ft kgo.FetchTopicPartition) {
		if n := len(ft.Records); n > 0 {
			out[ft.Topic+"/"+strconv.Itoa(int(ft.Partition))] = strconv.FormatInt(ft.Records[0].Offset, 10) + "-" + strconv.FormatInt(ft.Records[n-1].Offset, 10)
		}
	})
	return out
}

// isFenced reports whether a batch failed because the session's
// transactional producer was fenced: the broker knows a newer epoch of its
// transactional id. kgo treats that as fatal for the client (under
// transactions v2 an InvalidProducerEpoch is too), so only a new session
// can go on.
//
// It happens without any other process: the embedded broker, restarted
// after a crash, aborts the transactions that were open and bumps their
// producers' epochs; a real cluster does the same to a transaction that
// outlives its timeout.
//
// INVALID_TXN_STATE counts too. Under transactions v2 (KIP-890, EndTxn v5)
// a broker that sees an EndTxn one epoch behind, with no transaction open,
// takes it for the retry of the EndTxn that bumped the epoch, and answers
// INVALID_TXN_STATE when it asks for the other outcome: so a commit that
// arrives after a newer incarnation initialised the transactional id (which
// aborted ours and bumped the epoch once) but before that one opened its
// own transaction is refused with INVALID_TXN_STATE, not PRODUCER_FENCED
// (TestPipelineSurvivesFencing, about 1 run in 40 under -race, stopped the
// instance). Either way the transaction is gone and the client's
// transactional state is unusable: a new session is the way on, and
// maxFencings still bounds a loop.
func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.InvalidTxnState)
}

// renewSession replaces a fenced session: it closes the old one (leaving
// the group; the fenced transaction is already aborted, so its records go
// to whoever owns their partitions next, this instance included) and makes
// a new one, whose producer initialisation takes a new epoch. fencings
// holds the times of recent fencings; too many within fencingWindow is an
// error.
func (p *Pipeline) renewSession(ctx context.Context, w *worker, cause error, fencings *[]time.Time) (*kgo.GroupTransactSession, error) {
	old := w.sess
	if n := noteFencing(fencings, time.Now()); n > maxFencings {
		return nil, fmt.Errorf("%w: fenced %d times within %v: is another instance running with transactional id %q? (last: %w)",
			errFatal, n, fencingWindow, w.txnID, cause)
	}
	p.log.Warn("transactional producer fenced; a new session takes over",
		zap.String("transactional_id", w.txnID), zap.Error(cause))
	old.Close()
	w.sess = nil // closed; the caller installs the new one
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(p.cfg.Kafka.RetryBackoff / 4):
	}
	return p.newSession(w)
}

// noteFencing records a fencing at now in fencings, forgetting those older
// than fencingWindow, and returns how many are left.
func noteFencing(fencings *[]time.Time, now time.Time) int {
	recent := (*fencings)[:0]
	for _, t := range *fencings {
		if now.Sub(t) < fencingWindow {
			recent = append(recent, t)
		}
	}
	*fencings = append(recent, now)
	return len(*fencings)
}
