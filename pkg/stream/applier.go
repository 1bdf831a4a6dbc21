package stream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/redact"
	"github.com/resolver-dev/resolver/pkg/shred"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream/oplog"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// applierBatch is the most identity_log records applied in one Badger
// transaction; halved while Badger says the transaction is too big.
//
// It was 4096, and that made a replica that is behind fall further behind
// (issue 11, item 8): every merge that relabels an explicit person scans
// its members with a Badger iterator, and an iterator of a read-write
// transaction copies and sorts all of the transaction's pending writes
// (badger txn.go, newPendingWritesIterator). A chunk's cost grows with the
// square of its size, and a replica gets big chunks exactly when it is
// behind: BenchmarkApplyChunk applies logins with an alias every third op
// at ~36-48µs per op in chunks of 64-128 and ~1.1-1.4ms per op in chunks of
// 4096; logins alone cost ~30µs per op at any size. Replaying the
// identity_log of 60,000 generated events (5,822 ops; stream.Rebuild under
// pprof) took 1.03-1.44s of CPU at 4096, 63-74% of it in that sort, and
// 0.34-0.41s at 128. 128 keeps the transaction's fixed cost amortised and
// the scans cheap.
const applierBatch = 128

const (
	// pauseLogInterval is how often a paused applier says so again.
	pauseLogInterval = 30 * time.Second
	// pausedRetryDelay is how long Wait holds a worker whose ops wait on a
	// paused partition before it fails the batch (retryable): the backoff
	// of the batch's retries while the instance waits for its upgrade.
	pausedRetryDelay = 5 * time.Second
	// maxRejectLogs bounds the warn lines of one chunk's rejected records;
	// the metric counts them all.
	maxRejectLogs = 10
)

