package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/resolver-dev/resolver/pkg/stream"
)

// DefaultTeamCap is the default of Config.TeamCap (admin.metrics_team_cap).
const DefaultTeamCap = 100

// OtherTeam is the team label of the events of teams beyond the cap.
const OtherTeam = "other"

// Config configures Metrics.
type Config struct {
	// TeamCap is the number of distinct teams that get their own team label
	// on resolver_events_stamped_total (admin.metrics_team_cap; use
	// DefaultTeamCap, 100, by default). Events of later teams count under
	// team="other"; zero puts every team there.
	TeamCap int
	// Build is the labels of resolver_build_info (build.go).
	Build BuildInfo
}

// Metrics is the resolver's Prometheus metrics on their own registry. It
// implements stream.Observer; its methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	consumed     prometheus.Counter
	stamped      *prometheus.CounterVec
	deadLettered *prometheus.CounterVec
	warnings     *prometheus.CounterVec
	opsLogged    prometheus.Counter
	transactions *prometheus.CounterVec
	zombies      *prometheus.CounterVec
	batchSeconds prometheus.Histogram
	txnSeconds   *prometheus.HistogramVec

	ops        *prometheus.CounterVec
	merges     prometheus.Counter
	refusals   *prometheus.CounterVec
	lagOffsets prometheus.Gauge
	lagSeconds prometheus.Gauge
	paused     prometheus.Gauge
	billing    *prometheus.CounterVec
	ready      prometheus.Gauge

	teamLabels prometheus.Gauge

	disk diskMetrics // disk.go

	clients clientLabels // kafka.go
	lag     consumerLag  // kafka.go

	// The label values of reasons and types (labels.go).
	deadReasons, warningTypes, refusalTypes kindLabels

	teamCap int
	mu      sync.Mutex
	teams   map[string]struct{} // teams with their own label; at most teamCap
	watched bool
}

var (
	_ stream.Observer        = (*Metrics)(nil)
	_ stream.BillingObserver = (*Metrics)(nil)
)

// latencyBuckets go from 1ms to about 33s, doubling.
var latencyBuckets = prometheus.ExponentialBuckets(0.001, 2, 16)

// New returns the metrics, registered on a new registry together with the
// Go runtime and process collectors.
func New(cfg Config) *Metrics {
	m := &Metrics{
		reg:     prometheus.NewRegistry(),
		teamCap: max(cfg.TeamCap, 0),
		teams:   map[string]struct{}{},

		consumed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "resolver_events_consumed_total",
			Help: "Records consumed from the input topic, counted when their transaction commits.",
		}),
		stamped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "resolver_events_stamped_total",
			Help: `Events stamped with their person, by billing class; team is "other" beyond admin.metrics_team_cap teams.`,
		}, []string{"team", "class"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "resolver_events_dead_lettered_total",
			Help: "Records sent to the dead-letter topic, by reason.",
		}, []string{"reason"}),
		warnings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "resolver_ingestion_warnings_total",
			Help: "Ingestion warnings produced, by type.",
		}, []string{"type"}),
		opsLogged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "resolver_identity_ops_logged_total",
			Help: "Identity ops produced to identity_log by this instance's workers.",
		}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "resolver_transactions_total",
			Help: "Batch transactions ended, by outcome (committed, aborted).",
		}, []string{"outcome"}),
		zombies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "resolver_zombie_batches_total",
			Help: "Batches this instance held after its claim to them had ended, aborted when the broker refused them, by fate: group_fenced (the group had moved their partitions on: the member's session expired or its epoch was fenced, e.g. cut off from the broker for longer than kafka.session_timeout), producer_fenced (the broker knew a newer epoch of the worker's transactional producer: the transaction outlived its timeout).",
		}, []string{"fate"}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "resolver_batch_duration_seconds",
			Help:    "Time from a poll's return to the end of its transaction.",
			Buckets: latencyBuckets,
		}),
		txnSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "resolver_transaction_duration_seconds",
			Help:    "Time spent ending a batch transaction (flush and commit or abort), by outcome.",
			Buckets: latencyBuckets,
		}, []string{"outcome"}),

		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "resolver_identity_ops_total",
			Help: "identity_log records handled by the applier, by result (applied; skipped as duplicates; malformed: not an op; rejected: an op no replica can apply). The same on every instance.",
		}, []string{"result"}),
		merges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "resolver_identity_merges_total",
			Help: "Merge requests that joined two persons, as applied to this replica. The same on every instance.",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "resolver_identity_merge_refusals_total",
			Help: "Merge requests refused, by warning type, as applied to this replica. The same on every instance.",
		}, []string{"type"}),
		lagOffsets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "resolver_applier_lag_offsets",
			Help: "identity_log records not yet applied to this replica (log end minus applied).",
		}),
		lagSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "resolver_applier_lag_seconds",
			Help: "While the replica lacks identity_log records: seconds since the log last held nothing it has not applied (now minus the time of the newest end-offset listing it has reached); grows with the clock while the applier is stuck. 0 when caught up.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "resolver_ready",
			Help: "1 while /readyz says ready (started, healthy, replica within readiness.max_lag of identity_log's end), else 0.",
		}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "resolver_applier_paused",
			Help: "1 while the applier is paused at an identity_log op of a version this binary does not know (it waits for an upgrade), else 0.",
		}),
		billing: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "resolver_billing_deltas_total",
			Help: "billing_usage records handled by the billing view, by result (folded; malformed: not a delta; rejected: out of bounds or overflowing its total). The same on every instance.",
		}, []string{"result"}),
		teamLabels: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "resolver_metrics_team_labels",
			Help: "Teams with their own team label on resolver_events_stamped_total (at most admin.metrics_team_cap).",
		}),
	}
	m.disk = newDiskMetrics()
	m.reg.MustRegister(m.disk.collectors()...)
	m.reg.MustRegister(
		m.consumed, m.stamped, m.deadLettered, m.warnings, m.opsLogged, m.transactions, m.zombies, m.batchSeconds, m.txnSeconds,
		m.ops, m.merges, m.refusals, m.lagOffsets, m.lagSeconds, m.paused, m.billing, m.ready, m.teamLabels,
		buildInfoGauge(cfg.Build),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// Series that exist from the start, so that rates and alerts do not
	// wait for the first occurrence.
	for _, o := range []string{"committed", "aborted"} {
		m.transactions.WithLabelValues(o)
	}
	for _, f := range []string{stream.ZombieGroupFenced, stream.ZombieProducerFenced} {
		m.zombies.WithLabelValues(f)
	}
	for _, r := range []string{"applied", "skipped", "malformed", "rejected"} {
		m.ops.WithLabelValues(r)
	}
	for _, r := range []string{"folded", "malformed", "rejected"} {
		m.billing.WithLabelValues(r)
	}
	return m
}

