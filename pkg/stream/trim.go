package stream

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"
)

// trimFailed counts a failed trim, when the observer counts them.
func (p *Pipeline) trimFailed() {
	if o, ok := p.cfg.Observer.(TrimObserver); ok {
		o.ObserveTrimError()
	}
}

// trimOutbox drops outbox rows below the group's committed input offsets,
// every OutboxTrimInterval, on every instance: rows below a committed offset
// have been published by the transaction that committed it, and no worker
// will ask for them again. A failure is logged at warn and counted
// (TrimObserver); the next interval tries again, and the outbox grows
// meanwhile.
func (p *Pipeline) trimOutbox(ctx context.Context, adm *kadm.Client) {
	t := time.NewTicker(p.cfg.OutboxTrimInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		offs, err := adm.FetchOffsets(ctx, p.cfg.Group)
		if errors.Is(err, kerr.GroupIDNotFound) {
			continue // no offsets committed yet: nothing to trim
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			p.trimFailed()
			p.log.Warn("outbox trim: fetch the group's committed offsets (retried next interval)", zap.String("group", p.cfg.Group), zap.Error(err))
			continue
		}
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Topic != p.cfg.Topics.Raw && o.Topic != p.cfg.Topics.Commands || o.Err != nil || o.At < 0 {
				return
			}
			if err := p.st.TrimOutbox(o.Topic, o.Partition, o.At); err != nil {
				p.trimFailed()
				p.log.Warn("outbox trim failed (retried next interval)", zap.Int32("partition", o.Partition), zap.Int64("below", o.At), zap.Error(err))
			}
		})
	}
}
