package stream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/resolver-dev/resolver/internal/feed"
	"github.com/resolver-dev/resolver/internal/redact"
	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/event"
	"github.com/resolver-dev/resolver/pkg/lifecycle"
	"github.com/resolver-dev/resolver/pkg/resolve"
	"github.com/resolver-dev/resolver/pkg/shred"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream/oplog"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// defaultFetchMaxWait bounds how long a fetch waits for data; short, so a
// quiet partition does not hold a batch back.
const defaultFetchMaxWait = 200 * time.Millisecond

// Stats are the pipeline's counters, read by tests and the bench
// (internal/bench); Prometheus metrics come through Config.Observer.
type Stats struct {
	Consumed     atomic.Int64
	Stamped      atomic.Int64
	DeadLettered atomic.Int64
	Warnings     atomic.Int64
	OpsLogged    atomic.Int64
	Committed    atomic.Int64 // transactions committed
	Aborted      atomic.Int64 // transactions aborted
	Fenced       atomic.Int64 // batches aborted because the worker's transactional producer was fenced (a zombie's; the session is replaced)
	GroupFenced  atomic.Int64 // batches aborted because the group had moved their partitions on (a zombie's)
	OversizeRows atomic.Int64 // feed rows over output.max_record_bytes, not produced
	StampWaits   atomic.Int64 // waits inside a batch for its stamped events' acknowledgements (stampBudget)
	// RefusedBatches are input record batches refused undecoded
	// (boundedDecompressor) and dead-lettered whole, batch_refused.
	RefusedBatches atomic.Int64
}

// Pipeline is one resolver instance's streaming path: the applier and the
// partition workers of the consumer group.
type Pipeline struct {
	cfg     Config
	st      *state.Store
	log     *zap.Logger
	dec     *event.Decoder
	stamper resolve.Stamper
	ids     redact.IDs

	stats Stats

	mu      sync.Mutex
	applier *Applier
	view    *BillingView

	// Readiness (readiness.go): started is closed once start-up is done,
	// phase names the start-up step under way, lag measures the replica's
	// distance from identity_log's end.
	started chan struct{}
	phase   atomic.Pointer[string]
	lag     lagTracker

	// failBeforeEnd, when set (tests), is called before a transaction is
	// ended; an error makes the pipeline abort that transaction.
	failBeforeEnd func() error
}

