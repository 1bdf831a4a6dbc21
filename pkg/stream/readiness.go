package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/state"
)

// ErrNotReady is wrapped by every error of Pipeline.Ready: the instance
// must not take traffic (stamp, answer lookups or billing) now. The rest of
// the error says why.
var ErrNotReady = errors.New("not ready")

// DefaultReadyMaxLag is the default of Config.ReadyMaxLag
// (readiness.max_lag).
const DefaultReadyMaxLag = 2 * time.Second

// maxPendingListings bounds the end-offset listings a lagTracker keeps
// while the replica has not reached them (one per LagInterval): a replica
// stuck for hours must not grow the list without end.
const maxPendingListings = 128

// lagTracker measures how far the replica is behind the end of
// identity_log, in time, from listings of the log's end offsets that the
// lag poller (watchLag) takes every LagInterval — never one per question:
// Ready and the metrics only compare the applier's offsets with listings
// already taken.
//
// The definition: the replica is caught up as of T when it has applied
// every record identity_log held at T — on every partition its next offset
// to apply is at or past the end offset listed by a request sent at T.
// Its lag is now − T for the newest such T (a listing's time is when its
// request was sent, before the broker answered, so T errs early). Every
// record the replica lacks was appended after T, so the lag bounds from
// above the age of the oldest record it has not applied; it is at most one
// LagInterval (plus a listing's round trip) too high. A replica that has
// reached the newest listing has lag 0 for the metrics (LagReport.Behind)
// and now − that listing's time for readiness, so readiness also turns
// false when listings stop (a broker that does not answer): the replica
// may then be behind by any amount.
//
// A replica stuck with records pending keeps its T while now moves on:
// its lag grows by a second a second, however slowly records trickle in.
type lagTracker struct {
	mu       sync.Mutex
	caughtUp time.Time // time of the newest listing applied; zero: none yet
	pending  []listing // listings not applied yet, oldest first
	newest   listing   // the newest listing (zero before the first)
	listErr  error     // the last listing's error; nil after a success
}

// listing is identity_log's end offsets as listed by a request sent at at.
type listing struct {
	at   time.Time
	ends map[int32]int64
}

// lagStatus is the replica's distance from identity_log's end, as
// lagTracker.status judges it.
type lagStatus struct {
	// Listed is whether any listing has succeeded yet.
	Listed bool
	// CaughtUp is whether the replica has reached some listing.
	CaughtUp bool
	// Lag is now minus the time of the newest listing reached (the bound
	// of the type's comment); before any is reached, now minus the oldest
	// listing's time (a lower bound).
	Lag time.Duration
	// Behind is Lag while some listing is not reached yet, else zero.
	Behind time.Duration
	// Records is the newest listing's end offsets minus the applied
	// offsets, summed over partitions: records not applied yet.
	Records int64
	// Applied is the next offset to apply per partition, as judged.
	Applied map[int32]int64
}

// add records a listing of the log's end offsets whose request was sent at
// at.
func (l *lagTracker) add(at time.Time, ends map[int32]int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.listErr = nil
	if at.Before(l.newest.at) {
		return // out of order: an older answer than one already taken
	}
	li := listing{at: at, ends: ends}
	l.newest = li
	l.pending = append(l.pending, li)
	if len(l.pending) > maxPendingListings {
		// Keep the oldest (the lower bound of the lag) and the newest;
		// drop the second oldest, coarsening the steps in which
		// caughtUp advances, never making the lag read lower.
		l.pending = append(l.pending[:1], l.pending[2:]...)
	}
}

// newestEnds returns the end offsets of the newest listing (nil before the
// first); the map is never written after add.
func (l *lagTracker) newestEnds() map[int32]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.newest.ends
}

// failed records a failed listing.
func (l *lagTracker) failed(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.listErr = err
}

// reached reports whether applied is at or past every end offset of ends.
func reached(applied, ends map[int32]int64) bool {
	for p, end := range ends {
		if applied[p] < end {
			return false
		}
	}
	return true
}

