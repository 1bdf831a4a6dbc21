package stream

import (
	"context"
	"fmt"

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
type BillingView struct {
	topic string
	cl    *kgo.Client
	st    *state.Store
	log   *zap.Logger
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
	return &BillingView{topic: cfg.Topics.Billing, cl: cl, st: st, log: log.Named("billing")}, nil
}

// Run folds deltas until ctx is done or the store fails; it owns the client.
func (v *BillingView) Run(ctx context.Context) error {
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
	}
}
