package stream

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"go.uber.org/zap"
)

// trimOutbox drops outbox rows below the group's committed input offsets,
// every OutboxTrimInterval, on every instance: rows below a committed offset
// have been published by the transaction that committed it, and no worker
// will ask for them again.
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
		if err != nil {
			p.log.Debug("fetch committed offsets for outbox trim", zap.Error(err))
			continue
		}
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Topic != p.cfg.Topics.Raw || o.Err != nil || o.At < 0 {
				return
			}
			if err := p.st.TrimOutbox(o.Topic, o.Partition, o.At); err != nil {
				p.log.Warn("trim outbox", zap.Int32("partition", o.Partition), zap.Error(err))
			}
		})
	}
}
