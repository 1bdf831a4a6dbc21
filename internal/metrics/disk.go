package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// diskMetrics are the replica's disk maintenance: free space against the
// floor (state.min_free_bytes), value log GC, and outbox trimming.
type diskMetrics struct {
	free       prometheus.Gauge
	full       prometheus.Gauge
	gcRuns     prometheus.Counter
	gcRewrites prometheus.Counter
	gcBytes    prometheus.Counter
	trimErrors prometheus.Counter
}

var _ stream.TrimObserver = (*Metrics)(nil)

func newDiskMetrics() diskMetrics {
	return diskMetrics{
		free: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "resolver_state_disk_free_bytes",
			Help: "Bytes free on the filesystem of state.dir, as last read (every second while the instance runs with state.min_free_bytes set).",
		}),
		full: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "resolver_state_disk_below_floor",
			Help: "1 while the free space of state.dir's filesystem is below state.min_free_bytes (the instance stops), else 0.",
		}),
		gcRuns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "resolver_state_value_log_gc_runs_total",
			Help: "Value log garbage collections run (every state.value_log_gc_interval).",
		}),
		gcRewrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "resolver_state_value_log_gc_rewrites_total",
			Help: "Value log files rewritten by garbage collection.",
		}),
		gcBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "resolver_state_value_log_gc_reclaimed_bytes_total",
			Help: "Disk space the value log occupied less after each garbage collection than before.",
		}),
		trimErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "resolver_outbox_trim_errors_total",
			Help: "Failed outbox trims (reading the group's committed offsets, or deleting rows); the next trim retries.",
		}),
	}
}

func (d diskMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{d.free, d.full, d.gcRuns, d.gcRewrites, d.gcBytes, d.trimErrors}
}

// ObserveDisk records a reading of the free space of state.dir's
// filesystem and whether it was below the floor.
func (m *Metrics) ObserveDisk(free uint64, belowFloor bool) {
	m.disk.free.Set(float64(free))
	v := 0.0
	if belowFloor {
		v = 1
	}
	m.disk.full.Set(v)
}

// ObserveValueLogGC counts one value log garbage collection.
func (m *Metrics) ObserveValueLogGC(r state.GCResult) {
	m.disk.gcRuns.Inc()
	m.disk.gcRewrites.Add(float64(r.Rewrites))
	m.disk.gcBytes.Add(float64(r.Reclaimed))
}

// ObserveTrimError counts a failed outbox trim (stream.TrimObserver).
func (m *Metrics) ObserveTrimError() { m.disk.trimErrors.Inc() }