// status judges applied (the applier's next offsets to apply) at now. It
// moves caughtUp past every listing applied has reached.
func (l *lagTracker) status(now time.Time, applied map[int32]int64) lagStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for n < len(l.pending) && reached(applied, l.pending[n].ends) {
		l.caughtUp = l.pending[n].at
		n++
	}
	l.pending = l.pending[n:]
	s := lagStatus{Listed: !l.newest.at.IsZero(), CaughtUp: !l.caughtUp.IsZero(), Applied: applied}
	switch {
	case s.CaughtUp:
		s.Lag = max(now.Sub(l.caughtUp), 0)
	case len(l.pending) > 0:
		s.Lag = max(now.Sub(l.pending[0].at), 0)
	}
	if len(l.pending) > 0 {
		s.Behind = s.Lag
	}
	for p, end := range l.newest.ends {
		if d := end - applied[p]; d > 0 {
			s.Records += d
		}
	}
	return s
}

// err is why a replica in status s is not within maxLag of the log's end,
// or nil.
func (l *lagTracker) err(s lagStatus, maxLag time.Duration) error {
	if s.CaughtUp && s.Lag <= maxLag {
		return nil
	}
	l.mu.Lock()
	listErr := l.listErr
	l.mu.Unlock()
	switch {
	case !s.Listed:
		if listErr != nil {
			return fmt.Errorf("%w: cannot list identity_log's end offsets: %w", ErrNotReady, listErr)
		}
		return fmt.Errorf("%w: identity_log's end offsets not listed yet", ErrNotReady)
	case !s.CaughtUp:
		return fmt.Errorf("%w: catching up with identity_log: %d records to apply, started %s ago", ErrNotReady, s.Records, s.Lag.Round(time.Millisecond))
	case s.Behind > 0:
		return fmt.Errorf("%w: the replica is %s behind identity_log, more than readiness.max_lag (%s): %d records to apply",
			ErrNotReady, s.Lag.Round(time.Millisecond), maxLag, s.Records)
	case listErr != nil:
		return fmt.Errorf("%w: identity_log's end offsets last listed %s ago, more than readiness.max_lag (%s): %w",
			ErrNotReady, s.Lag.Round(time.Millisecond), maxLag, listErr)
	default:
		return fmt.Errorf("%w: identity_log's end offsets last listed %s ago, more than readiness.max_lag (%s)",
			ErrNotReady, s.Lag.Round(time.Millisecond), maxLag)
	}
}

// watchLag lists identity_log's end offsets every LagInterval until ctx is
// done, feeding the lag tracker, and reports the lag and readiness to the
// Observer if there is one. A failed listing is logged at debug level: it
// shows in readiness once the last good listing is older than
// readiness.max_lag.
func (p *Pipeline) watchLag(ctx context.Context, adm *kadm.Client, a *Applier) {
	t := time.NewTicker(p.cfg.LagInterval)
	defer t.Stop()
	obs := p.cfg.Observer
	for {
		sent := time.Now()
		ends, err := adm.ListEndOffsets(ctx, p.cfg.Topics.IdentityLog)
		if err == nil {
			err = ends.Error()
		}
		switch {
		case err == nil:
			m := map[int32]int64{}
			ends.Each(func(o kadm.ListedOffset) { m[o.Partition] = o.Offset })
			p.lag.add(sent, m)
		case ctx.Err() != nil:
			if obs != nil {
				obs.ObserveLag(LagReport{})
			}
			return
		default:
			p.lag.failed(err)
			p.log.Debug("list identity_log end offsets", zap.Error(err))
		}
		if obs != nil {
			st := p.Readiness()
			obs.ObserveLag(LagReport{Offsets: st.Records, Behind: st.Behind, Ready: st.Err == nil})
		}
		select {
		case <-ctx.Done():
			if obs != nil {
				obs.ObserveLag(LagReport{})
			}
			return
		case <-t.C:
		}
	}
}