// New builds a pipeline over a validated config and an open replica.
func New(cfg Config, st *state.Store, log *zap.Logger) (*Pipeline, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validateToRun(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	p := &Pipeline{
		cfg: cfg,
		st:  st,
		log: log.Named("stream"),
		// Records outlive their batch's events and are never written to
		// (NoCopy); the pipeline only stamps and encodes properties, never
		// reads them as a map (LazyProperties).
		dec:     event.NewDecoder(event.Options{MaxEventBytes: cfg.MaxEventBytes, LazyProperties: true, NoCopy: true, Teams: cfg.Teams}),
		stamper: resolve.Stamper{Classifier: billing.NewClassifier(cfg.ExcludedEvents)},
		ids:     redact.Show(cfg.LogIDs),
		started: make(chan struct{}),
	}
	p.setPhase("not running")
	return p, nil
}

// Stats returns the pipeline's counters.
func (p *Pipeline) Stats() *Stats { return &p.stats }

// Started is closed once start-up is done: the applier has caught up with
// identity_log and the billing view with billing_usage, both as of
// start-up, the replica is within ReadyMaxLag of identity_log's end, and
// the workers have joined the group. It never reopens; Ready says whether
// the instance is ready now.
func (p *Pipeline) Started() <-chan struct{} { return p.started }

// Applier returns the running applier, or nil before Run has started it.
func (p *Pipeline) Applier() *Applier {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.applier
}

// BillingView returns the running billing view, or nil before Run has
// started it.
func (p *Pipeline) BillingView() *BillingView {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.view
}

// Run runs the pipeline until ctx is cancelled or a fatal error. Shutdown
// order, once ctx is done:
//
//  1. stop polling; the batch in hand is finished and committed, or, if it
//     cannot finish, its transaction is aborted (its records are then
//     re-processed by whoever owns the partition next);
//  2. leave the consumer group (session Close);
//  3. close the identity-op producer;
//  4. stop the applier and wait for it (its last Badger transaction
//     commits or is discarded whole);
//  5. stop the billing view, the outbox trimmer and the lag poller (with
//     step 4: one cancellation stops all four, then Run waits for them).
//
// When a worker fails, or the applier or the billing view stops early, the
// first such error stops the other workers as ctx would, the same steps
// follow, and Run returns that error.
//
// Closing the replica (Badger) and the embedded broker is the caller's, after
// Run returns.
func (p *Pipeline) Run(ctx context.Context) error {
	adm, closeAdm, err := NewAdmin(p.cfg.Kafka, p.log)
	if err != nil {
		return err
	}
	defer closeAdm()
	if err := EnsureTopics(ctx, adm, p.cfg.Topics.All(), p.cfg.TopicPartitions, p.cfg.ReplicationFactor, p.cfg.Kafka.RetryBackoff, p.log, p.cfg.Topics.TopicOptions()...); err != nil {
		return ignoreCancel(ctx, err)
	}
	// Before any producer is made: their batch limit follows the bound.
	fit, err := fitTopics(ctx, adm, p.cfg.Topics.All()[1:], p.cfg.MaxRecordBytes, p.log)
	if err != nil {
		return ignoreCancel(ctx, err)
	}
	p.cfg.MaxRecordBytes = fit

	p.setPhase("opening the applier")
	applier, err := NewApplier(ctx, p.cfg, p.st, p.log)
	if err != nil {
		return ignoreCancel(ctx, err)
	}
	p.setPhase("catching up with identity_log as of start-up")
	p.mu.Lock()
	p.applier = applier
	p.mu.Unlock()

	// The background: the applier, the outbox trimmer, the lag poller and
	// the billing view run until the workers have stopped (steps 4 and 5:
	// one cancellation, then a wait for all four). The applier's and the
	// view's errors go to watchStops, which stops the workers.
	bgCtx, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	defer func() { // steps 4 and 5
		stopBg()
		bg.Wait()
	}()
	appErr, viewErr := make(chan error, 1), make(chan error, 1)
	bg.Go(func() { appErr <- applier.Run(bgCtx) })
	bg.Go(func() { p.trimOutbox(bgCtx, adm) })
	bg.Go(func() { p.watchLag(bgCtx, adm, applier) })
	view, err := NewBillingView(ctx, p.cfg, p.st, adm, p.log)
	if err != nil {
		return ignoreCancel(ctx, err)
	}
	p.mu.Lock()
	p.view = view
	p.mu.Unlock()
	bg.Go(func() { viewErr <- view.Run(bgCtx) })

	start := time.Now()
	if err := applier.CatchUp(ctx, adm); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	p.log.Info("applier caught up with identity_log", zap.Duration("took", time.Since(start)))
	// The billing view has been folding since it was made: billing answers
	// (/v1/billing) must be no staler than billing_usage was at start-up.
	p.setPhase("catching up with billing_usage as of start-up")
	if err := view.CatchUp(ctx, adm); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	p.log.Info("billing view caught up with billing_usage", zap.Duration("took", time.Since(start)))
	// The log grew while the applier caught up with its start-up end: the
	// workers must not stamp from a replica further behind than
	// readiness.max_lag.
	p.setPhase("catching up with identity_log to within readiness.max_lag")
	if err := p.waitWithinLag(ctx, applier); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	p.log.Info("replica within readiness.max_lag of identity_log", zap.Duration("took", time.Since(start)), zap.Duration("max_lag", p.cfg.ReadyMaxLag))
	p.setPhase("joining the consumer group")

	ops, err := kgo.NewClient(append(ClientOpts(p.cfg.Kafka, p.log, "ops"),
		kgo.ProducerLinger(0),
		kgo.ProducerBatchMaxBytes(p.batchMaxBytes()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
	)...)
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	defer ops.Close() // step 3

	// The workers: each its own transactional group session (one open
	// transaction per client), all sharing the applier, the op producer and
	// the replica. Every session joins before the instance reports ready.
	workers := make([]*worker, p.cfg.Workers)
	defer func() { // step 2, of the sessions in use: renewSession replaces a fenced one
		for _, w := range workers {
			if w != nil && w.sess != nil {
				w.sess.Close()
			}
		}
	}()
	for i := range workers {
		w := &worker{txnID: p.cfg.TransactionalID}
		if i > 0 {
			w.txnID = fmt.Sprintf("%s-w%d", p.cfg.TransactionalID, i)
		}
		if w.sess, err = p.newSession(w); err != nil {
			return err
		}
		workers[i] = w
	}
	close(p.started)
	p.log.Info("ready", zap.String("group", p.cfg.Group), zap.String("input", p.cfg.Topics.Raw), zap.Int("workers", len(workers)))

	// The workers and watchStops, as one group: the first error (a
	// worker's fatal error, or the applier or the billing view stopping
	// early) stops the others and is Run's. A worker returns nil only once
	// wctx is done (step 1), so watchStops always returns.
	g, wctx := errgroup.WithContext(ctx)
	for _, w := range workers {
		g.Go(func() error { return p.work(wctx, w, ops, applier) })
	}
	g.Go(func() error { return p.watchStops(wctx, appErr, viewErr) })
	return g.Wait()
}

// watchStops returns the error of the applier or the billing view when one
// of them returns before ctx is done (the instance must then stop: nothing
// would keep the replica or the billing totals current), and nil once ctx
// is done (their return is then part of the pipeline stopping).
func (p *Pipeline) watchStops(ctx context.Context, appErr, viewErr <-chan error) error {
	select {
	case err := <-appErr:
		if ctx.Err() != nil {
			return nil // the pipeline is stopping: the applier's return is part of it
		}
		if err == nil {
			err = fmt.Errorf("%w before the pipeline stopped, without an error", ErrApplierStopped)
		}
		p.log.Error("applier stopped: stopping the instance", zap.Error(err))
		return err
	case err := <-viewErr:
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("%w before the pipeline stopped, without an error", ErrBillingViewStopped)
		}
		p.log.Error("billing view stopped: stopping the instance", zap.Error(err))
		return err
	case <-ctx.Done():
		return nil
	}
}

// worker is one partition-worker session of an instance.
type worker struct {
	txnID string
	sess  *kgo.GroupTransactSession
	// producer is the last producer id and epoch known of the session's
	// transactional producer: from its initialisation, then from each
	// batch's acknowledged records. Zombie logs name it.
	producer atomic.Pointer[producerEpoch]
	// revoked and lost are set by the session's callbacks and cleared when
	// a batch's transaction ends, as kgo's session keeps them: the group
	// took partitions from this member in a rebalance (revoked), or
	// because it was no longer a member (lost: its session expired or its
	// epoch was fenced). kgo aborts the next transaction after either,
	// even one that began after it.
	revoked, lost atomic.Bool
	// rep is the report of the batch in hand, reused batch after batch
	// (its slices too); only set up with an Observer.
	rep BatchReport
	// bufs are the batch's buffers, reused batch after batch; reusable is
	// false after a transaction whose end failed, when kgo may not be done
	// with its records (the buffers are then left to the garbage
	// collector).
	bufs     batchBuffers
	reusable bool
}

// batchBuffers are the memory of one batch that a worker reuses for the
// next, once the batch's transaction has ended: its items, the stamped
// values and keys and the feed rows (arenas), the stamped records and the
// feed records.
type batchBuffers struct {
	items    []item
	arenas   arenas
	recs     []kgo.Record
	feedRecs recordSlab
}

// reset readies the buffers for the next batch, dropping the last batch's
// references.
func (b *batchBuffers) reset() {
	clear(b.items)
	b.items = b.items[:0]
	clear(b.recs)
	b.recs = b.recs[:0]
	b.arenas.reset()
	b.feedRecs.reset()
}

// work runs one worker's poll → transact loop until ctx is done or a fatal
// error.
func (p *Pipeline) work(ctx context.Context, w *worker, ops *kgo.Client, applier *Applier) error {
	var fencings []time.Time
	for {
		fs := w.sess.PollRecords(ctx, p.cfg.MaxBatchRecords)
		polled := time.Now()
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil // step 1: nothing is open between batches
		}
		var refused []*kgo.ErrDecompressTooLarge
		fs.EachError(func(t string, part int32, err error) {
			if tl, ok := errors.AsType[*kgo.ErrDecompressTooLarge](err); ok {
				refused = append(refused, tl) // dead-lettered and skipped in the batch's transaction
				return
			}
			p.log.Warn("fetch (retrying)", zap.String("topic", t), zap.Int32("partition", part), zap.Error(err))
		})
		if fs.NumRecords() == 0 && len(refused) == 0 {
			continue
		}
		if err := p.transact(ctx, w, ops, applier, fs, refused, polled); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !isFenced(err) {
				return err
			}
			sess, err := p.renewSession(ctx, w, err, &fencings)
			if err != nil {
				return ignoreCancel(ctx, err)
			}
			w.sess = sess
		}
	}
}

