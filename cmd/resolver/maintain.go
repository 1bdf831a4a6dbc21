package main

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/metrics"
	"github.com/resolver-dev/resolver/pkg/state"
)

// diskCheckInterval is how often `resolver run` reads the free space of
// state.dir's filesystem (state.min_free_bytes). Not a config key: every
// write also checks (state.Store), this catches space taken by others
// while the instance is idle.
const diskCheckInterval = time.Second

// maintainedStore is what run's maintenance needs of a real store
// (*state.Store); test fakes lack it and get no maintenance.
type maintainedStore interface {
	// DiskHealth is a *state.DiskFullError below state.min_free_bytes.
	DiskHealth() error
	// DiskFree is the last reading of the free space.
	DiskFree() (uint64, bool)
	// ValueLogGC garbage-collects the value log.
	ValueLogGC(discardRatio float64) (state.GCResult, error)
}

var _ maintainedStore = (*state.Store)(nil)

// maintain runs the store's upkeep until ctx is done: the free-space check
// every diskCheckInterval (with state.min_free_bytes set) and value log GC
// every state.value_log_gc_interval (unless 0). A disk below its floor is
// passed to full, once, and ends maintain: the instance must stop (the
// caller turns /readyz false and stops the pipeline). m may be nil.
func maintain(ctx context.Context, sc StateConfig, st maintainedStore, m *metrics.Metrics, log *zap.Logger, full func(error)) {
	var diskC, gcC <-chan time.Time
	if sc.MinFreeBytes > 0 {
		t := time.NewTicker(diskCheckInterval)
		defer t.Stop()
		diskC = t.C
	}
	if sc.ValueLogGCInterval > 0 {
		t := time.NewTicker(sc.ValueLogGCInterval)
		defer t.Stop()
		gcC = t.C
	}
	unknown := false // the last reading failed (warned once, not every second)
	for {
		select {
		case <-ctx.Done():
			return
		case <-diskC:
			err := st.DiskHealth()
			if m != nil {
				if free, ok := st.DiskFree(); ok {
					m.ObserveDisk(free, state.IsDiskFull(err))
				}
			}
			if state.IsDiskFull(err) {
				full(err)
				return
			}
			switch {
			case err != nil && !unknown && ctx.Err() == nil:
				log.Warn("free space of state.dir unknown (checked again every second)", zap.Error(err))
				unknown = true
			case err == nil && unknown:
				log.Info("free space of state.dir known again")
				unknown = false
			}
		case <-gcC:
			start := time.Now()
			res, err := st.ValueLogGC(sc.ValueLogGCDiscardRatio)
			switch {
			case state.IsDiskFull(err):
				full(err)
				return
			case err != nil:
				if ctx.Err() == nil {
					log.Warn("value log GC failed (retried next interval)", zap.Error(err))
				}
			default:
				if m != nil {
					m.ObserveValueLogGC(res)
				}
				log.Debug("value log GC", zap.Int("rewrites", res.Rewrites), zap.Int64("reclaimed_bytes", res.Reclaimed), zap.Duration("took", time.Since(start)))
			}
		}
	}
}