// ReadyStatus is the instance's readiness with what it was judged on,
// taken at one instant.
type ReadyStatus struct {
	// Err is nil when the instance is ready, else why not (wrapping
	// ErrNotReady).
	Err error
	// Lag is how far the replica is behind identity_log's end (see
	// Config.ReadyMaxLag for the definition); zero before it is known.
	Lag time.Duration
	// Behind is Lag while identity_log holds records listed as there
	// that the replica has not applied, else zero: the metric's value.
	Behind time.Duration
	// Records is the number of identity_log records not applied yet, as
	// of the newest listing of its end offsets.
	Records int64
	// Applied is the next identity_log offset to apply per partition;
	// nil before the applier runs.
	Applied map[int32]int64
}

// Ready returns nil while the instance may take traffic, else the reason
// it may not (wrapping ErrNotReady). It is ready when all of these hold:
//
//   - start-up is done: the applier has caught up with identity_log and
//     the billing view with billing_usage, both as of start-up, the
//     replica is within ReadyMaxLag, and the workers have joined the group;
//   - the applier and the billing view are healthy (healthErr);
//   - the replica is within ReadyMaxLag of identity_log's end (lagTracker
//     has the definition), now — so an instance that falls behind after
//     start-up turns not ready until it has caught up again.
//
// It is cheap (no request to the broker) and safe for concurrent use.
func (p *Pipeline) Ready() error { return p.Readiness().Err }

// Readiness is Ready with the numbers it was judged on.
func (p *Pipeline) Readiness() ReadyStatus {
	a := p.Applier()
	if a == nil {
		return ReadyStatus{Err: p.startErr()}
	}
	s := p.lag.status(time.Now(), a.Offsets())
	st := ReadyStatus{Lag: s.Lag, Behind: s.Behind, Records: s.Records, Applied: s.Applied}
	if err := p.startErr(); err != nil {
		st.Err = err
	} else if err := p.healthErr(); err != nil {
		st.Err = fmt.Errorf("%w: %w", ErrNotReady, err)
	} else {
		st.Err = p.lag.err(s, p.cfg.ReadyMaxLag)
	}
	return st
}

// startErr is nil once start-up is done, else the phase it is in.
func (p *Pipeline) startErr() error {
	select {
	case <-p.started:
		return nil
	default:
	}
	return fmt.Errorf("%w: starting: %s", ErrNotReady, *p.phase.Load())
}

// setPhase names the start-up phase Ready reports.
func (p *Pipeline) setPhase(s string) { p.phase.Store(&s) }

// healthErr is nil while the applier and the billing view can go on, else
// why one of them cannot (the replica is then no longer kept current):
// Applier.Health (paused at an unknown op version, or stopped),
// BillingView.Health, and the replica's free space (Store.DiskHealth).
// They are routed through here, and only here, so that /readyz, the
// resolver_ready metric and start-up all see them.
func (p *Pipeline) healthErr() error {
	if a := p.Applier(); a != nil {
		if err := a.Health(); err != nil {
			return err
		}
	}
	if v := p.BillingView(); v != nil {
		if err := v.Health(); err != nil {
			return err
		}
	}
	// The free-space floor (state.min_free_bytes): below it every write
	// is refused and the instance is about to stop.
	if err := p.st.DiskHealth(); err != nil && state.IsDiskFull(err) {
		return err
	}
	return nil
}

// waitWithinLag blocks until the replica is within ReadyMaxLag of
// identity_log's end (lagTracker), or ctx is done, or the applier stops.
func (p *Pipeline) waitWithinLag(ctx context.Context, a *Applier) error {
	t := time.NewTicker(min(p.cfg.LagInterval, 100*time.Millisecond))
	defer t.Stop()
	for {
		if p.lag.err(p.lag.status(time.Now(), a.Offsets()), p.cfg.ReadyMaxLag) == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.f.done():
			return a.Health()
		case <-t.C:
		}
	}
}
