package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/resolver-dev/resolver/pkg/state"
)

// Store is what the metrics read of the replica (a *state.Store), at
// scrape time, from the scraping goroutine.
type Store interface {
	CacheStats() state.CacheStats
	// DiskSize is the disk space of the store's files; an error (the store
	// is closed during shutdown) leaves the metric out of that scrape.
	DiskSize() (int64, error)
}

var _ Store = (*state.Store)(nil)

// WatchStore adds the replica's cache and disk metrics, read from s at
// every scrape. Only the first call has an effect: one process has one
// replica.
func (m *Metrics) WatchStore(s Store) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.watched {
		return
	}
	m.watched = true
	m.reg.MustRegister(storeCollector{s})
}

var (
	cacheHitsDesc = prometheus.NewDesc("resolver_state_cache_hits_total",
		"Lookups of the replica answered by its in-memory cache.", nil, nil)
	cacheMissesDesc = prometheus.NewDesc("resolver_state_cache_misses_total",
		"Lookups of the replica that went to Badger.", nil, nil)
	cacheRatioDesc = prometheus.NewDesc("resolver_state_cache_hit_ratio",
		"Cache hits / (hits + misses) since start; 0 before the first lookup. Use the two counters for a rate.", nil, nil)
	cacheBytesDesc = prometheus.NewDesc("resolver_state_cache_bytes",
		"Approximate bytes held by the replica's cache.", nil, nil)
	cacheEntriesDesc = prometheus.NewDesc("resolver_state_cache_entries",
		"Entries in the replica's cache.", nil, nil)
	diskBytesDesc = prometheus.NewDesc("resolver_state_disk_bytes",
		"Disk space of the replica's Badger directory (allocated blocks).", nil, nil)
)

// storeCollector reads a Store at scrape time: CacheStats once per scrape
// (it locks every cache shard) for all cache metrics.
type storeCollector struct{ s Store }

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cacheHitsDesc, cacheMissesDesc, cacheRatioDesc, cacheBytesDesc, cacheEntriesDesc, diskBytesDesc} {
		ch <- d
	}
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	cs := c.s.CacheStats()
	ratio := 0.0
	if total := cs.Hits + cs.Misses; total > 0 {
		ratio = float64(cs.Hits) / float64(total)
	}
	ch <- prometheus.MustNewConstMetric(cacheHitsDesc, prometheus.CounterValue, float64(cs.Hits))
	ch <- prometheus.MustNewConstMetric(cacheMissesDesc, prometheus.CounterValue, float64(cs.Misses))
	ch <- prometheus.MustNewConstMetric(cacheRatioDesc, prometheus.GaugeValue, ratio)
	ch <- prometheus.MustNewConstMetric(cacheBytesDesc, prometheus.GaugeValue, float64(cs.Bytes))
	ch <- prometheus.MustNewConstMetric(cacheEntriesDesc, prometheus.GaugeValue, float64(cs.Entries))
	if n, err := c.s.DiskSize(); err == nil {
		ch <- prometheus.MustNewConstMetric(diskBytesDesc, prometheus.GaugeValue, float64(n))
	}
}
