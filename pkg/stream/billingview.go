package stream

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/state"
)

// BillingView folds billing_usage (read_committed) into the replica's
// billing totals. Each poll's deltas and the next offsets are stored in one
// Badger transaction, so totals are exact through restarts and rebuilds:
// every committed delta is counted once. The stored offsets count
// transaction markers too, so once the view has caught up they equal the
// partitions' last stable offsets.
//
// Run is the only writer of the billing totals; CatchUp may be called from
// any goroutine while Run runs.
type BillingView struct {
	topic string
	cl    *kgo.Client
	st    *state.Store
	log   *zap.Logger

	mu      sync.Mutex
	next    map[int32]int64 // next offset to fold per partition, as stored
	changed chan struct{}   // closed and replaced after every fold
	stopped chan struct{}   // closed when Run returns
}

// NewBillingView makes a folder of cfg.Topics.Billing into st, resuming from
// the offsets st recorded. The topic must exist.
func NewBillingView(ctx context.Context, cfg Config, st *state.Store, adm *kadm.Client, log *zap.Logger) (*BillingView, error) {
	offs, err := st.BillingOffsets()
	if err != nil {
		return nil, fmt.Errorf("stream: billing view: read offsets: %w", err)
	}
	parts, err := topicPartitions(ctx, adm, cfg.Topics.Billing)
	if err != nil {
		return nil, err
	}
	start := map[int32]kgo.Offset{}
	for _, p := range parts {
		if next, ok := offs[p]; ok {
			start[p] = kgo.NewOffset().At(next)
		} else {
			start[p] = kgo.NewOffset().AtStart()
		}
	}
	cl, err := kgo.NewClient(append(ClientOpts(cfg.Kafka, log, "billing"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topics.Billing: start}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers come back as control records, so the stored
		// offsets move past them: every transaction ends with one, and
		// without them the offsets would stop one short of the partition's
		// end and no one could tell that the view has caught up.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(defaultFetchMaxWait),
	)...)
	if err != nil {
		return nil, fmt.Errorf("stream: billing view: %w", err)
	}
	if offs == nil {
		offs = map[int32]int64{}
	}
	return &BillingView{topic: cfg.Topics.Billing, cl: cl, st: st, log: log.Named("billing"),
		next: offs, changed: make(chan struct{}), stopped: make(chan struct{})}, nil
}

// Run folds deltas until ctx is done or the store fails; it owns the client.
func (v *BillingView) Run(ctx context.Context) error {
	defer close(v.stopped)
	defer v.cl.Close()
	for {
		fs := v.cl.PollRecords(ctx, 10000)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			v.log.Warn("fetch billing_usage (retrying)", zap.Int32("partition", p), zap.Error(err))
		})
		var deltas []state.BillingDelta
		next := map[int32]int64{}
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			if r.Attrs.IsControl() {
				return
			}
			d, err := billing.DecodeDelta(r.Value)
			if err != nil {
				v.log.Error("skipping billing_usage record that is not a delta", zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset), zap.Error(err))
				return
			}
			deltas = append(deltas, state.BillingDelta{Team: d.Team, Month: d.Month, Class: d.Class.String(), Count: d.Count})
		})
		if len(next) == 0 {
			continue
		}
		if err := v.st.ApplyBilling(deltas, next); err != nil {
			return fmt.Errorf("stream: fold billing_usage: %w", err)
		}
		v.mu.Lock()
		for p, o := range next {
			v.next[p] = o
		}
		close(v.changed)
		v.changed = make(chan struct{})
		v.mu.Unlock()
	}
}

// errBillingViewStopped is returned by CatchUp once the view has stopped.
var errBillingViewStopped = fmt.Errorf("%w: billing view stopped", errFatal)

// CatchUp waits until the view has folded billing_usage up to its last
// stable offsets as of the call (every delta committed by then), so that
// billing totals are no staler than the topic was when the instance
// started. A partition with nothing left to read (its log starts at its
// last stable offset) needs nothing. It fails if ctx is done first or the
// view stops.
func (v *BillingView) CatchUp(ctx context.Context, adm *kadm.Client) error {
	starts, err := adm.ListStartOffsets(ctx, v.topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("stream: list start offsets of %s: %w", v.topic, err)
	}
	lso, err := adm.ListCommittedOffsets(ctx, v.topic)
	if err == nil {
		err = lso.Error()
	}
	if err != nil {
		return fmt.Errorf("stream: list last stable offsets of %s: %w", v.topic, err)
	}
	want := map[int32]int64{}
	lso.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(o.Topic, o.Partition); !ok || o.Offset > s.Offset {
			want[o.Partition] = o.Offset
		}
	})
	for {
		v.mu.Lock()
		done := true
		for p, o := range want {
			if v.next[p] < o {
				done = false
				break
			}
		}
		ch := v.changed
		v.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-v.stopped:
			return fmt.Errorf("%w before it caught up with %s", errBillingViewStopped, v.topic)
		}
	}
}
