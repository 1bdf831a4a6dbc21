package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// pipelines are Instances resolver pipelines in one group, each on its own
// fresh state directory (a copy of template, if not "") with its own
// transactional id.
type pipelines struct {
	cancel context.CancelFunc
	pipes  []*stream.Pipeline
	stores []*state.Store
	dir    string
	wg     sync.WaitGroup

	mu  sync.Mutex
	err error

	// steps sums the workers' batch step times (every pipeline's Observer).
	steps stepTotals
}

// startPipelines starts the pipelines of one turn over topics and group
// and waits until every one is ready.
func startPipelines(c *Config, topics stream.Topics, group string, log *zap.Logger, template string) (_ *pipelines, err error) {
	dir, err := os.MkdirTemp(c.StateDir, "resolver-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: state dir: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &pipelines{cancel: cancel, dir: dir}
	defer func() {
		if err != nil {
			p.stop()
		}
	}()
	for i := range c.Instances {
		opts := c.State
		opts.Logger = log
		sdir := filepath.Join(dir, fmt.Sprint("instance-", i))
		if template != "" {
			if err := copyDir(template, sdir); err != nil {
				return nil, fmt.Errorf("bench: copy the preloaded replica: %w", err)
			}
		}
		st, err := state.Open(sdir, opts)
		if err != nil {
			return nil, fmt.Errorf("bench: open state: %w", err)
		}
		p.stores = append(p.stores, st)
		sc := stream.Config{
			Kafka:           c.Kafka,
			Topics:          topics,
			Group:           group,
			TransactionalID: fmt.Sprintf("%s-%d", group, i),
			TopicPartitions: int(c.Partitions),
			MaxBatchRecords: c.BatchRecords,
			Workers:         c.Workers,
		}
		sc.Observer = &p.steps
		if c.Stream != nil {
			c.Stream(&sc)
		}
		pl, err := stream.New(sc, st, log)
		if err != nil {
			return nil, fmt.Errorf("bench: pipeline: %w", err)
		}
		p.pipes = append(p.pipes, pl)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if err := pl.Run(ctx); err != nil {
				p.mu.Lock()
				if p.err == nil {
					p.err = err
				}
				p.mu.Unlock()
			}
		}()
	}
	deadline := time.After(2 * time.Minute)
	for _, pl := range p.pipes {
		select {
		case <-pl.Started():
		case <-deadline:
			return nil, fmt.Errorf("bench: pipeline not ready after 2 minutes: %w", ErrIncomplete)
		}
		if err := p.failed(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *pipelines) committed() int64 {
	var n int64
	for _, pl := range p.pipes {
		n += pl.Stats().Consumed.Load()
	}
	return n
}

// opsLogged is the number of identity ops the pipelines have logged.
func (p *pipelines) opsLogged() int64 {
	var n int64
	for _, pl := range p.pipes {
		n += pl.Stats().OpsLogged.Load()
	}
	return n
}

// rowStats sums the rows of the pipelines' replicas by key kind.
func (p *pipelines) rowStats() ([]state.RowKind, error) {
	var out []state.RowKind
	for _, st := range p.stores {
		kinds, err := st.RowStats()
		if err != nil {
			return nil, fmt.Errorf("bench: replica rows: %w", err)
		}
		for _, k := range kinds {
			i := slices.IndexFunc(out, func(o state.RowKind) bool { return o.Tag == k.Tag })
			if i < 0 {
				out = append(out, k)
				continue
			}
			out[i].Rows += k.Rows
			out[i].KeyBytes += k.KeyBytes
			out[i].ValueBytes += k.ValueBytes
		}
	}
	return out, nil
}

func (p *pipelines) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// stop cancels the pipelines, waits for them, closes their stores and
// removes the state directory.
func (p *pipelines) stop() error {
	p.cancel()
	p.wg.Wait()
	errs := []error{p.failed()}
	for _, st := range p.stores {
		errs = append(errs, st.Close())
	}
	errs = append(errs, os.RemoveAll(p.dir))
	return errors.Join(errs...)
}
