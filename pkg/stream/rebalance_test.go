package stream

import (
	"testing"
	"time"
)

// TestRebalanceTimeout pins the bounded rebalance timeout that works
// around the embedded broker's wedged rebalances (see rebalanceTimeout).
func TestRebalanceTimeout(t *testing.T) {
	for _, c := range []struct{ session, want time.Duration }{
		{6 * time.Second, 15 * time.Second},
		{10 * time.Second, 20 * time.Second},
		{45 * time.Second, 90 * time.Second},
	} {
		if got := rebalanceTimeout(c.session); got != c.want {
			t.Errorf("rebalanceTimeout(%v) = %v, want %v", c.session, got, c.want)
		}
	}
}
