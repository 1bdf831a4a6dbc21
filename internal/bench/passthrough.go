package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/stream"
)

// fetchMaxWait is the pipeline's (stream.defaultFetchMaxWait): the limit
// polls exactly as the pipeline's workers do.
const fetchMaxWait = 200 * time.Millisecond

// processor is what a turn runs: Instances consumers in one group that turn
// every input record into committed output.
type processor interface {
	// committed is the number of input records whose transaction has
	// committed.
	committed() int64
	// failed returns the error of an instance that stopped by itself.
	failed() error
	// stop stops every instance and waits for it.
	stop() error
}

// passthrough is the limit: GroupTransactSession consume→produce with no
// processing, one output record (same key and value) per input record, one
// transaction per poll of at most BatchRecords records.
type passthrough struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	n      atomic.Int64

	mu  sync.Mutex
	err error
}

// startPassthrough starts instances sessions in group, reading raw and
// writing out.
func startPassthrough(c *Config, raw, out, group string, log *zap.Logger) (*passthrough, error) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &passthrough{cancel: cancel}
	// The pipeline's group protocol (kafka.group_protocol) and timeouts.
	groupOpts, err := stream.GroupProtocolOpts(c.Kafka)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	for i := range c.Instances * c.Workers {
		// Its outputs compressed as the pipeline's workers compress theirs
		// (output.compression), not as the input (kafka.compression).
		opts := append(stream.OutputClientOpts(c.Kafka, log, "bench-limit"), groupOpts...)
		sess, err := kgo.NewGroupTransactSession(append(opts,
			kgo.ConsumerGroup(group),
			kgo.ConsumeTopics(raw),
			kgo.TransactionalID(fmt.Sprintf("%s-%d", group, i)),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.FetchMaxWait(fetchMaxWait),
			kgo.ProducerLinger(0),
			kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		)...)
		if err != nil {
			p.stop()
			return nil, fmt.Errorf("bench: limit session: %w", err)
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer sess.Close()
			if err := p.loop(ctx, sess, out, c.BatchRecords); err != nil && ctx.Err() == nil {
				p.mu.Lock()
				p.err = err
				p.mu.Unlock()
			}
		}()
	}
	return p, nil
}

// loop is the worker loop of one session.
func (p *passthrough) loop(ctx context.Context, sess *kgo.GroupTransactSession, out string, batch int) error {
	var mu sync.Mutex
	var first error
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if first == nil {
				first = err
			}
			mu.Unlock()
		}
	}
	for {
		fs := sess.PollRecords(ctx, batch)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			return fmt.Errorf("bench: limit: begin: %w", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(ctx, &kgo.Record{Topic: out, Key: r.Key, Value: r.Value}, promise)
		})
		try := kgo.TryCommit
		mu.Lock()
		if first != nil {
			try, first = kgo.TryAbort, nil
		}
		mu.Unlock()
		committed, err := sess.End(ctx, try)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("bench: limit: end transaction: %w", err)
		}
		if committed {
			p.n.Add(int64(fs.NumRecords()))
		}
	}
}

func (p *passthrough) committed() int64 { return p.n.Load() }

func (p *passthrough) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *passthrough) stop() error {
	p.cancel()
	p.wg.Wait()
	if err := p.failed(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
