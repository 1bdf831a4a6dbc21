package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/redact"
	"github.com/resolver-dev/resolver/pkg/state"
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

// Applier replays identity_log into the local replica: every partition, in
// log order, each chunk of records in one Badger transaction together with
// the next offset to apply, so state and offsets never disagree.
//
// Run is the only writer of identity state. Ops are skipped when their
// source (topic, partition, offset, index) is at or below the highest source
// already applied from that source partition in that log partition: a batch
// re-logged after a crash is applied once.
type Applier struct {
	topic string
	cl    *kgo.Client
	st    *state.Store
	graph unionfind.Graph
	log   *zap.Logger
	batch int
	ids   redact.IDs
	obs   Observer    // nil: no reports
	rep   ApplyReport // reused for every report

	mu      sync.Mutex
	applied map[int32]int64 // next offset to apply, per log partition
	changed chan struct{}   // closed and replaced after every commit
	stopped chan struct{}   // closed when Run returns

	// Counters for metrics.
	Applied   atomic.Int64 // ops applied
	Skipped   atomic.Int64 // duplicate ops skipped
	Malformed atomic.Int64 // records that are not ops (logged, skipped)

	last atomic.Int64 // record timestamp of the last applied record, Unix nanoseconds
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
	start := map[int32]kgo.Offset{}
	for _, p := range parts {
		if next, ok := applied[p]; ok {
			start[p] = kgo.NewOffset().At(next)
		} else {
			start[p] = kgo.NewOffset().AtStart()
		}
	}
	opts := append(ClientOpts(cfg.Kafka, log, "applier"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topics.IdentityLog: start}),
		// Never skip: if retention deletes records while the applier is
		// behind, fail (Run) instead of resetting to the log start.
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.FetchMaxWait(defaultFetchMaxWait),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("stream: applier: %w", err)
	}
	a := &Applier{
		topic:   cfg.Topics.IdentityLog,
		cl:      cl,
		st:      st,
		graph:   unionfind.Graph{MaxMergeMove: cfg.MaxMergeMove},
		log:     log.Named("applier"),
		batch:   applierBatch,
		ids:     redact.Show(cfg.LogIDs),
		obs:     cfg.Observer,
		applied: applied,
		changed: make(chan struct{}),
		stopped: make(chan struct{}),
	}
	if a.applied == nil {
		a.applied = map[int32]int64{}
	}
	return a, nil
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

// Run applies records until ctx is done or the store fails. It owns the
// client and closes it on return.
func (a *Applier) Run(ctx context.Context) error {
	defer close(a.stopped)
	defer a.cl.Close()
	for {
		fs := a.cl.PollRecords(ctx, a.batch)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		var lost error
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, kerr.OffsetOutOfRange) {
				lost = errors.Join(lost, a.truncated(p, err))
				return
			}
			a.log.Warn("fetch identity_log (retrying)", zap.String("topic", t), zap.Int32("partition", p), zap.Error(err))
		})
		if lost != nil {
			return lost
		}
		var recs []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
		if err := a.apply(recs); err != nil {
			return err
		}
	}
}

// truncated is the error of a fetch of partition p that found its next
// offset to apply deleted while the applier ran: the records between are
// lost to this replica, as in CheckLogStart at start-up.
func (a *Applier) truncated(p int32, err error) error {
	a.mu.Lock()
	next, ok := a.applied[p]
	a.mu.Unlock()
	if !ok {
		next = 0
	}
	return fmt.Errorf("%w while the applier ran behind: partition %d of %s no longer holds offset %d, the next this replica must apply (deleted by retention or DeleteRecords before it was applied; %v)."+
		" Its identity state cannot be replayed: restore a snapshot of an instance that has applied past it"+
		" (resolver snapshot --out FILE of its stopped state, then resolver restore --from FILE into a fresh state.dir for this instance),"+
		" and give identity_log a retention longer than any instance may lag", ErrLogTruncated, p, a.topic, next, err)
}

