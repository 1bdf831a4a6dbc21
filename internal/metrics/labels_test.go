package metrics_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/metrics"
	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream"
)

func TestLabelValue(t *testing.T) {
	for in, want := range map[string]string{
		"1":                     "1",
		"phc_abc":               "phc_abc",
		"équipe ✓":              "équipe ✓",
		"a\x00b":                "a\uFFFDb",
		"tab\there":             "tab\uFFFDhere",
		"bad\xffutf8":           "bad\uFFFDutf8",
		"line\nbreak":           "line\uFFFDbreak",
		strings.Repeat("x", 64): strings.Repeat("x", 64),
		strings.Repeat("x", 65): strings.Repeat("x", 61) + "…",
		strings.Repeat("é", 40): strings.Repeat("é", 30) + "…", // 2-byte runes: cut at a boundary
	} {
		got := metrics.LabelValue(in)
		assert.Equal(t, want, got, "%q", in)
		assert.LessOrEqual(t, len(got), metrics.MaxLabelBytes, "%q", in)
		assert.True(t, utf8.ValidString(got), "%q", in)
	}
	huge := metrics.LabelValue(strings.Repeat("\xff", 1<<20))
	assert.LessOrEqual(t, len(huge), metrics.MaxLabelBytes)
}

// series counts the series of one metric.
func series(t *testing.T, g prometheus.Gatherer, name string) (n int, labels []string) {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			n++
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetValue())
			}
		}
	}
	return n, labels
}

// TestLabelsBounded pins issue 11's unbounded labels: raw team strings
// became label values, any number of them, of any length and bytes. Now
// hostile teams give at most admin.metrics_team_cap bounded, valid labels
// plus "other", and reasons and types outside the fixed sets are "other".
func TestLabelsBounded(t *testing.T) {
	const teamCap = 20
	m := metrics.New(metrics.Config{TeamCap: teamCap})
	for i := range 5000 {
		team := fmt.Sprintf("%d-%s\x00\xff\n", i, strings.Repeat("t", i%300))
		m.ObserveBatch(&stream.BatchReport{
			Committed:    true,
			Stamped:      []billing.Delta{{Team: team, Month: "2026-11", Class: billing.Identified, Count: 1}},
			DeadLettered: []stream.Count{{Key: "invalid_json", N: 1}, {Key: team, N: 1}, {Key: fmt.Sprintf("reason_%d", i), N: 1}},
			Warnings:     []stream.Count{{Key: "timestamp_in_future", N: 1}, {Key: "Not A Type " + team, N: 1}},
		})
		m.ObserveApply(&stream.ApplyReport{Refusals: []stream.Count{{Key: strings.Repeat("z", 65), N: 1}}})
	}
	reg := m.Registry()
	n, labels := series(t, reg, "resolver_events_stamped_total")
	assert.LessOrEqual(t, n, teamCap+1, "teams beyond the cap share one series")
	assert.Equal(t, 5000.0-teamCap*1.0, value(t, reg, "resolver_events_stamped_total", map[string]string{"team": metrics.OtherTeam}))
	for _, l := range labels {
		assert.LessOrEqual(t, len(l), metrics.MaxLabelBytes)
		assert.True(t, utf8.ValidString(l), "%q", l)
		assert.NotContains(t, l, "\x00")
		assert.NotContains(t, l, "\n")
	}
	n, _ = series(t, reg, "resolver_events_dead_lettered_total")
	assert.LessOrEqual(t, n, 65, "reasons beyond the bound share one series")
	assert.Equal(t, 5000.0, value(t, reg, "resolver_events_dead_lettered_total", map[string]string{"reason": "invalid_json"}))
	assert.Positive(t, value(t, reg, "resolver_events_dead_lettered_total", map[string]string{"reason": metrics.OtherKind}))
	n, _ = series(t, reg, "resolver_ingestion_warnings_total")
	assert.Equal(t, 2, n, "a type that is not an identifier is other")
	assert.Equal(t, 5000.0, value(t, reg, "resolver_ingestion_warnings_total", map[string]string{"type": metrics.OtherKind}))
	assert.Equal(t, 5000.0, value(t, reg, "resolver_identity_merge_refusals_total", map[string]string{"type": metrics.OtherKind}))
}

// TestDiskMetrics: free space, GC and trim errors are exported.
func TestDiskMetrics(t *testing.T) {
	m := metrics.New(metrics.Config{})
	reg := m.Registry()
	assert.Equal(t, 0.0, value(t, reg, "resolver_outbox_trim_errors_total", nil), "exists from the start")
	m.ObserveTrimError()
	m.ObserveTrimError()
	m.ObserveDisk(5<<30, false)
	m.ObserveValueLogGC(state.GCResult{Rewrites: 2, Reclaimed: 1 << 20})
	assert.Equal(t, 2.0, value(t, reg, "resolver_outbox_trim_errors_total", nil))
	assert.Equal(t, float64(5<<30), value(t, reg, "resolver_state_disk_free_bytes", nil))
	assert.Equal(t, 0.0, value(t, reg, "resolver_state_disk_below_floor", nil))
	m.ObserveDisk(1, true)
	assert.Equal(t, 1.0, value(t, reg, "resolver_state_disk_below_floor", nil))
	assert.Equal(t, 1.0, value(t, reg, "resolver_state_value_log_gc_runs_total", nil))
	assert.Equal(t, 2.0, value(t, reg, "resolver_state_value_log_gc_rewrites_total", nil))
	assert.Equal(t, float64(1<<20), value(t, reg, "resolver_state_value_log_gc_reclaimed_bytes_total", nil))
}