// transact processes one poll, which returned at polled, in one
// transaction.
func (p *Pipeline) transact(ctx context.Context, w *worker, ops *kgo.Client, applier *Applier, fs kgo.Fetches, refused []*kgo.ErrDecompressTooLarge, polled time.Time) error {
	sess := w.sess
	if err := sess.Begin(); err != nil {
		return fmt.Errorf("stream: begin transaction: %w", err)
	}
	if !w.reusable {
		w.bufs = batchBuffers{}
	}
	w.bufs.reset()
	w.reusable = false
	out := &producer{sess: sess, ctx: ctx, max: p.cfg.MaxRecordBytes, bufs: &w.bufs}
	out.promiseFn = out.promise
	if p.cfg.Observer != nil {
		out.rep = &w.rep
		out.rep.reset()
	}
	p.refuseBatches(refused, out)
	skipRefused(sess.Client(), refused, true)
	err := p.process(ctx, ops, applier, fs, out)
	if err == nil {
		// Flush, then decide: a record that failed to produce must abort
		// the transaction, never commit the offsets past it (End would
		// commit after its own flush whatever the records' fates).
		t := time.Now()
		err = sess.Client().Flush(ctx)
		out.step(StepFlush, t)
	}
	if err == nil {
		// A record refused for its size here means a topic's
		// max.message.bytes was lowered under a running instance (Run
		// fits the bound to the topics at start-up): the batch aborts
		// and is retried until the topic takes it again or the instance
		// restarts with the new bound. Nothing is committed past it.
		err = out.err()
	}
	for _, r := range out.oversizeRows {
		p.stats.OversizeRows.Add(1)
		p.log.Error("a feed row is over output.max_record_bytes and was not produced; it was stored before identity.max_person_properties_bytes bounded persons",
			zap.String("topic", r.topic), zap.Int("bytes", r.bytes), zap.Int("output.max_record_bytes", p.cfg.MaxRecordBytes))
	}
	if err == nil && p.failBeforeEnd != nil {
		err = p.failBeforeEnd()
	}
	try := kgo.TryCommit
	if err != nil {
		try = kgo.TryAbort
		// Shutting down mid-batch: abort under a fresh deadline so the
		// broker need not time the transaction out.
		if ctx.Err() != nil {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
		} else {
			p.log.Warn("aborting transaction; its records will be processed again", zap.Error(err))
		}
	}
	ending := time.Now()
	committed, endErr := sess.End(ctx, try)
	if endErr == nil && !committed {
		skipRefused(sess.Client(), refused, false)
	}
	out.step(StepEnd, ending)
	w.reusable = endErr == nil // every record of the batch is acknowledged or failed
	if pe := out.acked.Load(); pe != nil {
		w.producer.Store(pe)
	}
	fate := p.zombieFate(ctx, w, fs, try, committed, err, endErr)
	w.revoked.Store(false) // as kgo forgets them when End returns
	w.lost.Store(false)
	if out.rep != nil {
		out.rep.Zombie = fate
		p.report(out, fs.NumRecords(), committed && endErr == nil, polled, ending)
	}
	if endErr != nil {
		return fmt.Errorf("stream: end transaction: %w", endErr)
	}
	if committed {
		p.stats.Committed.Add(1)
		p.stats.Consumed.Add(int64(fs.NumRecords()))
		p.stats.Stamped.Add(out.stamped)
		p.stats.DeadLettered.Add(out.dead)
		p.stats.Warnings.Add(out.warnings)
		p.stats.RefusedBatches.Add(int64(len(refused)))
	} else {
		p.stats.Aborted.Add(1)
	}
	if err != nil && ctx.Err() == nil && (isFenced(err) || !isRetryable(err)) {
		return err // a fenced producer only fails again: the caller replaces the session
	}
	return nil
}