func (a *Applier) apply(recs []*kgo.Record) error {
	for len(recs) > 0 {
		n := min(len(recs), a.batch)
		err := a.applyChunk(recs[:n])
		if state.IsTxnTooBig(err) && n > 1 {
			a.batch = max(n/2, 1)
			continue
		}
		if err != nil {
			return fmt.Errorf("stream: apply identity_log: %w", err)
		}
		recs = recs[n:]
	}
	a.batch = applierBatch
	return nil
}

// hwKey is a high-water mark's key: an identity_log partition and a source
// partition.
type hwKey struct {
	log   int32
	topic string
	part  int32
}

func (a *Applier) applyChunk(recs []*kgo.Record) error {
	next := map[int32]int64{}
	var applied, skipped, malformed int64
	rep := &a.rep
	// The chunk's high-water marks, read once and written once at the end
	// of the transaction rather than read and written for every op.
	hws := map[hwKey]unionfind.Source{}
	err := a.st.Update(func(tx state.Tx) error {
		applied, skipped, malformed = 0, 0, 0
		rep.Merges, rep.Refusals = 0, rep.Refusals[:0]
		clear(hws)
		dirty := map[hwKey]bool{}
		for _, r := range recs {
			next[r.Partition] = r.Offset + 1
			op, err := decodeOp(r.Value)
			if err != nil {
				malformed++
				a.log.Error("skipping identity_log record that is not an op", zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset), zap.Error(err))
				continue
			}
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
			res, err := a.graph.Apply(tx, &op)
			if err != nil {
				// Errors of a corrupt replica name the ids involved.
				err = a.ids.Error(err, opIDs(&op)...)
			}
			if errors.Is(err, unionfind.ErrInvalidOp) {
				malformed++
				a.log.Error("skipping invalid op", zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset), zap.Error(err))
				continue
			}
			if err != nil {
				return err
			}
			if a.obs != nil {
				countMerge(rep, &op, &res)
			}
			if !res.Empty() {
				if err := tx.PutOutbox(op.Source, res); err != nil {
					return err
				}
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
	if err != nil {
		return err
	}
	a.Applied.Add(applied)
	a.Skipped.Add(skipped)
	a.Malformed.Add(malformed)
	if n := len(recs); n > 0 {
		a.last.Store(recs[n-1].Timestamp.UnixNano())
	}
	if a.obs != nil {
		rep.Applied, rep.Skipped, rep.Malformed = int(applied), int(skipped), int(malformed)
		a.obs.ObserveApply(rep)
	}
	a.mu.Lock()
	for p, o := range next {
		a.applied[p] = o
	}
	close(a.changed)
	a.changed = make(chan struct{})
	a.mu.Unlock()
	return nil
}

// countMerge adds the outcome of an applied merge request to rep. The
// graph's warnings are all merge refusals; a request that was not refused
// joined two persons if it moved a distinct_id (a request whose two ids
// already share a person moves none).
func countMerge(rep *ApplyReport, op *unionfind.Op, res *unionfind.Result) {
	if op.Merge == nil || op.Merge.Other == op.DistinctID {
		return
	}
	for i := range res.Warnings {
		addCount(&rep.Refusals, res.Warnings[i].Type, 1)
	}
	if len(res.Warnings) == 0 && len(res.DistinctIDs) > 0 {
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

// errApplierStopped is returned by Wait once the applier has stopped.
var errApplierStopped = fmt.Errorf("%w: applier stopped", errFatal)

// Offsets returns a copy of the next offset to apply per log partition.
func (a *Applier) Offsets() map[int32]int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[int32]int64, len(a.applied))
	for p, o := range a.applied {
		out[p] = o
	}
	return out
}

// Wait blocks until every offset in want (log partition → record offset)
// has been applied, or ctx is done.
func (a *Applier) Wait(ctx context.Context, want map[int32]int64) error {
	for {
		a.mu.Lock()
		done := true
		for p, o := range want {
			if a.applied[p] <= o {
				done = false
				break
			}
		}
		ch := a.changed
		a.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-a.stopped:
			return errApplierStopped
		}
	}
}

// CatchUp waits until the applier has applied identity_log up to its end as
// of the call: a fresh or rebuilt replica is then no staler than the log was
// when the instance started, and may stamp.
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
	return a.Wait(ctx, want)
}
