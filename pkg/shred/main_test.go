package shred_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The ring's reader and clients stop on Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
