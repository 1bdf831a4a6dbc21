package broker

import (
	"testing"

	"go.uber.org/goleak"
)

// Close stops every goroutine of the cluster and of the test's clients.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