// batchMaxBytes is the producers' batch limit: a record within
// output.max_record_bytes always fits, and franz-go's default when that is
// more.
func (p *Pipeline) batchMaxBytes() int32 {
	return int32(max(p.cfg.MaxRecordBytes+batchOverhead, 1_000_012))
}

// report sends the batch's report to the observer.
func (p *Pipeline) report(out *producer, records int, committed bool, polled, ending time.Time) {
	now := time.Now()
	r := out.rep
	r.Records = records
	r.Committed = committed
	r.Duration = now.Sub(polled)
	r.EndDuration = now.Sub(ending)
	if !committed {
		r.Stamped, r.DeadLettered, r.Warnings = nil, r.DeadLettered[:0], r.Warnings[:0]
	}
	p.cfg.Observer.ObserveBatch(r)
}

// reset empties a report for the next batch, keeping its slices' memory.
func (r *BatchReport) reset() {
	*r = BatchReport{DeadLettered: r.DeadLettered[:0], Warnings: r.Warnings[:0]}
}

// item is one consumed record on its way through a batch.
type item struct {
	rec *kgo.Record
	// isCmd: the record is of the commands topic; cmd is its command once
	// decoded (ev is nil).
	isCmd bool
	cmd   *lifecycle.Command
	ev    *event.Event
	// blocked: the event's distinct_id is blocked (deleted with --block).
	blocked bool
	err     error // the decode rejection, for the dead-letter topic

	key     []byte        // its output key, team:distinct_id (step 3)
	stamped []byte        // the stamped event (step 3)
	class   billing.Class // its billing class
	late    bool          // left by stampAll at stampBudget: stamped as it is produced
	tail    *tailArena    // the arena a late item was stamped into

	out *kgo.Record // its stamped event, once within the record bound
}

// process does the work of one batch, producing every output through out:
// it decodes the batch's records, then takes the steps of docs/DESIGN.md
// ("Partition workers"), each a function of its own.
func (p *Pipeline) process(ctx context.Context, opsCl *kgo.Client, applier *Applier, fs kgo.Fetches, out *producer) error {
	t := time.Now()
	items, spans := p.decodeBatch(fs, out.bufs)
	t = out.step(StepDecode, t)
	if err := p.waitForReplica(ctx, applier); err != nil { // step 0
		return err
	}
	t = out.step(StepReplica, t)
	if err := p.logOps(ctx, opsCl, applier, items, out); err != nil { // step 1 (it times its wait for the applier)
		return err
	}
	t = out.step(StepOps, t)
	if err := p.feedRows(ctx, applier.Keys(), spans, out); err != nil { // step 2
		return err
	}
	t = out.step(StepFeed, t)
	err := p.stampAndProduce(items, out) // step 3
	out.step(StepStamp, t)
	return err
}

// refuseBatches dead-letters each record batch the client refused to
// decompress (boundedDecompressor), as one record naming its offsets, in
// the batch's transaction; skipRefused moves past it in the same one.
func (p *Pipeline) refuseBatches(refused []*kgo.ErrDecompressTooLarge, out *producer) {
	for _, b := range refused {
		p.log.Error("a record batch of the input was refused: it decompresses past input.max_batch_bytes or input.max_compression_ratio, or not at all; dead-lettered as one record (batch_refused) and skipped",
			zap.String("topic", b.Topic), zap.Int32("partition", b.Partition), zap.Int64("first_offset", b.Offset), zap.Int64("last_offset", b.NextOffset-1))
		out.deadLetterBatch(p.cfg.Topics.DeadLetter, b, p.cfg.MaxBatchBytes, p.cfg.MaxCompressionRatio)
	}
}

// batchSpans are the spans of offsets a poll holds of each partition of the
// two consumed topics, in partition order: the input topic and the
// commands topic.
type batchSpans struct{ raw, cmds []state.OutboxSpan }

