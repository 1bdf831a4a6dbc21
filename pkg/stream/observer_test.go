package stream

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// recorder is an Observer that sums what it is told.
type recorder struct {
	mu                         sync.Mutex
	batches, aborted           int
	consumed, opsLogged        int
	stamped                    map[string]int64 // "team/class"
	dead, warnings, refusals   map[string]int
	applied, skipped, merges   int
	lags                       int
	lastLag                    LagReport
	negativeDuration, endGtAll bool
	// stepsOverAll: a batch's steps sum to more than its Duration;
	// stepsTimed: the steps every committed batch takes, that have ops,
	// were timed (decode, ops, applied, stamp, end).
	stepsOverAll bool
	stepsTimed   map[Step]bool
}

func newRecorder() *recorder {
	return &recorder{stamped: map[string]int64{}, dead: map[string]int{}, warnings: map[string]int{}, refusals: map[string]int{}, stepsTimed: map[Step]bool{}}
}

func (r *recorder) ObserveBatch(b *BatchReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches++
	r.opsLogged += b.OpsLogged
	r.negativeDuration = r.negativeDuration || b.Duration < 0 || b.EndDuration < 0
	r.endGtAll = r.endGtAll || b.EndDuration > b.Duration
	var sum time.Duration
	for s, d := range b.Steps {
		r.negativeDuration = r.negativeDuration || d < 0
		sum += d
		if d > 0 {
			r.stepsTimed[Step(s)] = true
		}
	}
	r.stepsOverAll = r.stepsOverAll || sum > b.Duration
	if !b.Committed {
		r.aborted++
		if len(b.Stamped)+len(b.DeadLettered)+len(b.Warnings) > 0 {
			panic("an aborted batch reports outputs")
		}
		return
	}
	r.consumed += b.Records
	for _, d := range b.Stamped {
		r.stamped[d.Team+"/"+d.Class.String()] += d.Count
	}
	for _, c := range b.DeadLettered {
		r.dead[c.Key] += c.N
	}
	for _, c := range b.Warnings {
		r.warnings[c.Key] += c.N
	}
}

func (r *recorder) ObserveApply(a *ApplyReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied += a.Applied
	r.skipped += a.Skipped
	r.merges += a.Merges
	for _, c := range a.Refusals {
		r.refusals[c.Key] += c.N
	}
}

func (r *recorder) ObserveLag(l LagReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lags++
	r.lastLag = l
}

// TestObserver runs a small story through the pipeline with its first
// transaction aborted, and checks what the Observer hooks report: outputs
// of committed batches only (so an aborted and redone batch counts once),
// dead letters by reason, warnings by type, one merge and one refusal from
// the applier, and the lag.
func TestObserver(t *testing.T) {
	h := newHarness(t)
	rec := newRecorder()
	h.cfg.Observer = rec
	h.cfg.LagInterval = 100 * time.Millisecond
	var failed atomic.Bool // the instance's workers share it
	in := h.start(t.TempDir(), func(p *Pipeline) {
		p.failBeforeEnd = func() error {
			if failed.CompareAndSwap(false, true) {
				return errors.New("injected failure")
			}
			return nil
		}
	})
	defer in.stop(t)

	ts := func(s int) string {
		return time.Now().UTC().Add(time.Duration(s-60) * time.Second).Format(time.RFC3339)
	}
	ev := func(n int, name, did, props string) string {
		return fmt.Sprintf(`{"uuid":"00000000-0000-4000-8000-%012d","event":%q,"distinct_id":%q,"team_id":1,"timestamp":%q,"properties":%s}`,
			n, name, did, ts(n), props)
	}
	evs := []string{
		ev(1, "$pageview", "anon-1", `{"$process_person_profile":false}`),
		ev(2, "$identify", "user-1", `{"$anon_distinct_id":"anon-1"}`),
		ev(3, "$identify", "user-2", `{"$anon_distinct_id":"anon-1"}`), // refused: anon-1 is identified
		`not json`,
		`{"uuid":"00000000-0000-4000-8000-000000000005","event":"$pageview","distinct_id":"x"}`, // no team
	}
	var recs []*kgo.Record
	for _, e := range evs {
		recs = append(recs, &kgo.Record{Key: []byte("1:k"), Value: []byte(e)})
	}
	h.produce(recs)

	wait(t, 60*time.Second, "every record consumed", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.consumed == len(evs)
	})
	wait(t, 10*time.Second, "a lag report of zero, ready", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.lags > 0 && rec.lastLag == LagReport{Ready: true}
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.GreaterOrEqual(t, rec.aborted, 1)
	assert.Equal(t, len(evs), rec.consumed)
	assert.Equal(t, map[string]int64{"1/anonymous": 1, "1/identified": 2}, rec.stamped)
	assert.Equal(t, map[string]int{"invalid_json": 1, "missing_team": 1}, rec.dead)
	assert.Equal(t, map[string]int{unionfind.WarnAlreadyIdentified: 1}, rec.warnings)
	assert.Equal(t, map[string]int{unionfind.WarnAlreadyIdentified: 1}, rec.refusals)
	assert.Equal(t, 1, rec.merges)
	// Ops logged by an aborted batch are logged again by its redo: the
	// applier applies each once and skips the duplicates. A batch that
	// fails after producing its ops but before counting them (its
	// partitions revoked: the instance's two workers rebalance at
	// start-up) reports fewer than it logged, so the reports' count is at
	// most what the applier saw, and at least the committed batch's two.
	assert.Equal(t, 2, rec.applied)
	assert.GreaterOrEqual(t, rec.opsLogged, rec.applied)
	assert.LessOrEqual(t, rec.opsLogged, rec.applied+rec.skipped)
	assert.False(t, rec.negativeDuration)
	assert.False(t, rec.endGtAll, "EndDuration is part of Duration")
	assert.False(t, rec.stepsOverAll, "the steps are parts of Duration")
	for _, s := range []Step{StepDecode, StepOps, StepApplied, StepStamp, StepFlush, StepEnd} {
		assert.True(t, rec.stepsTimed[s], "step %s timed", s)
	}
}

func TestStepNames(t *testing.T) {
	seen := map[string]bool{}
	for s := range NumSteps {
		name := s.String()
		assert.NotEqual(t, "unknown", name)
		assert.False(t, seen[name], "step names are distinct: %s", name)
		seen[name] = true
	}
	assert.Equal(t, "unknown", NumSteps.String())
	assert.Equal(t, "unknown", Step(-1).String())
}
