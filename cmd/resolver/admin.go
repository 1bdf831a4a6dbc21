package main

import (
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/admin"
	"github.com/resolver-dev/resolver/internal/metrics"
	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// newMetrics returns the metrics of `resolver run`, or nil when the admin
// server is off (nothing would serve them). It watches the replica when the
// store is a real one.
func newMetrics(cfg Config, st stateStore) *metrics.Metrics {
	if cfg.Admin.Addr == "" {
		return nil
	}
	m := metrics.New(metrics.Config{TeamCap: cfg.Admin.MetricsTeamCap})
	if ms, ok := st.(metrics.Store); ok {
		m.WatchStore(ms)
	}
	return m
}

// newAdminServer builds the admin server of `resolver run` over what the
// pipeline and the store offer: readiness (*stream.Pipeline), lookups and
// billing reports (a Badger store), metrics. What a test fake lacks is left
// out, and its endpoint answers 503. It returns nil when admin.addr is
// empty.
func newAdminServer(cfg Config, st stateStore, p pipeline, m *metrics.Metrics, pricing billing.Pricing, log *zap.Logger) *admin.Server {
	if cfg.Admin.Addr == "" {
		return nil
	}
	deps := admin.Deps{Logger: log}
	switch r := p.(type) {
	case readinessSource:
		deps.Ready = readiness{r}
	case admin.Readiness:
		deps.Ready = r
	}
	if s, ok := st.(store); ok {
		deps.Persons = s.Store
		deps.Lineage = s.Store
		deps.Billing = admin.TotalsReport(s.Store, pricing)
	}
	if m != nil {
		deps.Gatherer = m.Registry()
	}
	return admin.New(admin.Config{Addr: cfg.Admin.Addr, Token: cfg.Admin.Token, LogIDs: !cfg.Log.Redact}, deps)
}

// readinessSource is what *stream.Pipeline offers /readyz: readiness with
// the lag and applied offsets it was judged on.
type readinessSource interface {
	Readiness() stream.ReadyStatus
}

// readiness adapts a readinessSource to admin.ReadyReporter, so /readyz
// shows the replica's lag and applied identity_log offsets next to its
// answer.
type readiness struct{ src readinessSource }

func (r readiness) Ready() error { return r.src.Readiness().Err }

func (r readiness) ReadyReport() admin.ReadyReport {
	s := r.src.Readiness()
	return admin.ReadyReport{Err: s.Err, LagSeconds: s.Lag.Seconds(), AppliedOffsets: s.Applied}
}
