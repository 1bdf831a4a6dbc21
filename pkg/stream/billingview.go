package stream

import (
	"context"
	"encoding/json"
	"errors"
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
//
// billing_usage can be written by anyone with access to it, so every
// record is checked before it is folded: a record that is not a delta (a
// tombstone, not JSON) is malformed; a delta out of bounds
// (billing.Delta.Validate: team, month, class, count) or one that would
// carry its total past int64 (state.FoldBilling) is rejected. Either is
// skipped — that record only, the rest of the poll is folded — with a warn
// line naming its partition and offset and a count in
// resolver_billing_deltas_total; whether a record is skipped depends only
// on the records before it, so every replica skips the same ones. Anything
// else (I/O, a closed store) stops Run with an error wrapping
// ErrBillingViewStopped that names the cause; Health reports it, and the
// pipeline stops the instance.
//
// Run is the only writer of the billing totals; CatchUp and Health may be
// called from any goroutine while Run runs. It is a follower of
// billing_usage (follower.go), as the Applier is of identity_log.
type BillingView struct {
	f     *follower // billing_usage
	topic string
	st    *state.Store
	log   *zap.Logger
	obs   BillingObserver // nil: no reports
	rep   BillingReport
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
	f := newFollower(cfg.Topics.Billing, offs, ErrBillingViewStopped)
	err = f.consume(cfg.Kafka, parts, log, "billing",
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers come back as control records, so the stored
		// offsets move past them: every transaction ends with one, and
		// without them the offsets would stop one short of the partition's
		// end and no one could tell that the view has caught up.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(defaultFetchMaxWait),
	)
	if err != nil {
		return nil, fmt.Errorf("stream: billing view: %w", err)
	}
	bo, _ := cfg.Observer.(BillingObserver)
	return &BillingView{f: f, topic: cfg.Topics.Billing, st: st, log: log.Named("billing"), obs: bo}, nil
}

// Run folds deltas until ctx is done or a local failure stops it; it owns
// the client. Its error wraps ErrBillingViewStopped and names the cause;
// Health returns it from then on.
func (v *BillingView) Run(ctx context.Context) (err error) {
	defer func() { err = v.f.finish(err) }()
	fetchErr := func(p int32, err error) error {
		v.log.Warn("fetch billing_usage (retrying)", zap.Int32("partition", p), zap.Error(err))
		return nil
	}
	return v.f.run(ctx, 10000, fetchErr, func(_ context.Context, recs []*kgo.Record) error {
		if err := v.fold(recs); err != nil {
			return fmt.Errorf("%w. The records are not the cause: every other replica folds them. The cause is local to this instance"+
				" (its disk, its state directory): fix it (free disk space, permissions, failing hardware), then restart;"+
				" the view resumes from its last committed offsets", err)
		}
		return nil
	})
}

// skippedDelta is a billing_usage record that is not folded, and why.
type skippedDelta struct {
	rec       *kgo.Record
	malformed bool // not a delta at all; else a rejected delta
	reason    error
}

// fold folds one poll's records and stores the next offsets with them.
func (v *BillingView) fold(recs []*kgo.Record) error {
	var (
		deltas  []state.BillingDelta
		from    []*kgo.Record // the record of each delta
		skipped []skippedDelta
	)
	next := map[int32]int64{}
	for _, r := range recs {
		next[r.Partition] = r.Offset + 1
		if r.Attrs.IsControl() {
			continue
		}
		if err := refusedBatch(r); err != nil {
			skipped = append(skipped, skippedDelta{r, true, err})
			continue
		}
		if r.Value == nil {
			skipped = append(skipped, skippedDelta{r, true, errors.New("a Kafka tombstone (null value), not a delta")})
			continue
		}
		// The class as text first, so that an unknown class is a delta out
		// of bounds (rejected), not a record that is no delta (malformed).
		var raw struct {
			Team  string `json:"team"`
			Month string `json:"month"`
			Class string `json:"class"`
			Count int64  `json:"count"`
		}
		if err := json.Unmarshal(r.Value, &raw); err != nil {
			skipped = append(skipped, skippedDelta{r, true, fmt.Errorf("not a delta: %w", err)})
			continue
		}
		c, err := billing.ParseClass(raw.Class)
		if err != nil {
			skipped = append(skipped, skippedDelta{r, false, fmt.Errorf("%w: %w", billing.ErrInvalidDelta, billing.ErrUnknownClass)})
			continue
		}
		d := billing.Delta{Team: raw.Team, Month: raw.Month, Class: c, Count: raw.Count}
		if err := d.Validate(); err != nil {
			skipped = append(skipped, skippedDelta{r, false, err})
			continue
		}
		deltas = append(deltas, state.BillingDelta{Team: d.Team, Month: d.Month, Class: d.Class.String(), Count: d.Count})
		from = append(from, r)
	}
	refused, err := v.st.FoldBilling(deltas, next)
	if err != nil {
		return fmt.Errorf("stream: fold billing_usage: %w", err)
	}
	for _, i := range refused {
		skipped = append(skipped, skippedDelta{from[i], false,
			fmt.Errorf("a count of %d would carry its total past the range of int64 (or is negative)", deltas[i].Count)})
	}
	v.logSkipped(skipped)
	// The fold is reported before advance wakes CatchUp's waiters, so that
	// whoever learns the view has caught up also sees the fold's counts.
	if v.obs != nil {
		v.rep = BillingReport{Folded: len(deltas) - len(refused)}
		for _, s := range skipped {
			if s.malformed {
				v.rep.Malformed++
			} else {
				v.rep.Rejected++
			}
		}
		v.obs.ObserveBilling(&v.rep)
	}
	v.f.advance(next)
	return nil
}

// logSkipped logs the first maxRejectLogs skipped records of a fold at
// warn level, with their coordinates; never the team (up to 200 bytes of
// anything) or the record.
func (v *BillingView) logSkipped(skipped []skippedDelta) {
	for i, s := range skipped {
		if i == maxRejectLogs {
			v.log.Warn("more billing_usage records skipped in this fold (see resolver_billing_deltas_total)",
				zap.String("topic", v.topic), zap.Int("not_logged", len(skipped)-maxRejectLogs))
			return
		}
		msg := "rejecting billing delta"
		if s.malformed {
			msg = "skipping billing_usage record that is not a delta"
		}
		v.log.Warn(msg, zap.String("topic", v.topic), zap.Int32("partition", s.rec.Partition), zap.Int64("offset", s.rec.Offset),
			zap.Int("bytes", len(s.rec.Value)), zap.String("reason", clip(s.reason.Error())))
	}
}

// Health is nil while the view folds normally, and an error wrapping
// ErrBillingViewStopped, with the cause, once Run has returned. It is safe
// to call from any goroutine; readiness (/readyz) uses it.
func (v *BillingView) Health() error { return v.f.health() }

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
	_, err = v.f.wait(ctx, want, func(_ int32, next, lso int64) progress {
		if next >= lso {
			return waitReached
		}
		return waitBehind
	})
	if errors.Is(err, ErrBillingViewStopped) {
		return fmt.Errorf("stream: before it caught up with %s: %w", v.topic, err)
	}
	return err
}