// decodeBatch decodes every record of the poll (in parallel, inParallel),
// in input order, and returns them with the span of offsets the poll holds
// of each partition.
func (p *Pipeline) decodeBatch(fs kgo.Fetches, bufs *batchBuffers) ([]item, batchSpans) {
	items := slices.Grow(bufs.items[:0], fs.NumRecords())
	var spans batchSpans
	type tp struct {
		cmd  bool
		part int32
	}
	at := map[tp]int{} // partition → its index in its topic's spans
	fs.EachRecord(func(r *kgo.Record) {
		cmd := r.Topic == p.cfg.Topics.Commands
		sp := &spans.raw
		if cmd {
			sp = &spans.cmds
		}
		i, ok := at[tp{cmd, r.Partition}]
		if !ok {
			i = len(*sp)
			at[tp{cmd, r.Partition}] = i
			*sp = append(*sp, state.OutboxSpan{Partition: r.Partition, From: r.Offset})
		}
		(*sp)[i].To = r.Offset
		items = append(items, item{rec: r, isCmd: cmd})
	})
	byPart := func(a, b state.OutboxSpan) int { return cmp.Compare(a.Partition, b.Partition) }
	slices.SortFunc(spans.raw, byPart)
	slices.SortFunc(spans.cmds, byPart)
	_ = inParallel(items, func(_ int, chunk []item) error { p.decodeRange(chunk); return nil }) // rejections are per item
	bufs.items = items
	return items, spans
}

// waitForReplica is step 0: stamp from a replica no staler than the newest
// listing of identity_log's end (at most LagInterval old), so that what
// other instances logged before it — a merge of an id this batch stamps,
// say — is applied first. Caught up, this costs nothing; behind (after a
// restart, or a stalled applier), the batch waits instead of stamping stale
// person ids (issue 11, item 8). The batch's own ops are waited for in
// step 1.
func (p *Pipeline) waitForReplica(ctx context.Context, applier *Applier) error {
	ends := p.lag.newestEnds()
	if len(ends) == 0 {
		return nil
	}
	want := make(map[int32]int64, len(ends))
	for part, end := range ends {
		if end > 0 {
			want[part] = end - 1
		}
	}
	return applier.Wait(ctx, want)
}

// logOps is step 1: log the ops the batch implies and wait until the
// replica has them. An event whose op is over the record bound goes to the
// dead letters instead (its item's event is cleared).
func (p *Pipeline) logOps(ctx context.Context, opsCl *kgo.Client, applier *Applier, items []item, out *producer) error {
	var opRecs []*kgo.Record
	var toSeal []sealing // ops with property values: sealed before they are logged
	type idKey struct{ team, did string }
	created := map[idKey]int64{} // earliest op time logged per id in this batch
	find := p.st.Finder()        // the batch's cache misses share one snapshot
	defer find.Close()
	for i := range items {
		if c := items[i].cmd; c != nil {
			r := items[i].rec
			op := c.Op(unionfind.Source{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}, r.Timestamp.UnixMilli())
			opRecs = append(opRecs, &kgo.Record{Topic: p.cfg.Topics.IdentityLog, Key: []byte(op.Team), Value: oplog.Encode(&op)})
			continue
		}
		ev := items[i].ev
		if ev == nil {
			continue
		}
		if ev.Mode != event.Full {
			continue // personless: no op (docs/SEMANTICS.md §2)
		}
		k := idKey{ev.Team, ev.DistinctID}
		f, err := find.Resolve(ev.Team, ev.DistinctID)
		if err != nil {
			return fmt.Errorf("%w: find in replica (team %s): %w", errFatal, ev.Team, p.ids.Error(err, ev.DistinctID))
		}
		if f.Blocked {
			continue // dead-lettered when stamped; the graph would ignore its op
		}
		person, explicit := f.Person, f.Explicit
		if first, ok := created[k]; ok && (!explicit || first < person.CreatedAt) {
			// An earlier event of this batch already logs the person's
			// creation: the replica is as if it were applied.
			person, explicit = unionfind.Person{CreatedAt: first}, true
		}
		if !resolve.EventNeedsOp(ev, &person, explicit) {
			continue
		}
		r := items[i].rec
		op, _ := resolve.Op(ev, unionfind.Source{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset})
		op.Gen = f.Gen
		b := oplog.Encode(&op)
		opRec := &kgo.Record{Topic: p.cfg.Topics.IdentityLog, Key: []byte(ev.Team), Value: b}
		if n := recordBytes(opRec) + sealGrowth(&op); n > p.cfg.MaxRecordBytes {
			// Its identity op cannot be logged: the record goes to the dead
			// letters, and nothing else happens to it.
			items[i].ev, items[i].err = nil, outputTooLarge("its identity op", n, p.cfg.MaxRecordBytes)
			continue
		}
		if first, ok := created[k]; !ok || op.Timestamp < first {
			created[k] = op.Timestamp
		}
		if len(op.Set) > 0 || len(op.SetOnce) > 0 {
			toSeal = append(toSeal, sealing{rec: opRec, op: op})
		}
		opRecs = append(opRecs, opRec)
	}
	find.Close() // before waiting on the applier: it is a read snapshot (a read lock in memory)
	if len(opRecs) == 0 {
		return nil
	}
	if !p.cfg.PlaintextValues {
		if err := sealOps(ctx, applier.Keys(), toSeal); err != nil {
			return err
		}
	}
	res := opsCl.ProduceSync(ctx, opRecs...)
	if err := res.FirstErr(); err != nil {
		return fmt.Errorf("stream: log identity ops: %w", err)
	}
	want := map[int32]int64{}
	for _, r := range res {
		if o, ok := want[r.Record.Partition]; !ok || r.Record.Offset > o {
			want[r.Record.Partition] = r.Record.Offset
		}
	}
	t := time.Now()
	if err := applier.Wait(ctx, want); err != nil {
		return err
	}
	if out.rep != nil {
		// Not part of StepOps, which process times around all of logOps.
		d := time.Since(t)
		out.rep.Steps[StepApplied] += d
		out.rep.Steps[StepOps] -= d
	}
	p.stats.OpsLogged.Add(int64(len(opRecs)))
	if out.rep != nil {
		out.rep.OpsLogged = len(opRecs)
	}
	return nil
}

