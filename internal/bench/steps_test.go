package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/stream"
)

func TestStepTotals(t *testing.T) {
	var s stepTotals
	var r stream.BatchReport
	r.Steps[stream.StepDecode] = 10 * time.Millisecond
	r.Steps[stream.StepApplied] = 30 * time.Millisecond
	s.ObserveBatch(&r)
	s.ObserveBatch(&r)
	got := s.take()
	require.Equal(t, 20*time.Millisecond, got[stream.StepDecode])
	require.Equal(t, 60*time.Millisecond, got[stream.StepApplied])
	require.Equal(t, [stream.NumSteps]time.Duration{}, s.take(), "take starts again from zero")
	require.Equal(t, "decode 25%, replica 0%, ops 0%, applied 75%, feed 0%, stamp 0%, flush 0%, end 0%", stepShares(got))
	require.Empty(t, stepShares([stream.NumSteps]time.Duration{}))
}
