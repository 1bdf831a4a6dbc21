package metrics_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/metrics"
	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream"
)

func batch(committed bool, deltas ...billing.Delta) *stream.BatchReport {
	return &stream.BatchReport{
		Records:      10,
		Committed:    committed,
		Duration:     30 * time.Millisecond,
		EndDuration:  5 * time.Millisecond,
		OpsLogged:    2,
		Stamped:      deltas,
		DeadLettered: []stream.Count{{Key: "invalid_json", N: 1}},
		Warnings:     []stream.Count{{Key: "timestamp_in_future", N: 3}},
	}
}

func TestObserveBatch(t *testing.T) {
	m := metrics.New(metrics.Config{TeamCap: 10})
	m.ObserveBatch(batch(true,
		billing.Delta{Team: "1", Month: "2026-11", Class: billing.Anonymous, Count: 4},
		billing.Delta{Team: "1", Month: "2026-12", Class: billing.Anonymous, Count: 1},
		billing.Delta{Team: "1", Month: "2026-11", Class: billing.Identified, Count: 3},
	))
	// An aborted batch is processed again: only its ops and timings count.
	m.ObserveBatch(batch(false, billing.Delta{Team: "1", Month: "2026-11", Class: billing.Anonymous, Count: 100}))

	reg := m.Registry()
	assert.Equal(t, 10.0, value(t, reg, "resolver_events_consumed_total", nil))
	assert.Equal(t, 5.0, value(t, reg, "resolver_events_stamped_total", map[string]string{"team": "1", "class": "anonymous"}))
	assert.Equal(t, 3.0, value(t, reg, "resolver_events_stamped_total", map[string]string{"team": "1", "class": "identified"}))
	assert.Equal(t, 1.0, value(t, reg, "resolver_events_dead_lettered_total", map[string]string{"reason": "invalid_json"}))
	assert.Equal(t, 3.0, value(t, reg, "resolver_ingestion_warnings_total", map[string]string{"type": "timestamp_in_future"}))
	assert.Equal(t, 4.0, value(t, reg, "resolver_identity_ops_logged_total", nil))
	assert.Equal(t, 1.0, value(t, reg, "resolver_transactions_total", map[string]string{"outcome": "committed"}))
	assert.Equal(t, 1.0, value(t, reg, "resolver_transactions_total", map[string]string{"outcome": "aborted"}))
	assert.Equal(t, 2.0, value(t, reg, "resolver_batch_duration_seconds", nil), "histogram sample count")
	assert.Equal(t, 1.0, value(t, reg, "resolver_transaction_duration_seconds", map[string]string{"outcome": "committed"}))
}

// TestObserveZombie: a zombie's batch (issue 12) counts as aborted and in
// resolver_zombie_batches_total by fate; both fates exist from the start.
func TestObserveZombie(t *testing.T) {
	m := metrics.New(metrics.Config{})
	reg := m.Registry()
	assert.Equal(t, 0.0, value(t, reg, "resolver_zombie_batches_total", map[string]string{"fate": stream.ZombieGroupFenced}))
	assert.Equal(t, 0.0, value(t, reg, "resolver_zombie_batches_total", map[string]string{"fate": stream.ZombieProducerFenced}))
	z := batch(false)
	z.Zombie = stream.ZombieGroupFenced
	m.ObserveBatch(z)
	m.ObserveBatch(batch(false)) // an abort of our own is no zombie's
	z.Zombie = stream.ZombieProducerFenced
	m.ObserveBatch(z)
	m.ObserveBatch(z)
	assert.Equal(t, 1.0, value(t, reg, "resolver_zombie_batches_total", map[string]string{"fate": stream.ZombieGroupFenced}))
	assert.Equal(t, 2.0, value(t, reg, "resolver_zombie_batches_total", map[string]string{"fate": stream.ZombieProducerFenced}))
	assert.Equal(t, 4.0, value(t, reg, "resolver_transactions_total", map[string]string{"outcome": "aborted"}))
}

func TestObserveApplyAndLag(t *testing.T) {
	m := metrics.New(metrics.Config{})
	m.ObserveApply(&stream.ApplyReport{Applied: 7, Skipped: 2, Malformed: 1, Merges: 3,
		Refusals: []stream.Count{{Key: "cannot_merge_already_identified", N: 2}}})
	reg := m.Registry()
	assert.Equal(t, 0.0, value(t, reg, "resolver_ready", nil), "not ready before the first report")
	m.ObserveLag(stream.LagReport{Offsets: 42, Behind: 1500 * time.Millisecond})
	assert.Equal(t, 7.0, value(t, reg, "resolver_identity_ops_total", map[string]string{"result": "applied"}))
	assert.Equal(t, 2.0, value(t, reg, "resolver_identity_ops_total", map[string]string{"result": "skipped"}))
	assert.Equal(t, 1.0, value(t, reg, "resolver_identity_ops_total", map[string]string{"result": "malformed"}))
	assert.Equal(t, 3.0, value(t, reg, "resolver_identity_merges_total", nil))
	assert.Equal(t, 2.0, value(t, reg, "resolver_identity_merge_refusals_total", map[string]string{"type": "cannot_merge_already_identified"}))
	assert.Equal(t, 42.0, value(t, reg, "resolver_applier_lag_offsets", nil))
	assert.Equal(t, 1.5, value(t, reg, "resolver_applier_lag_seconds", nil))
	assert.Equal(t, 0.0, value(t, reg, "resolver_ready", nil))
	m.ObserveLag(stream.LagReport{Ready: true})
	assert.Equal(t, 1.0, value(t, reg, "resolver_ready", nil))
	assert.Equal(t, 0.0, value(t, reg, "resolver_applier_lag_seconds", nil))
	m.ObserveLag(stream.LagReport{Offsets: 3, Behind: 4 * time.Second})
	assert.Equal(t, 0.0, value(t, reg, "resolver_ready", nil), "ready turns 0 again")
}