// Registry returns the registry holding every metric; serve it with
// promhttp.HandlerFor (internal/admin does).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveBatch counts a batch of the worker loop (stream.Observer).
func (m *Metrics) ObserveBatch(r *stream.BatchReport) {
	m.opsLogged.Add(float64(r.OpsLogged))
	m.batchSeconds.Observe(r.Duration.Seconds())
	outcome := "aborted"
	if r.Committed {
		outcome = "committed"
	}
	m.transactions.WithLabelValues(outcome).Inc()
	if r.Zombie != "" {
		m.zombies.WithLabelValues(r.Zombie).Inc()
	}
	m.txnSeconds.WithLabelValues(outcome).Observe(r.EndDuration.Seconds())
	if !r.Committed {
		return
	}
	for i := range r.Stamped {
		d := &r.Stamped[i]
		m.stamped.WithLabelValues(m.teamLabel(d.Team), d.Class.String()).Add(float64(d.Count))
	}
	for _, c := range r.DeadLettered {
		m.deadLettered.WithLabelValues(m.deadReasons.label(c.Key)).Add(float64(c.N))
	}
	for _, c := range r.Warnings {
		m.warnings.WithLabelValues(m.warningTypes.label(c.Key)).Add(float64(c.N))
	}
	// Consumed last: a reader that has seen resolver_events_consumed_total
	// reach N sees, from its next scrape on, what happened to those N
	// records on the other counters (one scrape is not a snapshot: it may
	// read a counter before this batch and consumed after it).
	m.consumed.Add(float64(r.Records))
}

// ObserveApply counts a chunk applied by the applier (stream.Observer).
func (m *Metrics) ObserveApply(r *stream.ApplyReport) {
	m.ops.WithLabelValues("applied").Add(float64(r.Applied))
	m.ops.WithLabelValues("skipped").Add(float64(r.Skipped))
	m.ops.WithLabelValues("malformed").Add(float64(r.Malformed))
	m.ops.WithLabelValues("rejected").Add(float64(r.Rejected))
	if r.Paused {
		m.paused.Set(1)
	} else {
		m.paused.Set(0)
	}
	m.merges.Add(float64(r.Merges))
	for _, c := range r.Refusals {
		m.refusals.WithLabelValues(m.refusalTypes.label(c.Key)).Add(float64(c.N))
	}
}

// ObserveBilling counts a fold of the billing view (stream.BillingObserver).
func (m *Metrics) ObserveBilling(r *stream.BillingReport) {
	m.billing.WithLabelValues("folded").Add(float64(r.Folded))
	m.billing.WithLabelValues("malformed").Add(float64(r.Malformed))
	m.billing.WithLabelValues("rejected").Add(float64(r.Rejected))
}

// ObserveLag sets the applier lag gauges and resolver_ready
// (stream.Observer).
func (m *Metrics) ObserveLag(r stream.LagReport) {
	m.lagOffsets.Set(float64(r.Offsets))
	m.lagSeconds.Set(r.Behind.Seconds())
	ready := 0.0
	if r.Ready {
		ready = 1
	}
	m.ready.Set(ready)
}

// teamLabel is the team label of a team's events: the team as a bounded
// label value (LabelValue) while fewer than the cap have one, else
// OtherTeam.
func (m *Metrics) teamLabel(team string) string {
	team = LabelValue(team)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.teams[team]; ok {
		return team
	}
	if len(m.teams) >= m.teamCap {
		return OtherTeam
	}
	m.teams[team] = struct{}{}
	m.teamLabels.Set(float64(len(m.teams)))
	return team
}
