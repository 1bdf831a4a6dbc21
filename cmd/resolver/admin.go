package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/admin"
	"github.com/resolver-dev/resolver/internal/metrics"
	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/lifecycle"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// newMetrics returns the metrics of `resolver run`, or nil when the admin
// server is off (nothing would serve them). It watches the replica when the
// store is a real one.
func newMetrics(cfg Config, st stateStore) *metrics.Metrics {
	if cfg.Admin.Addr == "" {
		return nil
	}
	m := metrics.New(metrics.Config{TeamCap: cfg.Admin.MetricsTeamCap, Build: currentBuild()})
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
func newAdminServer(cfg Config, sc stream.Config, st stateStore, p pipeline, m *metrics.Metrics, pricing billing.Pricing, log *zap.Logger) *admin.Server {
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
	if len(sc.Kafka.Brokers) > 0 {
		deps.Commands = personCommands{k: sc.Kafka, t: sc.Topics, log: log.Named("commands")}
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

// adminCommandWait is how long DELETE /v1/persons waits for the outcome
// before it answers 202 (pending): well within the server's write timeout.
const adminCommandWait = 10 * time.Second

// personCommands writes the admin server's lifecycle commands to the
// cluster (stream.Request).
type personCommands struct {
	k   stream.Kafka
	t   stream.Topics
	log *zap.Logger
}

func (pc personCommands) DeletePerson(ctx context.Context, team, did string, block bool) (admin.CommandOutcome, error) {
	c := lifecycle.NewDelete(team, did, block, time.Now())
	res := admin.CommandOutcome{RequestID: c.RequestID, Team: team, DistinctID: did, Blocked: block}
	out, err := stream.Request(ctx, pc.k, pc.t, c, adminCommandWait, pc.log)
	res.Partition, res.Offset = out.Partition, out.Offset
	switch {
	case errors.Is(err, stream.ErrNoOutcome):
		return res, fmt.Errorf("%w: %w", admin.ErrPending, err)
	case err != nil:
		return res, err
	case out.Refused() != "":
		res.Status = "no_op"
	default:
		res.Status = "deleted"
		res.PersonID = out.Rows[0].AbsorbedPersonID
		res.DistinctIDs = out.Moved()
	}
	return res, nil
}

var _ admin.PersonSplitter = personCommands{}

// SplitPerson writes a split command as `resolver persons split` does and
// waits for its outcome (admin.PersonSplitter, POST /v1/persons/split).
func (pc personCommands) SplitPerson(ctx context.Context, team string, ids []string, noProps bool) (admin.SplitOutcome, error) {
	c := lifecycle.NewSplit(team, ids, noProps, time.Now())
	res := admin.SplitOutcome{RequestID: c.RequestID, Team: team, DistinctIDs: ids, NoProperties: noProps}
	out, err := stream.Request(ctx, pc.k, pc.t, c, adminCommandWait, pc.log)
	res.Partition, res.Offset = out.Partition, out.Offset
	switch {
	case errors.Is(err, stream.ErrNoOutcome):
		return res, fmt.Errorf("%w: %w", admin.ErrPending, err)
	case err != nil:
		return res, err
	case out.Refused() != "":
		res.Status, res.Refused, res.Reason = "refused", out.Refused(), refusalText(out.Refused())
	default:
		res.Status = "split"
		res.FromPersonID = out.Rows[0].AbsorbedPersonID
		res.NewPersonID = out.Rows[0].SurvivorPersonID
		res.Moved = out.Moved()
	}
	return res, nil
}