// Applier replays identity_log into the local replica: every partition, in
// log order, each chunk of records in one Badger transaction together with
// the next offset to apply, so state and offsets never disagree. It is a
// follower of identity_log (follower.go), as the BillingView is of
// billing_usage.
//
// Run is the only writer of identity state. Ops are skipped when their
// source (topic, partition, offset, index) is at or below the highest source
// already applied from that source partition in that log partition: a batch
// re-logged after a crash is applied once.
//
// # No single record stops the fleet
//
// Every replica applies the same log, so the applier sorts what can go
// wrong with a record into three kinds (docs/DESIGN.md, "No single record stops
// the fleet"):
//
//   - Rejected, identically on every replica: a record that is not an op
//     (undecodable, a Kafka tombstone: Malformed) and an op that decodes but
//     cannot be applied for a reason that depends only on the op and the
//     state before it (Rejected): unionfind.ErrInvalidOp, a write the store
//     refuses for its size (state.IsInvalidWrite: a key over 65,000 bytes),
//     an op whose writes alone do not fit one Badger transaction, a source
//     that is not a record of the input topic (below). The record is
//     skipped, its offset applied past, a warn line gives its identity_log
//     partition and offset and its source coordinates (ids redacted), and
//     the metric resolver_identity_ops_total{result="rejected"|"malformed"}
//     counts it. An op is all or nothing: when one fails inside a chunk's
//     transaction, the transaction is discarded and the chunk applied again
//     without it, so none of its writes survive; the ops before it give the
//     same result again, because applying is deterministic.
//   - Paused: a record of an op version this binary does not know
//     (oplog.ErrVersion) cannot be judged. Skipping it would make this replica
//     differ for good from upgraded ones, so the applier applies the
//     partition up to it and no further, logs it at error level (again every
//     30s), sets resolver_applier_paused and Health to ErrApplierPaused, and
//     waits for the instance to be upgraded; other partitions go on. Wait
//     fails the batches that need the partition with a retryable error.
//   - Local (anything else: I/O, a full disk, a closed or corrupt store): Run
//     stops with an error that wraps ErrApplierStopped, names the cause and
//     what to do, and Health reports it first.
//
// # Source offsets
//
// A forged op with source offset MaxInt64 would raise its source
// partition's high-water mark so that every later real op of that partition
// is skipped. So an op's source must be a record the workers consumed: an
// event op's a record of the input topic (Config.Topics.Raw), a delete or
// split op's a record of the commands topic (Config.Topics.Commands): the
// topic must be that topic, the partition one of its partitions, the offset
// non-negative and below the partition's end offset. End offsets are listed once and cached; the applier lists
// them again only when an op claims an offset at or past the cached end, at
// most once per chunk, after the chunk was fetched.
//
// What that guarantees, and what it does not:
//
//   - No legitimate op is ever rejected, on any replica, at any time: its
//     source record was written before the op was logged, and a partition's
//     end offset never goes down (short of deleting and re-creating the
//     topic), so offset < end holds whenever the op is
//     applied, and the listing made after the chunk was fetched sees it.
//   - An op whose source is another topic, a negative partition or offset,
//     or an offset the partition never reaches (MaxInt64) is rejected by
//     every replica, live or rebuilt, forever. No op can raise a high-water
//     mark past the end of its source partition as of when it is applied,
//     so a forged op can only cause the skipping of real ops of records that
//     already existed when it was applied and were not yet logged.
//   - Not guaranteed: a forged op claiming an offset at or past the end when
//     the live replicas apply it, but that the partition reaches later, is
//     rejected by them and accepted by a replica that applies it after the
//     partition has grown past it — a rebuild from the log start, a replica
//     restored from an older snapshot, one that lagged that long. Such a
//     replica then differs in that op and in real ops of that source
//     partition, logged after it, with offsets up to the forged one. The
//     same holds for a partition number the input topic gains later.
//     Replicas that apply the op before the partition reaches its offset —
//     the live fleet, which applies within seconds — agree. No rule on a
//     moving end offset can close that window (the end an op was judged
//     against is not in the log), and bounding how far one op may move a
//     high-water mark past the previous one would reject real ops (one
//     team's identity events may be millions of records apart); what
//     closes it is that nobody but the resolver can write identity_log (see
//     the README's ACLs).
//   - Renaming the input topic (topics.raw) makes the ops logged before the
//     rename foreign: a rebuild after it rejects them. Rebuild before
//     renaming, or keep the name.
type Applier struct {
	f     *follower // identity_log; its next offsets are the applied ones
	topic string
	st    *state.Store
	graph unionfind.Graph
	log   *zap.Logger
	batch int // records per transaction now: chunk, halved while Badger says too big
	chunk int // records per transaction: applierBatch, or replayBatch in a rebuild
	poll  int // records per poll: chunk, or replayPoll in a rebuild
	// outboxFloor: in a rebuild, the group's committed offsets, below which
	// an op's outbox rows are not stored (replayMode); nil: all are.
	outboxFloor map[topicPartition]int64
	ids         redact.IDs
	obs         Observer    // nil: no reports
	rep         ApplyReport // reused for every report

	keys       *shred.Ring   // identity_keys: the data keys of sealed values; nil without a client
	src        *sourceEnds   // the input topic's end offsets (Source offsets)
	cmds       *sourceEnds   // the commands topic's: the sources of delete and split ops
	pauseLog   time.Duration // pauseLogInterval; tests shorten it
	pauseRetry time.Duration // pausedRetryDelay; tests shorten it

	// paused are the log partitions paused at a record of an unknown
	// version; guarded by f's lock (f.update, f.locked), as waits judge by
	// it.
	paused map[int32]pause

	// Counters for metrics.
	Applied   atomic.Int64 // ops applied
	Skipped   atomic.Int64 // duplicate ops skipped
	Malformed atomic.Int64 // records that are not ops (rejected: logged, skipped)
	Rejected  atomic.Int64 // ops every replica refuses (logged, skipped)
	// KeysMissing counts sealed ops applied without their values because
	// their key was tombstoned or absent on identity_keys, or did not open
	// them, while the replica did not hold it as erased.
	KeysMissing atomic.Int64
}

// pause is where a log partition is paused.
type pause struct {
	offset  int64  // the record of the unknown version: the next offset to apply
	version uint64 // its version
	since   time.Time
}

