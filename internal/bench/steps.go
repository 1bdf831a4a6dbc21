package bench

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/resolver-dev/resolver/pkg/stream"
)

// stepTotals is the resolver turns' stream.Observer: it sums the worker
// batches' step times (stream.BatchReport.Steps), so the report can say
// where a batch's wall time goes. Safe for concurrent use (several
// workers report at once).
type stepTotals struct {
	mu  sync.Mutex
	sum [stream.NumSteps]time.Duration
}

func (s *stepTotals) ObserveBatch(r *stream.BatchReport) {
	s.mu.Lock()
	for i, d := range r.Steps {
		s.sum[i] += d
	}
	s.mu.Unlock()
}

func (*stepTotals) ObserveApply(*stream.ApplyReport) {}
func (*stepTotals) ObserveLag(stream.LagReport)      {}

// take returns the sums since the last take and starts again from zero.
func (s *stepTotals) take() [stream.NumSteps]time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.sum
	s.sum = [stream.NumSteps]time.Duration{}
	return t
}

// stepShares writes each step's share of the summed batch time, e.g.
// "decode 9%, replica 0%, ops 6%, applied 41%, …"; "" when nothing was
// timed.
func stepShares(steps [stream.NumSteps]time.Duration) string {
	var total time.Duration
	for _, d := range steps {
		total += d
	}
	if total <= 0 {
		return ""
	}
	parts := make([]string, 0, len(steps))
	for i, d := range steps {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", stream.Step(i), 100*float64(d)/float64(total)))
	}
	return strings.Join(parts, ", ")
}