// feedRows is step 2: the feed rows and graph warnings of the batch's ops,
// from the outbox: all partitions in one snapshot, in partition order.
func (p *Pipeline) feedRows(ctx context.Context, keys *shred.Ring, spans batchSpans, out *producer) error {
	if err := p.feedRowsOf(ctx, nil, p.cfg.Topics.Raw, spans.raw, out); err != nil {
		return err
	}
	return p.feedRowsOf(ctx, keys, p.cfg.Topics.Commands, spans.cmds, out)
}

// feedRowsOf emits the outbox rows of one consumed topic's spans, and the
// tombstones of the data keys their ops erased (only deletions erase:
// commands). The ring reads identity_keys to its end first, so that every
// key id written before the deletion was applied is tombstoned.
func (p *Pipeline) feedRowsOf(ctx context.Context, keys *shred.Ring, topic string, spans []state.OutboxSpan, out *producer) error {
	if len(spans) == 0 {
		return nil
	}
	caughtUp := false
	err := p.st.OutboxSpans(topic, spans, func(_ unionfind.Source, res unionfind.Result) error {
		if len(res.Erased) > 0 && keys != nil {
			if !caughtUp {
				if err := keys.CatchUp(ctx); err != nil {
					return fmt.Errorf("stream: tombstone erased data keys: %w", err)
				}
				caughtUp = true
			}
			team := erasingTeam(&res)
			for _, k := range res.Erased {
				for _, r := range keys.TombstoneRecords(team, k.DistinctID, k.Gen) {
					out.produce(r)
				}
			}
		}
		// Rows are written into the first arena: this is the worker's
		// goroutine, before stamping uses the arenas (step 3).
		ar := out.bufs.arenas.get(0)
		for i := range res.Persons {
			r := &res.Persons[i]
			start, b := ar.room(rowRoom(2*len(r.Team)) + r.Person.PropertiesJSONSize())
			b = feed.AppendPersonKey(b, r)
			k := len(b) - start
			b, err := feed.AppendPerson(b, r)
			if err != nil {
				// As json.Marshal failed before: the batch fails.
				ar.keep(start, b[:start])
				out.promise(nil, fmt.Errorf("stream: persons row of team %s: %w", r.Team, err))
				continue
			}
			out.feedRow(ar, p.cfg.Topics.Persons, start, k, b)
		}
		for i := range res.DistinctIDs {
			r := &res.DistinctIDs[i]
			start, b := ar.room(rowRoom(2 * (len(r.Team) + len(r.DistinctID))))
			b = feed.AppendDistinctIDKey(b, r)
			k := len(b) - start
			out.feedRow(ar, p.cfg.Topics.DistinctIDs, start, k, feed.AppendDistinctID(b, r))
		}
		for i := range res.Warnings {
			row := feed.FromWarning(&res.Warnings[i])
			out.json(p.cfg.Topics.Warnings, row.Team, row)
			out.warning(row.Type)
		}
		for i := range res.Merges {
			r := &res.Merges[i]
			n := 2*len(r.Team) + len(r.Refused) + len(r.Other) + len(r.Into) + len(r.EventUUID) + len(r.Source.Topic)
			for part := 1; part <= feed.MergeParts(r); part++ {
				moved := 0
				for _, id := range feed.MergePartMoved(r, part) {
					moved += 3 + len(id)
				}
				start, b := ar.room(rowRoom(n + moved))
				b = feed.AppendMergeKey(b, r)
				k := len(b) - start
				out.feedRow(ar, p.cfg.Topics.Merges, start, k, feed.AppendMerge(b, r, part))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: read outbox: %w", errFatal, err)
	}
	return nil
}

// rowRoom is the arena room a feed row's key and value need at most, but
// for person properties, when the strings written in them (the team in
// both) add up to n bytes: its fixed text, times, numbers and person ids,
// and every string byte escaped as \u00XX. A longer row only makes the
// arena grow.
func rowRoom(n int) int { return 512 + 6*n }

// erasingTeam is the team of an op's result that erased keys: a deletion,
// whose rows all carry its team.
func erasingTeam(res *unionfind.Result) string {
	switch {
	case len(res.Merges) > 0:
		return res.Merges[0].Team
	case len(res.Persons) > 0:
		return res.Persons[0].Team
	case len(res.DistinctIDs) > 0:
		return res.DistinctIDs[0].Team
	}
	return ""
}

// stampAndProduce is step 3: stamp every event from the replica, then
// produce in input order; dead-letter the rest. Then the batch's billing
// deltas.
func (p *Pipeline) stampAndProduce(items []item, out *producer) error {
	var budget atomic.Int64
	budget.Store(stampBudget)
	if err := p.stampAll(items, &out.bufs.arenas, &budget); err != nil {
		return err
	}
	recs := slices.Grow(out.bufs.recs[:0], len(items))[:len(items)]
	out.bufs.recs = recs
	meter := billing.NewMeter()
	var months billing.MonthCache
	tail := tailStamper{p: p, out: out}
	defer tail.close()
	for i := range items {
		it := &items[i]
		if it.cmd != nil {
			continue // a command's outputs are its op's rows (step 2)
		}
		if it.late {
			if err := tail.stamp(it); err != nil {
				return err
			}
		}
		if it.blocked {
			it.ev.Release()
			it.ev, it.err = nil, &event.Rejection{Reason: reasonDeletedDistinctID,
				Detail: "the distinct_id's person was deleted with --block (docs/SEMANTICS.md §8): its events are not tracked"}
		}
		if it.ev != nil {
			ev := it.ev
			// The input record's timestamp, as Kafka Streams carries it:
			// readers of events_person bill and window by it too.
			recs[i] = kgo.Record{Topic: p.cfg.Topics.Person, Key: it.key, Value: it.stamped, Timestamp: it.rec.Timestamp}
			stamped := &recs[i]
			if n := recordBytes(stamped); n > p.cfg.MaxRecordBytes {
				it.err = outputTooLarge("its stamped event", n, p.cfg.MaxRecordBytes)
				ev.Release()
				it.ev, it.stamped = nil, nil
			} else {
				it.out = stamped
			}
		}
		if it.ev == nil {
			out.deadLetter(p.cfg.Topics.DeadLetter, it.rec, it.err)
			continue
		}
		ev := it.ev
		if it.tail != nil {
			tail.produce(it.tail, it.out)
		} else {
			out.produce(it.out)
		}
		out.stamped++
		// The month of the input record's Kafka timestamp, when capture
		// wrote it (docs/SEMANTICS.md §7): the event's own timestamp is the
		// client's to backdate, into months of their own free tiers.
		meter.Add(ev.Team, months.Month(it.rec.Timestamp), it.class, 1)
		for _, w := range ev.Warnings {
			row := WarningRow{Team: ev.Team, Type: w.Type, EventUUID: ev.UUID.String(), DistinctID: ev.DistinctID, Details: w.Details, Timestamp: ev.Timestamp.UTC().Format(feed.TimeFormat)}
			out.json(p.cfg.Topics.Warnings, row.Team, row)
			out.warning(w.Type)
		}
		// Done with the event: the decoder may reuse its properties map.
		// Its strings (team, distinct_id) stay valid for the meter.
		ev.Release()
	}
	deltas := meter.Deltas()
	for _, d := range deltas {
		out.json(p.cfg.Topics.Billing, d.Team, d)
	}
	if out.rep != nil {
		out.rep.Stamped = deltas
	}
	return nil
}

// stampChunk is the fewest events a decoding or stamping goroutine is
// given: below it, starting one costs more than it saves.
const stampChunk = 256

// stampAll sets the stamped value and billing class of every decoded item.
// Stamping an event is a cache lookup and an encoding, independent of every
// other event once the batch's ops are applied, so it runs in parallel;
// producing stays in input order (the caller), because records of one key
// must keep their order.
func (p *Pipeline) stampAll(items []item, as *arenas, budget *atomic.Int64) error {
	for i := range min(runtime.GOMAXPROCS(0), len(items)/stampChunk) {
		as.get(i) // made before the goroutines share the slice
	}
	as.get(0)
	return inParallel(items, func(part int, chunk []item) error { return p.stampRange(chunk, &(*as)[part], budget) })
}

// stampBudget bounds the bytes of stamped events (keys and values) a batch
// holds at once. A stamped event carries its person's properties
// (docs/SEMANTICS.md §6), so a batch's output is not bounded by its input:
// 5000 small events of one person whose properties are at
// identity.max_person_properties_bytes (512 KiB) stamp to 2.5 GiB. The
// parallel stamping (stampAll) stops at the budget; the events it left
// (late) are stamped one by one as they are produced, into two arenas of
// their own in turn, half the budget each: an arena is reused once the
// broker has acknowledged every record stamped into it, while the other
// fills. So a batch holds about twice the budget, and stamping still
// overlaps the broker's intake. A variable for tests.
var stampBudget int64 = 64 << 20

// tailStamper stamps a batch's late events (stampBudget) in input order,
// as stampAndProduce produces them. Its arenas are the batch's own, never
// the worker's reused ones: a batch that fails may leave records in
// flight that point into them.
type tailStamper struct {
	p    *Pipeline
	out  *producer
	find *state.Finder
	ars  [2]*tailArena
	cur  int
}

// tailArena is one of a tailStamper's arenas, the bytes stamped into it
// since its last reset and its records not yet acknowledged.
type tailArena struct {
	ar      arena
	held    int64
	pending sync.WaitGroup
}

// stamp stamps a late item into the current arena; when that arena holds
// half the budget, into the other, once the broker has acknowledged (or
// failed) every record stamped into it.
func (t *tailStamper) stamp(it *item) error {
	it.late = false
	if t.find == nil {
		t.find = t.p.st.Finder()
		t.ars = [2]*tailArena{{}, {}}
	}
	a := t.ars[t.cur]
	if a.held >= stampBudget/2 {
		t.cur ^= 1
		a = t.ars[t.cur]
		if err := t.drain(a); err != nil {
			return err
		}
		a.ar.reset()
		a.held = 0
		t.p.stats.StampWaits.Add(1)
	}
	if err := t.p.stampOne(t.find, it, &a.ar); err != nil {
		return err
	}
	a.held += int64(len(it.key) + len(it.stamped))
	it.tail = a
	return nil
}

// produce produces a late item's stamped record, counting it pending in
// its arena until its promise.
func (t *tailStamper) produce(a *tailArena, r *kgo.Record) {
	a.pending.Add(1)
	t.out.sess.Produce(t.out.ctx, r, func(r *kgo.Record, err error) {
		t.out.promise(r, err)
		a.pending.Done()
	})
}

// drain waits until every record stamped into a is acknowledged or failed.
func (t *tailStamper) drain(a *tailArena) error {
	done := make(chan struct{})
	go func() {
		a.pending.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-t.out.ctx.Done():
		return fmt.Errorf("stream: wait for a batch's stamped events: %w", t.out.ctx.Err())
	}
}

func (t *tailStamper) close() {
	if t.find != nil {
		t.find.Close()
	}
}

// decodeRange decodes the items' records (one Decoder is safe for
// concurrent use): events, and the admin commands of the commands topic.
func (p *Pipeline) decodeRange(items []item) {
	for i := range items {
		r := items[i].rec
		if items[i].isCmd {
			items[i].cmd, items[i].err = p.decodeCommand(r)
			continue
		}
		items[i].ev, items[i].err = p.dec.Decode(r.Value, event.Source{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp})
	}
}

// Dead-letter reasons of the lifecycle (docs/SEMANTICS.md §8).
const (
	reasonInvalidCommand    event.Reason = "invalid_command"
	reasonDeletedDistinctID event.Reason = "deleted_distinct_id"
)

// decodeCommand decodes an admin command record; a command whose team the
// team map does not know is refused like an event's.
func (p *Pipeline) decodeCommand(r *kgo.Record) (*lifecycle.Command, error) {
	c, err := lifecycle.Decode(r.Value)
	if err != nil {
		return nil, &event.Rejection{Reason: reasonInvalidCommand, Detail: err.Error()}
	}
	team, ok := p.cfg.Teams.Resolve(c.Team)
	if !ok {
		return nil, &event.Rejection{Reason: event.ReasonUnknownTeam, Detail: fmt.Sprintf("the command's team %.64q is not in teams.file", c.Team)}
	}
	c.Team = team
	return &c, nil
}

// inParallel runs fn over contiguous chunks of items, on up to GOMAXPROCS
// goroutines of at least stampChunk items each (a single chunk runs on the
// caller's goroutine), and returns the first error. fn is given its
// chunk's number, from 0.
func inParallel(items []item, fn func(part int, chunk []item) error) error {
	n := min(runtime.GOMAXPROCS(0), len(items)/stampChunk)
	if n <= 1 {
		return fn(0, items)
	}
	var g errgroup.Group
	per := (len(items) + n - 1) / n
	for i := range n {
		lo, hi := i*per, min((i+1)*per, len(items))
		g.Go(func() error { return fn(i, items[lo:hi]) })
	}
	return g.Wait()
}

// stampRange stamps items one after another, its cache misses sharing one
// snapshot.
func (p *Pipeline) stampRange(items []item, ar *arena, budget *atomic.Int64) error {
	find := p.st.Finder()
	defer find.Close()
	// The shared budget is charged every budgetStep bytes, not every
	// event: the goroutines would otherwise contend for its cache line.
	var used int64
	over := false
	for i := range items {
		it := &items[i]
		if it.ev == nil {
			continue
		}
		if over {
			it.late = true // stamped as it is produced (stampBudget)
			continue
		}
		if err := p.stampOne(find, it, ar); err != nil {
			return err
		}
		if used += int64(len(it.key) + len(it.stamped)); used >= budgetStep {
			over = budget.Add(-used) <= 0
			used = 0
		}
	}
	return nil
}

// budgetStep is how many bytes a stamping goroutine stamps between charges
// to the batch's stampBudget: each may pass the budget by that and one
// event.
const budgetStep = 256 << 10

// stampOne stamps an item's event into ar, or marks it blocked.
func (p *Pipeline) stampOne(find *state.Finder, it *item, ar *arena) error {
	ev := it.ev
	f, err := find.Resolve(ev.Team, ev.DistinctID)
	if err != nil {
		return fmt.Errorf("%w: find in replica (team %s): %w", errFatal, ev.Team, p.ids.Error(err, ev.DistinctID))
	}
	if f.Blocked {
		it.blocked = true // dead-lettered in input order (stampAndProduce)
		return nil
	}
	st, class := p.stamper.Stamp(ev, &f.Person, f.Props, f.Explicit)
	n := ev.StampedSize(st) + len(ev.Team) + 1 + len(ev.DistinctID)
	start, b := ar.room(n)
	b = append(append(append(b, ev.Team...), ':'), ev.DistinctID...)
	it.key = ar.keep(start, b)
	start, b = ar.room(n - len(it.key))
	it.stamped, it.class = ar.keep(start, ev.AppendStamped(b, st)), class
	return nil
}

// ignoreCancel drops an error that only echoes ctx's cancellation: a stop
// during start-up is a clean stop.
func ignoreCancel(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// isRetryable reports whether a batch error only means "abort and process
// the batch again" rather than "stop the instance".
func isRetryable(err error) bool {
	return !errors.Is(err, errFatal)
}

// errFatal marks errors after which the instance must stop.
var errFatal = errors.New("stream: fatal")

// headerInt is a decimal header value.
func headerInt(n int64) []byte { return strconv.AppendInt(nil, n, 10) }
