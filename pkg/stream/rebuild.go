package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// rebuildTick is how often Rebuild checks how far it got and reports
// progress.
const rebuildTick = 200 * time.Millisecond

// ErrLogTruncated is returned (as a *LogTruncatedError) by NewApplier, and
// so by Pipeline.Run and Rebuild, when identity_log no longer holds records
// the replica has yet to apply — it begins past the replica's next offset
// to apply, or past 0 for a partition the replica has never applied: the
// records that were deleted (retention, DeleteRecords) are part of the
// identity state, so a replay cannot rebuild it. Restore a snapshot instead.
var ErrLogTruncated = errors.New("stream: identity_log was truncated")

// RebuildProgress is how far a rebuild has got.
type RebuildProgress struct {
	// IdentityDone of IdentityTotal identity_log records are applied (or
	// skipped as duplicates), counted from where the replica started.
	IdentityDone, IdentityTotal int64
	// BillingDone of BillingTotal billing_usage offsets are folded
	// (transaction markers and aborted records count: they are offsets).
	BillingDone, BillingTotal int64
	Elapsed                   time.Duration
}

// Done is the records replayed so far, both topics together.
func (p RebuildProgress) Done() int64 { return p.IdentityDone + p.BillingDone }

// Total is the records to replay, both topics together.
func (p RebuildProgress) Total() int64 { return p.IdentityTotal + p.BillingTotal }

// RebuildResult is what a rebuild did.
type RebuildResult struct {
	// IdentityLog and BillingUsage are the next offsets the replica holds
	// per partition at the end: the end offsets as of the start.
	IdentityLog  map[int32]int64
	BillingUsage map[int32]int64
	// Applied, Skipped, Malformed and Rejected count identity_log records
	// as the applier does (Applier.Applied, …).
	Applied, Skipped, Malformed, Rejected int64
	Took                                  time.Duration
}