// NewApplier makes an applier of cfg.Topics.IdentityLog into st, resuming
// from the offsets recorded in st. The topic must exist. It fails with
// ErrLogTruncated (CheckLogStart) if the log no longer holds records st has
// yet to apply.
func NewApplier(ctx context.Context, cfg Config, st *state.Store, log *zap.Logger) (*Applier, error) {
	applied, err := st.AppliedOffsets()
	if err != nil {
		return nil, fmt.Errorf("stream: applier: read applied offsets: %w", err)
	}
	admCl, err := kgo.NewClient(ClientOpts(cfg.Kafka, log, "applier-admin")...)
	if err != nil {
		return nil, fmt.Errorf("stream: applier: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	parts, err := topicPartitions(ctx, adm, cfg.Topics.IdentityLog)
	if err != nil {
		return nil, err
	}
	// Consuming from an offset the log no longer holds would silently
	// start over at the log start, skipping what was deleted.
	if err := CheckLogStart(ctx, adm, cfg.Topics.IdentityLog, applied); err != nil {
		return nil, err
	}
	a := newApplier(cfg, st, log, nil)
	if applied != nil {
		a.f.next = applied
	}
	err = a.f.consume(cfg.Kafka, parts, log, "applier",
		// Never skip: if retention deletes records while the applier is
		// behind, fail (Run) instead of resetting to the log start.
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.FetchMaxWait(defaultFetchMaxWait),
	)
	if err != nil {
		return nil, fmt.Errorf("stream: applier: %w", err)
	}
	var master *shred.MasterKey
	if cfg.MasterKey != "" {
		if master, err = shred.ParseMasterKey(cfg.MasterKey); err != nil {
			a.f.cl.Close()
			return nil, fmt.Errorf("stream: identity.master_key: %w", err)
		}
	}
	a.keys, err = shred.NewRing(shred.RingConfig{Topic: cfg.Topics.Keys, Opts: append(ClientOpts(cfg.Kafka, log, "keys"), replicatedFetchOpts()...), MasterKey: master, Logger: log})
	if err != nil {
		a.f.cl.Close()
		return nil, fmt.Errorf("stream: applier: %w", err)
	}
	a.src.list = listEnds(kadm.NewClient(a.f.cl), cfg.Topics.Raw)
	a.cmds.list = listEnds(kadm.NewClient(a.f.cl), cfg.Topics.Commands)
	return a, nil
}

// newApplier is an Applier without its client: Run needs one (NewApplier
// sets it), apply does not. list lists the input topic's end offsets (and,
// in tests, stands in for the commands topic's too).
func newApplier(cfg Config, st *state.Store, log *zap.Logger, list func(context.Context) (map[int32]int64, error)) *Applier {
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("applier")
	return &Applier{
		f:          newFollower(cfg.Topics.IdentityLog, nil, ErrApplierStopped),
		topic:      cfg.Topics.IdentityLog,
		st:         st,
		graph:      unionfind.Graph{MaxMergeMove: cfg.MaxMergeMove, MaxPersonPropertiesBytes: cfg.MaxPersonPropertiesBytes},
		log:        log,
		batch:      applierBatch,
		chunk:      applierBatch,
		poll:       applierBatch,
		ids:        redact.Show(cfg.LogIDs),
		obs:        cfg.Observer,
		src:        &sourceEnds{topic: cfg.Topics.Raw, list: list, log: log, backoff: cfg.Kafka.RetryBackoff},
		cmds:       &sourceEnds{topic: cfg.Topics.Commands, list: list, log: log, backoff: cfg.Kafka.RetryBackoff},
		pauseLog:   pauseLogInterval,
		pauseRetry: pausedRetryDelay,
		paused:     map[int32]pause{},
	}
}

// topicPartitions lists the partitions of a topic, waiting a little for a
// topic that was just created to show up in metadata.
func topicPartitions(ctx context.Context, adm *kadm.Client, topic string) ([]int32, error) {
	var last error
	for try := 0; try < 150; try++ { // kgo may answer from metadata cached for up to 5s
		td, err := adm.ListTopics(ctx, topic)
		switch {
		case err != nil:
			last = err
		case td[topic].Err != nil:
			last = td[topic].Err
		case len(td[topic].Partitions) == 0:
			last = errors.New("no partitions")
		default:
			return td[topic].Partitions.Numbers(), nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("stream: list partitions of %s: %w", topic, last)
}

// Run applies records until ctx is done or a local failure stops it. It
// owns the client and closes it on return. The error it returns wraps
// ErrApplierStopped and names the cause and what to do; Health returns it
// from then on. A record every replica refuses never stops it, and an op
// of an unknown version pauses its partition (see Applier).
func (a *Applier) Run(ctx context.Context) (err error) {
	defer func() { err = a.f.finish(err) }()
	if a.keys != nil {
		defer a.keys.Close()
	}
	remind, stopRemind := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { a.remindPaused(remind) })
	defer func() {
		stopRemind()
		wg.Wait()
	}()
	return a.f.run(ctx, a.poll, a.fetchErr, func(ctx context.Context, recs []*kgo.Record) error {
		if err := a.apply(ctx, recs); err != nil {
			if ctx.Err() != nil {
				return nil // stopped while listing source offsets: nothing was half done; run returns at its next poll
			}
			return fmt.Errorf("%w. The record is not the cause: every other replica applies it. The cause is local to this instance"+
				" (its disk, its state directory, its process): fix it (free disk space, permissions, failing hardware), then restart;"+
				" the applier resumes from its last committed offset (if the state directory is damaged, rebuild it: resolver rebuild)", err)
		}
		return nil
	})
}

// fetchErr is what Run does with a fetch error of log partition p: its
// next offset to apply deleted is fatal (truncated), anything else is
// retried by the client.
func (a *Applier) fetchErr(p int32, err error) error {
	if errors.Is(err, kerr.OffsetOutOfRange) {
		return a.truncated(p, err)
	}
	a.log.Warn("fetch identity_log (retrying)", zap.String("topic", a.topic), zap.Int32("partition", p), zap.Error(err))
	return nil
}

// remindPaused logs again, every pauseLog, each partition still paused.
func (a *Applier) remindPaused(ctx context.Context) {
	t := time.NewTicker(a.pauseLog)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var ps map[int32]pause
		a.f.locked(func() { ps = maps.Clone(a.paused) })
		for _, p := range slices.Sorted(maps.Keys(ps)) {
			a.logPaused(p, ps[p])
		}
	}
}

// logPaused says, at error level, that log partition p is paused.
func (a *Applier) logPaused(p int32, ps pause) {
	a.log.Error("applier PAUSED: an identity_log record holds an op version this binary does not know;"+
		" nothing of its partition is applied past it until this instance is upgraded to a binary that reads it",
		zap.String("topic", a.topic), zap.Int32("partition", p), zap.Int64("offset", ps.offset),
		zap.Uint64("version", ps.version), zap.Duration("paused_for", time.Since(ps.since).Round(time.Second)))
}

// truncated is the error of a fetch of partition p that found its next
// offset to apply deleted while the applier ran: the records between are
// lost to this replica, as in CheckLogStart at start-up.
func (a *Applier) truncated(p int32, err error) error {
	next := a.f.offsets()[p] // 0 if never applied
	return fmt.Errorf("%w while the applier ran behind: partition %d of %s no longer holds offset %d, the next this replica must apply (deleted by retention or DeleteRecords before it was applied; %v)."+
		" Its identity state cannot be replayed: restore a snapshot of an instance that has applied past it"+
		" (resolver snapshot --out FILE of its stopped state, then resolver restore --from FILE into a fresh state.dir for this instance),"+
		" and give identity_log a retention longer than any instance may lag", ErrLogTruncated, p, a.topic, next, err)
}

// verdict is what the applier does with one identity_log record.
type verdict uint8

const (
	vApply     verdict = iota // an op to apply (or skip as a duplicate)
	vMalformed                // not an op: skipped, counted, logged
	vRejected                 // an op every replica refuses: skipped, counted, logged
	vHeld                     // at or after a pause: not applied, its offset not passed
)

// entry is one record on its way through apply.
type entry struct {
	rec     *kgo.Record
	op      unionfind.Op
	verdict verdict
	reason  error // why it is malformed or rejected
}

// apply applies a poll's records. Its errors are local (a rejection is not
// an error), or ctx's.
func (a *Applier) apply(ctx context.Context, recs []*kgo.Record) error {
	ents, err := a.classify(ctx, recs)
	if err != nil {
		return err
	}
	if err := a.waitForKeys(ctx, ents); err != nil {
		return err
	}
	for len(ents) > 0 {
		n := min(len(ents), a.batch)
		err := a.applyChunk(ents[:n])
		switch {
		case state.IsTxnTooBig(err) && n > 1:
			a.batch = max(n/2, 1)
			continue
		case state.IsTxnTooBig(err) && ents[0].verdict == vApply:
			// One op whose writes alone do not fit a transaction: the same
			// on every replica (the bound is Badger's, from options this
			// binary fixes), so rejected like any op that cannot be applied.
			ents[0].verdict, ents[0].reason = vRejected, fmt.Errorf("the op's writes do not fit one transaction: %w", err)
			continue
		case err != nil:
			return fmt.Errorf("stream: apply identity_log partition %d offsets %d to %d: %w",
				ents[0].rec.Partition, ents[0].rec.Offset, ents[n-1].rec.Offset, err)
		}
		ents = ents[n:]
	}
	a.batch = a.chunk
	return nil
}

// classify decodes recs and judges what can be judged before applying:
// records that are not ops, sources that are not records of the input
// topic, and records at or after a pause (which it starts, at a record of
// an unknown version). Its only error is ctx's.
func (a *Applier) classify(ctx context.Context, recs []*kgo.Record) ([]entry, error) {
	ents := make([]entry, len(recs))
	var unsure []int // ops whose source offset is at or past the cached end
	held := map[int32]bool{}
	a.f.locked(func() {
		for p := range a.paused {
			held[p] = true
		}
	})
	for i, r := range recs {
		e := &ents[i]
		e.rec = r
		if held[r.Partition] {
			e.verdict = vHeld
			continue
		}
		if err := refusedBatch(r); err != nil {
			e.verdict, e.reason = vMalformed, err
			continue
		}
		if r.Value == nil {
			e.verdict, e.reason = vMalformed, errors.New("a Kafka tombstone (null value), not an op")
			continue
		}
		op, err := oplog.Decode(r.Value)
		var ve *oplog.VersionError
		switch {
		case errors.As(err, &ve):
			e.verdict, held[r.Partition] = vHeld, true
			a.startPause(r.Partition, r.Offset, ve.Version)
			continue
		case err != nil:
			e.verdict, e.reason = vMalformed, err
			continue
		}
		e.op = op
		e.op.Log = unionfind.LogPos{Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp.UnixMilli()}
		if err := a.sourcesOf(&e.op).check(op.Source, false); err != nil {
			if errors.Is(err, errSourceUnsure) {
				unsure = append(unsure, i)
				continue
			}
			e.verdict, e.reason = vRejected, err
		}
	}
	if len(unsure) == 0 {
		return ents, nil
	}
	// One listing for the chunk, made after every record of it was logged,
	// so after every legitimate source record of it was written.
	refreshed := map[*sourceEnds]bool{}
	for _, i := range unsure {
		s := a.sourcesOf(&ents[i].op)
		if !refreshed[s] {
			if err := s.refresh(ctx); err != nil {
				return nil, err
			}
			refreshed[s] = true
		}
		if err := s.check(ents[i].op.Source, true); err != nil {
			ents[i].verdict, ents[i].reason = vRejected, err
		}
	}
	return ents, nil
}

// sourcesOf is where an op must come from: an event op from a record of
// the input topic, a delete or split from a record of the commands topic
// (an admin's request; docs/SEMANTICS.md §8). An event op claiming a command
// record, or the reverse, is rejected like any forged source.
func (a *Applier) sourcesOf(op *unionfind.Op) *sourceEnds {
	if op.Kind == unionfind.OpEvent {
		return a.src
	}
	return a.cmds
}

// open is the op with its sealed values opened (docs/SEMANTICS.md §8,
// erasure): as logged when not sealed; without its values (shred.Erase)
// when the replica holds its key as erased, or the key is tombstoned or
// absent from identity_keys (classify waited for it), or its values do not
// open under it — decisions every replica takes alike, except that a key
// absent here but present elsewhere can only come from someone who forged
// the op or the key. The op in ents is left sealed: a chunk applied again
// opens it again against the state as it then is.
func (a *Applier) open(tx state.Tx, op *unionfind.Op) (unionfind.Op, error) {
	o := *op
	if o.KeyID == 0 {
		return o, nil
	}
	// An id without a mapping has no key record — a record is made by an
	// op of the id, which maps it, and mappings are never removed — so its
	// key is not erased, and the record is not read: the mapping is in the
	// replica's cache (the worker looked the id up before logging the op),
	// while a record's absence is a miss of every level of the store, once
	// for the first op of every id.
	_, mapped, err := tx.Mapping(o.Team, o.DistinctID)
	if err != nil {
		return o, err
	}
	erased := false
	if mapped {
		ref := unionfind.KeyRef{DistinctID: o.DistinctID, Gen: o.Gen}
		if erased, err = unionfind.KeyErased(tx, o.Team, ref); err != nil {
			return o, err
		}
	}
	if erased || a.keys == nil {
		shred.Erase(&o)
		return o, nil
	}
	key, st := a.keys.Get(o.Team, o.DistinctID, o.Gen, o.KeyID)
	if st != shred.Present {
		a.KeysMissing.Add(1)
		shred.Erase(&o)
		return o, nil
	}
	if err := shred.Open(&o, key); err != nil {
		a.KeysMissing.Add(1)
		a.log.Warn("an op's values do not open under their key: applied without them, as on every replica",
			zap.Int32("partition", op.Log.Partition), zap.Int64("offset", op.Log.Offset), zap.Error(err))
		shred.Erase(&o)
	}
	return o, nil
}

// waitForKeys makes the key ring know the key of every sealed op of ents
// it does not know yet, or know that identity_keys has none: a worker
// writes a key before it logs an op sealed with it, so reading
// identity_keys to its end as of now settles it. Keys come from another
// topic than the ops, so this is the one wait of the applier on a topic
// other than identity_log; it retries while the broker cannot be read, as
// deciding "absent" then would erase values other replicas keep. Its only
// error is ctx's.
func (a *Applier) waitForKeys(ctx context.Context, ents []entry) error {
	if a.keys == nil {
		return nil
	}
	for i := range ents {
		op := &ents[i].op
		if ents[i].verdict != vApply || op.KeyID == 0 {
			continue
		}
		if _, st := a.keys.Get(op.Team, op.DistinctID, op.Gen, op.KeyID); st != shred.Unknown {
			continue
		}
		for {
			_, _, err := a.keys.WaitFor(ctx, op.Team, op.DistinctID, op.Gen, op.KeyID, keyWait)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, shred.ErrClosed) {
				return err
			}
			a.log.Warn("cannot read identity_keys to find the data key of an op (retrying; the applier waits)",
				zap.Int32("partition", op.Log.Partition), zap.Int64("offset", op.Log.Offset), zap.Error(err))
		}
	}
	return nil
}

// keyWait bounds one wait for a data key (waitForKeys retries after it).
const keyWait = 10 * time.Second

// Keys is the applier's ring of data keys (identity_keys), which the
// workers seal with: nil for an applier made without a client.
func (a *Applier) Keys() *shred.Ring { return a.keys }

// startPause pauses log partition p at offset, a record of op version v.
func (a *Applier) startPause(p int32, offset int64, v uint64) {
	ps := pause{offset: offset, version: v, since: time.Now()}
	a.f.update(func() { a.paused[p] = ps }) // waiters of p look again
	if a.f.cl != nil {
		a.f.cl.PauseFetchPartitions(map[string][]int32{a.topic: {p}})
	}
	a.logPaused(p, ps)
}

// errRetryWithout aborts a chunk's transaction to apply it again without
// the op that failed.
var errRetryWithout = errors.New("stream: apply the chunk again without a rejected op")

// isRejected reports whether an error of applying one op is the op's, the
// same on every replica, rather than the replica's.
func isRejected(err error) bool {
	return errors.Is(err, unionfind.ErrInvalidOp) || state.IsInvalidWrite(err)
}

// hwKey is a high-water mark's key: an identity_log partition and a source
// partition.
type hwKey struct {
	log   int32
	topic string
	part  int32
}

// applyChunk applies ents in one transaction. An op that fails for a
// reason of its own (isRejected) is marked rejected and the chunk applied
// again from the start without it, so none of its writes are kept.
func (a *Applier) applyChunk(ents []entry) error {
	next := map[int32]int64{}
	var applied, skipped, malformed, rejected int64
	rep := &a.rep
	// The chunk's high-water marks, read once and written once at the end
	// of the transaction rather than read and written for every op.
	hws := map[hwKey]unionfind.Source{}
	for {
		bad := -1
		var badErr error
		err := a.st.Update(func(tx state.Tx) error {
			applied, skipped, malformed, rejected = 0, 0, 0, 0
			rep.Merges, rep.Refusals = 0, rep.Refusals[:0]
			clear(hws)
			clear(next)
			dirty := map[hwKey]bool{}
			for i := range ents {
				e := &ents[i]
				r := e.rec
				switch e.verdict {
				case vHeld:
					continue
				case vMalformed:
					malformed++
				case vRejected:
					rejected++
				}
				next[r.Partition] = r.Offset + 1
				if e.verdict != vApply {
					continue
				}
				op := &e.op
				k := hwKey{r.Partition, op.Source.Topic, op.Source.Partition}
				hw, ok := hws[k]
				if !ok {
					var err error
					if hw, ok, err = tx.HighWater(k.log, k.topic, k.part); err != nil {
						return err
					}
					if ok {
						hws[k] = hw
					}
				}
				if ok && !hw.Less(op.Source) {
					skipped++
					continue
				}
				opened, err := a.open(tx, op)
				if err != nil {
					return err
				}
				op = &opened
				res, err := a.graph.Apply(tx, op)
				if err == nil && !res.Empty() && a.wantsOutbox(op.Source) {
					err = tx.PutOutbox(op.Source, res)
				}
				for i := 0; err == nil && i < len(res.Merges); i++ {
					err = tx.PutLineage(res.Merges[i]) // docs/SEMANTICS.md §8: explain, as-of
				}
				if err != nil {
					// Errors of a corrupt replica name the ids involved.
					err = a.ids.Error(err, opIDs(op)...)
					if isRejected(err) {
						bad, badErr = i, err
						return errRetryWithout
					}
					return err
				}
				if a.obs != nil {
					countMerge(rep, op, &res)
				}
				hws[k], dirty[k] = op.Source, true
				applied++
			}
			for k := range dirty {
				if err := tx.SetHighWater(k.log, hws[k]); err != nil {
					return err
				}
			}
			for p, o := range next {
				if err := tx.SetApplied(p, o); err != nil {
					return err
				}
			}
			return nil
		})
		if bad >= 0 && errors.Is(err, errRetryWithout) {
			ents[bad].verdict, ents[bad].reason = vRejected, badErr
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	a.Applied.Add(applied)
	a.Skipped.Add(skipped)
	a.Malformed.Add(malformed)
	a.Rejected.Add(rejected)
	if malformed+rejected > 0 {
		a.logRejected(ents)
	}
	// The chunk is reported before advance wakes the waiters (CatchUp,
	// WaitApplied), so that whoever learns an offset is applied also sees
	// the counts of the chunk that applied it.
	if a.obs != nil {
		var paused bool
		a.f.locked(func() { paused = len(a.paused) > 0 })
		rep.Applied, rep.Skipped, rep.Malformed, rep.Rejected = int(applied), int(skipped), int(malformed), int(rejected)
		rep.Paused = paused
		a.obs.ObserveApply(rep)
	}
	a.f.advance(next)
	return nil
}

// logRejected logs the chunk's malformed and rejected records at warn
// level, the first maxRejectLogs of them, with their coordinates. Every
// replica logs the same lines. Nothing unbounded reaches the log: the
// source topic and the reason are clipped, ids are redacted.
func (a *Applier) logRejected(ents []entry) {
	n := 0
	for i := range ents {
		e := &ents[i]
		if e.verdict != vMalformed && e.verdict != vRejected {
			continue
		}
		n++
		if n > maxRejectLogs {
			continue
		}
		fields := []zap.Field{zap.String("topic", a.topic), zap.Int32("partition", e.rec.Partition), zap.Int64("offset", e.rec.Offset)}
		if e.verdict == vMalformed {
			a.log.Warn("skipping identity_log record that is not an op", append(fields,
				zap.Int("bytes", len(e.rec.Value)), zap.String("reason", clip(e.reason.Error())))...)
			continue
		}
		op := &e.op
		a.log.Warn("rejecting op that no replica can apply", append(fields,
			zap.String("source_topic", clip(op.Source.Topic)), zap.Int32("source_partition", op.Source.Partition),
			zap.Int64("source_offset", op.Source.Offset), zap.Uint32("source_index", op.Source.Index),
			zap.Stringer("kind", op.Kind), zap.Int("team_bytes", len(op.Team)),
			zap.String("reason", clip(e.reason.Error())))...) // redacted where it came from the graph or the store
	}
	if n > maxRejectLogs {
		a.log.Warn("more identity_log records skipped in this chunk (see resolver_identity_ops_total)",
			zap.String("topic", a.topic), zap.Int("not_logged", n-maxRejectLogs))
	}
}

// clip bounds a string of hostile origin for a log line.
func clip(s string) string {
	const most = 256
	if len(s) <= most {
		return s
	}
	return s[:most] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// countMerge adds the outcome of an applied merge request to rep. The
// graph's merge refusals (unionfind.IsMergeRefusal) are counted by type; a
// request that was not refused joined two persons if it moved a
// distinct_id (a request whose two ids already share a person moves none).
func countMerge(rep *ApplyReport, op *unionfind.Op, res *unionfind.Result) {
	if op.Merge == nil || op.Merge.Other == op.DistinctID {
		return
	}
	refused := false
	for i := range res.Warnings {
		// A merge can also drop properties at the size cap: that warning
		// is no refusal.
		if typ := res.Warnings[i].Type; unionfind.IsMergeRefusal(typ) {
			addCount(&rep.Refusals, typ, 1)
			refused = true
		}
	}
	if !refused && len(res.DistinctIDs) > 0 {
		rep.Merges++
	}
}

// opIDs are the distinct ids an op names.
func opIDs(op *unionfind.Op) []string {
	if op.Merge != nil {
		return []string{op.DistinctID, op.Merge.Other}
	}
	return []string{op.DistinctID}
}

// Offsets returns a copy of the next offset to apply per log partition.
func (a *Applier) Offsets() map[int32]int64 { return a.f.offsets() }

// Health is nil while the applier applies normally. Otherwise it is an
// error wrapping ErrApplierPaused (naming each paused partition, its
// offset and the op version there) while a partition waits for an upgrade,
// or ErrApplierStopped with the cause once Run has returned. It is safe to
// call from any goroutine; readiness (/readyz) uses it.
func (a *Applier) Health() error {
	if err := a.f.health(); err != nil {
		return err
	}
	var b strings.Builder
	a.f.locked(func() {
		for i, p := range slices.Sorted(maps.Keys(a.paused)) {
			if i > 0 {
				b.WriteString("; ")
			}
			ps := a.paused[p]
			fmt.Fprintf(&b, "partition %d of %s at offset %d holds op version %d", p, a.topic, ps.offset, ps.version)
		}
	})
	if b.Len() == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s: upgrade this instance to a binary that reads it; it resumes from that record", ErrApplierPaused, b.String())
}

// Wait blocks until every offset in want (log partition → record offset)
// has been applied, or ctx is done. If one of them is at or past a paused
// partition's record, it returns an error wrapping ErrApplierPaused after
// a short delay (the backoff of the caller's retries): retryable, the
// batch is processed again later. Once the applier has stopped it returns
// an error wrapping ErrApplierStopped (fatal).
func (a *Applier) Wait(ctx context.Context, want map[int32]int64) error {
	return a.wait(ctx, want, false)
}

// wait is Wait; with upToPause, an offset at or past a paused partition's
// record counts as reached once everything before that record is applied.
func (a *Applier) wait(ctx context.Context, want map[int32]int64, upToPause bool) error {
	isStuck, err := a.f.wait(ctx, want, func(p int32, next, o int64) progress {
		if next > o {
			return waitReached
		}
		ps, paused := a.paused[p] // under f's lock
		switch {
		case paused && upToPause && next >= ps.offset:
			return waitReached
		case paused && o >= ps.offset:
			return waitStuck
		}
		return waitBehind
	})
	if err != nil || !isStuck {
		return err
	}
	t := time.NewTimer(a.pauseRetry)
	defer t.Stop()
	select {
	case <-t.C:
		return fmt.Errorf("stream: wait for identity ops: %w", a.Health())
	case <-ctx.Done():
		return ctx.Err()
	case <-a.f.done():
		return a.Health()
	}
}

// CatchUp waits until the applier has applied identity_log up to its end as
// of the call: a fresh or rebuilt replica is then no staler than the log was
// when the instance started, and may stamp. A partition paused at an op of
// an unknown version counts as caught up once everything before that op is
// applied: the instance starts and waits there (Health says why).
func (a *Applier) CatchUp(ctx context.Context, adm *kadm.Client) error {
	ends, err := adm.ListEndOffsets(ctx, a.topic)
	if err != nil {
		return fmt.Errorf("stream: list end offsets of %s: %w", a.topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			want[o.Partition] = o.Offset - 1
		}
	})
	return a.wait(ctx, want, true)
}
