package stream

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/gen"
	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/state"
)

// billingCounts is a billing view: events per (team, month, class).
type billingCounts map[billing.Key]int64

// stampedCounts reads events_person (read_committed) and counts its events
// per team, month of their record timestamp (the input record's, which
// bills the event) and billing_class: what every billing total must equal.
func (h *harness) stampedCounts(t *testing.T) billingCounts {
	t.Helper()
	out := billingCounts{}
	for _, r := range h.readAll(h.cfg.Topics.Person) {
		var ev struct {
			Team         string `json:"team"`
			BillingClass string `json:"billing_class"`
		}
		require.NoError(t, json.Unmarshal(r.Value, &ev), "events_person value: %s", r.Value)
		c, err := billing.ParseClass(ev.BillingClass)
		require.NoError(t, err, "billing_class of %s", r.Value)
		out[billing.Key{Team: ev.Team, Month: billing.Month(r.Timestamp), Class: c}]++
	}
	return out
}

// committedDeltas reads billing_usage (read_committed): the sum of its
// deltas, and per partition the offset after its last committed delta.
func (h *harness) committedDeltas(t *testing.T) (billingCounts, map[int32]int64) {
	t.Helper()
	sum, next := billingCounts{}, map[int32]int64{}
	for _, r := range h.readAll(h.cfg.Topics.Billing) {
		d, err := billing.DecodeDelta(r.Value)
		require.NoError(t, err, "billing_usage %d/%d", r.Partition, r.Offset)
		sum[d.Key()] += d.Count
		next[r.Partition] = max(next[r.Partition], r.Offset+1)
	}
	return sum, next
}

// viewAt waits until the billing view in st has folded billing_usage up to
// next (per partition), then returns its totals.
func viewAt(t *testing.T, st *state.Store, next map[int32]int64) billingCounts {
	t.Helper()
	wait(t, 60*time.Second, "the billing view to fold every committed delta", func() bool {
		offs, err := st.BillingOffsets()
		require.NoError(t, err)
		for p, n := range next {
			if offs[p] < n {
				return false
			}
		}
		return true
	})
	totals := billingCounts{}
	require.NoError(t, st.BillingTotals(func(team, month, class string, n int64) error {
		c, err := billing.ParseClass(class)
		if err != nil {
			return err
		}
		totals[billing.Key{Team: team, Month: month, Class: c}] = n
		return nil
	}))
	return totals
}

// TestBillingExact is the exactness test of issue 5: a generated stream of
// three teams across two months goes through the pipeline, whose instance is
// stopped mid-stream and restarted on the same state dir; then the billing
// view is rebuilt from nothing by replaying billing_usage from the start.
// The totals per (team, month, class), both of the instance's view and of
// the rebuilt one, equal the events of that team, month and billing_class
// read back from events_person (read_committed), to the event; and so does
// the sum of the committed deltas.
func TestBillingExact(t *testing.T) {
	h := newHarness(t)
	cfg := gen.DefaultConfig()
	cfg.Seed = 5
	cfg.Teams = 3
	cfg.Users = 60
	cfg.PadBytes = 0
	// Sessions are minutes to three days apart, so a stream starting six
	// hours before the end of a month runs days into the next. It must lie
	// in the past: timestamps more than 23 h ahead of the processing time
	// are clamped to it (docs/SEMANTICS.md §1).
	cfg.Start = time.Date(2026, 10, 31, 18, 0, 0, 0, time.UTC)
	recs, in := mixedStream(t, cfg)
	half := len(recs) / 2

	stateDir := t.TempDir()
	inst := h.start(stateDir)
	h.produce(recs[:half])
	wait(t, 60*time.Second, "some batches committed", func() bool { return inst.p.Stats().Consumed.Load() > int64(half/4) })
	inst.stop(t) // mid-stream: the rest of the first half is left for the restart

	inst = h.start(stateDir)
	h.produce(recs[half:])
	h.collect(t, in) // every input stamped or dead-lettered, exactly once

	want := h.stampedCounts(t)
	teams, months := map[string]bool{}, map[string]bool{}
	var stamped int64
	for k, n := range want {
		teams[k.Team], months[k.Month] = true, true
		stamped += n
	}
	t.Logf("%d records, %d stamped: %v", len(recs), stamped, want)
	require.Len(t, teams, 3, "teams in the stream")
	require.Equal(t, map[string]bool{"2026-10": true, "2026-11": true}, months, "months in the stream")
	for _, c := range billing.Classes() {
		n := int64(0)
		for k, v := range want {
			if k.Class == c {
				n += v
			}
		}
		require.NotZero(t, n, "no %s events in the stream", c)
	}

	deltas, next := h.committedDeltas(t)
	assert.Equal(t, want, deltas, "committed billing_usage deltas = events_person counts")

	assert.Equal(t, want, viewAt(t, inst.st, next), "the restarted instance's billing view = events_person counts")
	inst.stop(t)

	// Rebuild: a fresh replica folds billing_usage from the start.
	st, err := state.Open(t.TempDir(), state.Options{Logger: h.log})
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	adm, closeAdm, err := NewAdmin(h.cfg.Kafka, h.log)
	require.NoError(t, err)
	defer closeAdm()
	ctx, cancel := context.WithCancel(context.Background())
	view, err := NewBillingView(ctx, h.cfg, st, adm, h.log)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- view.Run(ctx) }()
	rebuilt := viewAt(t, st, next)
	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, want, rebuilt, "the rebuilt billing view = events_person counts")

	// The report prices exactly those totals.
	r, err := billing.NewReport(rebuilt, billing.DefaultPricing(), billing.Filter{})
	require.NoError(t, err)
	require.Len(t, r.Statements, len(teams)*len(months))
	var reported int64
	for _, s := range r.Statements {
		reported += s.ExcludedEvents + s.BilledEvents()
	}
	assert.Equal(t, stamped, reported, "events in the report")
}