// Rebuild replays identity_log and billing_usage into st, from the offsets
// st has recorded (from the start, for an empty store) up to the topics'
// ends as of the call — identity_log's end offsets and billing_usage's last
// stable offsets — with the applier and the billing view the pipeline runs,
// so the result is the replica a running instance would have. Records
// produced after the call are left to the next `resolver run`.
//
// progress, if not nil, is called from Rebuild's goroutine every 200ms and
// once at the end. Rebuild fails with ErrLogTruncated if identity_log no
// longer holds records st has yet to apply (CheckLogStart); a
// billing_usage that was truncated is only logged (its totals will lack the
// deleted deltas). If ctx is cancelled the replica keeps what was applied,
// which is consistent: a later Rebuild or `resolver run` continues from
// there. Its commits are sorted (state.Store.SetSortedCommits), which are
// not atomic: if the process dies mid-replay, or a commit fails (the error
// then matches state.ErrUnfinishedReplay), the store stays marked and
// state.Open refuses it — it must be rebuilt from the start.
//
// At its end it compacts the store's level-0 tables in one pass
// (state.Store.CompactLevelZero): a store opened with state.Options.Replay,
// as `resolver rebuild` opens it, lets them wait until then instead of
// compacting as it grows.
//
// The topics must exist. st must not be used by anything else meanwhile.
func Rebuild(ctx context.Context, cfg Config, st *state.Store, log *zap.Logger, progress func(RebuildProgress)) (_ RebuildResult, err error) {
	start := time.Now()
	cfg = cfg.WithDefaults()
	if err := cfg.validateToRun(); err != nil {
		return RebuildResult{}, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("rebuild")
	adm, closeAdm, err := NewAdmin(cfg.Kafka, log)
	if err != nil {
		return RebuildResult{}, err
	}
	defer closeAdm()

	idBase, idEnd, err := replayRange(ctx, adm, cfg.Topics.IdentityLog, false, st.AppliedOffsets)
	if err != nil {
		return RebuildResult{}, err
	}
	billBase, billEnd, err := replayRange(ctx, adm, cfg.Topics.Billing, true, st.BillingOffsets)
	if err != nil {
		return RebuildResult{}, err
	}
	billed, err := st.BillingOffsets()
	if err != nil {
		return RebuildResult{}, fmt.Errorf("stream: rebuild: %w", err)
	}
	for p, b := range billBase {
		if _, ok := billed[p]; !ok && b > 0 {
			log.Warn("billing_usage was truncated: the billing totals will lack the deleted deltas",
				zap.String("topic", cfg.Topics.Billing), zap.Int32("partition", p), zap.Int64("start_offset", b))
		}
	}

	// Read before the replay starts: committed offsets only rise, so rows
	// below these are published whatever happens meanwhile.
	floor, err := committedInputs(ctx, adm, cfg)
	if err != nil {
		return RebuildResult{}, err
	}
	applier, err := NewApplier(ctx, cfg, st, log) // refuses a truncated identity_log
	if err != nil {
		return RebuildResult{}, err
	}
	applier.replayMode(floor)
	view, err := NewBillingView(ctx, cfg, st, adm, log)
	if err != nil {
		applier.f.cl.Close() // Run owns the client, and Run never ran
		return RebuildResult{}, err
	}
	// The applier's commits are pipelined (state.Store.SetPipelined): it
	// applies the next chunk while Badger writes the last. Switched back
	// (which waits for the commit in flight) once the applier has stopped.
	// Its ops skip the reads of what was never written, and merges read
	// the members of persons made during the replay from memory
	// (state.Store.SetReplayFilter): the state starts empty.
	if err := st.SetPipelined(true); err != nil {
		applier.f.cl.Close()
		return RebuildResult{}, fmt.Errorf("stream: rebuild: %w", err)
	}
	defer st.SetPipelined(false) //nolint:errcheck // the error path's; the way out below checks it
	if err := st.SetReplayFilter(true); err != nil {
		applier.f.cl.Close()
		return RebuildResult{}, fmt.Errorf("stream: rebuild: %w", err)
	}
	defer st.SetReplayFilter(false) //nolint:errcheck // only frees it; cannot fail on an open store
	// And sorted (state.Store.SetSortedCommits): Badger's memtable takes
	// each commit's writes in key order, at half the cost, as several
	// transactions. A replay that stops without ending them (a crash, a
	// failed commit) leaves the store marked, and Open refuses it: it is
	// rebuilt, not continued.
	if err := st.SetSortedCommits(true); err != nil {
		applier.f.cl.Close()
		return RebuildResult{}, fmt.Errorf("stream: rebuild: %w", err)
	}
	defer func() {
		// Once the applier has stopped (the deferred stop below runs
		// first): every commit lands, then the mark goes.
		if serr := st.SetSortedCommits(false); serr != nil {
			err = errors.Join(err, fmt.Errorf("stream: rebuild: %w", serr))
		}
	}()
	// And, for a long replay, the lineage index rows held back
	// (state.Store.SetDeferredIndex): no op reads them, so they are
	// written at the end, in key order, as tables of their own rather than
	// through Badger's memtables; ending the sorted commits writes them
	// before the mark goes. That end costs seconds, which a short replay
	// does not win back (deferIndexFrom).
	if span(idBase, idEnd) >= deferIndexFrom {
		if err := st.SetDeferredIndex(true); err != nil {
			applier.f.cl.Close()
			return RebuildResult{}, fmt.Errorf("stream: rebuild: %w", err)
		}
	}
	log.Info("replaying", zap.String("identity_log", cfg.Topics.IdentityLog), zap.Int64("identity_records", span(idBase, idEnd)),
		zap.String("billing_usage", cfg.Topics.Billing), zap.Int64("billing_offsets", span(billBase, billEnd)))
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Go(func() {
		if err := applier.Run(runCtx); err != nil {
			errs <- err
		}
	})
	wg.Go(func() {
		if err := view.Run(runCtx); err != nil {
			errs <- err
		}
	})
	defer func() {
		stop()
		wg.Wait()
	}()

	report := func() (RebuildProgress, bool, error) {
		billOffs, err := st.BillingOffsets()
		if err != nil {
			return RebuildProgress{}, false, fmt.Errorf("stream: rebuild: %w", err)
		}
		idDone, idOK := progressOf(idBase, idEnd, applier.Offsets())
		billDone, billOK := progressOf(billBase, billEnd, billOffs)
		p := RebuildProgress{
			IdentityDone: idDone, IdentityTotal: span(idBase, idEnd),
			BillingDone: billDone, BillingTotal: span(billBase, billEnd),
			Elapsed: time.Since(start),
		}
		if progress != nil {
			progress(p)
		}
		return p, idOK && billOK, nil
	}
	tick := time.NewTicker(rebuildTick)
	defer tick.Stop()
	for {
		p, done, err := report()
		if err != nil {
			return RebuildResult{}, err
		}
		if done {
			log.Info("replayed", zap.Int64("identity_records", p.IdentityDone), zap.Int64("billing_offsets", p.BillingDone),
				zap.Duration("took", p.Elapsed))
			break
		}
		// A partition paused at an op of an unknown version never reaches
		// the end: this binary cannot rebuild past it. Apply everything
		// else there is, then say so.
		if err := applier.Health(); errors.Is(err, ErrApplierPaused) {
			want := map[int32]int64{}
			for p, e := range idEnd {
				if e > 0 {
					want[p] = e - 1
				}
			}
			if werr := applier.wait(ctx, want, true); werr != nil {
				return RebuildResult{}, werr
			}
			return RebuildResult{}, fmt.Errorf("stream: rebuild: %w", applier.Health())
		}
		select {
		case <-ctx.Done():
			return RebuildResult{}, ctx.Err()
		case err := <-errs:
			return RebuildResult{}, err
		case <-tick.C:
		}
	}
	stop()
	wg.Wait()
	select {
	case err := <-errs:
		return RebuildResult{}, err
	default:
	}
	// A store opened with state.Options.Replay (`resolver rebuild`) has
	// let its level-0 tables wait: they are compacted now, in one pass,
	// before the lineage index held back is written above them (any other
	// store has a few level-0 tables at most).
	if err := st.CompactLevelZero(); err != nil {
		return RebuildResult{}, fmt.Errorf("stream: rebuild: %w", err)
	}
	if err := st.SetSortedCommits(false); err != nil {
		return RebuildResult{}, fmt.Errorf("stream: rebuild: %w", err)
	}
	if err := st.SetPipelined(false); err != nil {
		return RebuildResult{}, fmt.Errorf("stream: rebuild: %w", err)
	}
	res := RebuildResult{
		Applied:   applier.Applied.Load(),
		Skipped:   applier.Skipped.Load(),
		Malformed: applier.Malformed.Load(),
		Rejected:  applier.Rejected.Load(),
		Took:      time.Since(start),
	}
	if res.IdentityLog, err = st.AppliedOffsets(); err != nil {
		return RebuildResult{}, fmt.Errorf("stream: rebuild: %w", err)
	}
	if res.BillingUsage, err = st.BillingOffsets(); err != nil {
		return RebuildResult{}, fmt.Errorf("stream: rebuild: %w", err)
	}
	return res, nil
}

// deferIndexFrom is the fewest identity_log records a rebuild replays with
// the lineage index held back (state.Store.SetDeferredIndex). Measured
// (BENCHMARKS.md, target 3), with the store's Close: on the benchmark's
// merge workload 12% slower at 200k ops, even at 500k, 26% faster at 1M,
// 66% at 10M; end to end on generated traffic slower at 240k and 600k
// records, even at 2M (the rebuild itself 17% faster, the close after it
// slower). A variable for the tests.
var deferIndexFrom int64 = 2_000_000

// replayRange returns, per partition of topic, where a replay into the
// replica starts (the replica's recorded offset, else the log start) and
// where it ends (the high watermark, or with committed the last stable
// offset, as of now). It waits for the topic's metadata like the applier.
func replayRange(ctx context.Context, adm *kadm.Client, topic string, committed bool, recorded func() (map[int32]int64, error)) (base, end map[int32]int64, err error) {
	if _, err := topicPartitions(ctx, adm, topic); err != nil {
		return nil, nil, err
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("stream: list start offsets of %s: %w", topic, err)
	}
	list := adm.ListEndOffsets
	if committed {
		list = adm.ListCommittedOffsets
	}
	ends, err := list(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("stream: list end offsets of %s: %w", topic, err)
	}
	rec, err := recorded()
	if err != nil {
		return nil, nil, fmt.Errorf("stream: rebuild: %w", err)
	}
	base, end = map[int32]int64{}, map[int32]int64{}
	starts.Each(func(o kadm.ListedOffset) { base[o.Partition] = o.Offset })
	for p, o := range rec {
		base[p] = max(base[p], o)
	}
	ends.Each(func(o kadm.ListedOffset) { end[o.Partition] = o.Offset })
	return base, end, nil
}

// span is the number of offsets from base to end over all partitions.
func span(base, end map[int32]int64) int64 {
	var n int64
	for p, e := range end {
		n += max(e-base[p], 0)
	}
	return n
}

// progressOf counts the offsets from base that next (the next offset per
// partition) has covered towards end, and reports whether every partition
// has reached its end.
func progressOf(base, end, next map[int32]int64) (done int64, complete bool) {
	complete = true
	for p, e := range end {
		n, ok := next[p]
		if !ok {
			n = base[p]
		}
		if n < e {
			complete = false
		}
		done += max(min(n, e)-base[p], 0)
	}
	return done, complete
}

// replayBatch is the most identity_log records a rebuild applies in one
// Badger transaction, and replayPoll the most it takes from one poll.
// Nothing waits on a rebuild's applier, so it trades latency for
// throughput: fewer commits, fewer state offsets written (once per
// transaction), fewer fetch round trips. Member scans no longer sort the
// transaction's pending writes (state's scanSet), so a big transaction
// costs no more per op than a small one (BenchmarkApplyChunk); Badger's
// transaction bound still halves it when it does not fit (apply).
const (
	replayBatch = 2048
	replayPoll  = 8192
)

// replayMode makes the applier apply as Rebuild wants (replayBatch,
// replayPoll). floor, if not nil, holds per source (topic, partition) the
// consumer group's committed offset: outbox rows of ops whose source lies
// below it are not stored, because the transaction that committed that
// offset has published them and no worker asks for them again — they are
// exactly the rows the pipeline's outbox trim deletes (trimOutbox). Rows at
// or above it are stored, for the worker that processes their source
// again after the rebuild.
func (a *Applier) replayMode(floor map[topicPartition]int64) {
	a.chunk, a.batch, a.poll = replayBatch, replayBatch, replayPoll
	a.outboxFloor = floor
}

// topicPartition names a partition of a topic.
type topicPartition struct {
	topic string
	part  int32
}

// wantsOutbox reports whether the outbox rows of an op from src must be
// stored (replayMode).
func (a *Applier) wantsOutbox(src unionfind.Source) bool {
	if a.outboxFloor == nil {
		return true
	}
	floor, ok := a.outboxFloor[topicPartition{src.Topic, src.Partition}]
	return !ok || src.Offset >= floor
}

// committedInputs returns the group's committed offsets of the input and
// commands topics (nil when the group has committed nothing): the outbox
// floor of a replay.
func committedInputs(ctx context.Context, adm *kadm.Client, cfg Config) (map[topicPartition]int64, error) {
	offs, err := adm.FetchOffsets(ctx, cfg.Group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil, nil
	}
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("stream: rebuild: fetch the committed offsets of group %s: %w", cfg.Group, err)
	}
	floor := map[topicPartition]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if (o.Topic == cfg.Topics.Raw || o.Topic == cfg.Topics.Commands) && o.Err == nil && o.At >= 0 {
			floor[topicPartition{o.Topic, o.Partition}] = o.At
		}
	})
	return floor, nil
}

// pollMax is the most records one poll of the applier returns.
func (a *Applier) pollMax() int { return a.poll }