// TestTeamCap: the first TeamCap teams keep their label for good; later
// teams count under "other", and the number of labelled teams is exported.
func TestTeamCap(t *testing.T) {
	m := metrics.New(metrics.Config{TeamCap: 2})
	for _, team := range []string{"1", "2", "3", "4", "1", "3"} {
		m.ObserveBatch(batch(true, billing.Delta{Team: team, Month: "2026-11", Class: billing.Identified, Count: 1}))
	}
	reg := m.Registry()
	id := func(team string) map[string]string { return map[string]string{"team": team, "class": "identified"} }
	assert.Equal(t, 2.0, value(t, reg, "resolver_events_stamped_total", id("1")))
	assert.Equal(t, 1.0, value(t, reg, "resolver_events_stamped_total", id("2")))
	assert.Equal(t, 3.0, value(t, reg, "resolver_events_stamped_total", id(metrics.OtherTeam)), "teams 3, 4, 3")
	teams := labelValues(t, reg, "resolver_events_stamped_total", "team")
	assert.ElementsMatch(t, []string{"1", "2", metrics.OtherTeam}, teams)
	assert.Equal(t, 2.0, value(t, reg, "resolver_metrics_team_labels", nil))

	none := metrics.New(metrics.Config{TeamCap: 0})
	none.ObserveBatch(batch(true, billing.Delta{Team: "1", Month: "2026-11", Class: billing.Anonymous, Count: 5}))
	assert.Equal(t, []string{metrics.OtherTeam}, labelValues(t, none.Registry(), "resolver_events_stamped_total", "team"))
}

// TestTeamCapDefault: with the default cap, 100 teams are labelled and the
// 101st is "other".
func TestTeamCapDefault(t *testing.T) {
	m := metrics.New(metrics.Config{TeamCap: metrics.DefaultTeamCap})
	for i := range 150 {
		m.ObserveBatch(batch(true, billing.Delta{Team: fmt.Sprint(i), Month: "2026-11", Class: billing.Anonymous, Count: 1}))
	}
	teams := labelValues(t, m.Registry(), "resolver_events_stamped_total", "team")
	assert.Len(t, teams, metrics.DefaultTeamCap+1)
	assert.Contains(t, teams, "99")
	assert.NotContains(t, teams, "100")
	assert.Equal(t, 50.0, value(t, m.Registry(), "resolver_events_stamped_total", map[string]string{"team": metrics.OtherTeam, "class": "anonymous"}))
}

type fakeStore struct {
	cs      state.CacheStats
	size    int64
	sizeErr error
}

func (f *fakeStore) CacheStats() state.CacheStats { return f.cs }
func (f *fakeStore) DiskSize() (int64, error)     { return f.size, f.sizeErr }

func TestWatchStore(t *testing.T) {
	m := metrics.New(metrics.Config{})
	s := &fakeStore{cs: state.CacheStats{Hits: 3, Misses: 1, Bytes: 1000, Entries: 4}, size: 1 << 20}
	m.WatchStore(s)
	m.WatchStore(s) // once only: no duplicate registration panic
	reg := m.Registry()
	assert.Equal(t, 3.0, value(t, reg, "resolver_state_cache_hits_total", nil))
	assert.Equal(t, 1.0, value(t, reg, "resolver_state_cache_misses_total", nil))
	assert.Equal(t, 0.75, value(t, reg, "resolver_state_cache_hit_ratio", nil))
	assert.Equal(t, 1000.0, value(t, reg, "resolver_state_cache_bytes", nil))
	assert.Equal(t, 4.0, value(t, reg, "resolver_state_cache_entries", nil))
	assert.Equal(t, float64(1<<20), value(t, reg, "resolver_state_disk_bytes", nil))

	// A closed store: the disk metric is left out, the scrape still works.
	s.sizeErr = state.ErrClosed
	n, err := testutil.GatherAndCount(reg, "resolver_state_disk_bytes", "resolver_state_cache_hits_total")
	require.NoError(t, err)
	assert.Equal(t, 1, n)

	// No lookups yet: ratio 0, not NaN.
	empty := metrics.New(metrics.Config{})
	empty.WatchStore(&fakeStore{})
	assert.Equal(t, 0.0, value(t, empty.Registry(), "resolver_state_cache_hit_ratio", nil))
}

// TestRegistryLint runs Prometheus' metric linter (names, units, help).
func TestRegistryLint(t *testing.T) {
	m := metrics.New(metrics.Config{})
	m.WatchStore(&fakeStore{})
	problems, err := testutil.GatherAndLint(m.Registry())
	require.NoError(t, err)
	var own []string
	for _, p := range problems {
		own = append(own, p.Metric+": "+p.Text)
	}
	assert.Empty(t, own)
}
