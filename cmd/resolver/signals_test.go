package main

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/zap/zaptest"
)

func kill(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), sig); err != nil {
		t.Fatal(err)
	}
}

// TestSecondSignalExits: the first SIGTERM cancels the context; a second
// one, later, writes to stderr and exits 1 at once. Signals go to this test
// process, which has them handled for the whole test.
func TestSecondSignalExits(t *testing.T) {
	var stderr syncBuffer
	exited := make(chan int, 1)
	c := &cli{stderr: &stderr, exit: func(code int) { exited <- code }}
	ctx, stop := c.signalContext(t.Context(), zaptest.NewLogger(t))
	defer stop()

	kill(t, syscall.SIGTERM)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("first signal did not cancel the context")
	}
	select {
	case code := <-exited:
		t.Fatalf("exit(%d) on the first signal", code)
	default:
	}

	time.Sleep(dupSignalWindow + 50*time.Millisecond) // a second signal is one sent later
	kill(t, syscall.SIGINT)
	select {
	case code := <-exited:
		assert.Equal(t, exitFailure, code)
	case <-time.After(5 * time.Second):
		t.Fatal("second signal did not exit")
	}
	assert.Contains(t, stderr.String(), "second interrupt during shutdown: exiting at once")
}

// TestDuplicateSignalIsOne: one stop request delivered twice in a row (as
// timeout(1) does, to the process and its group) is not a second signal.
func TestDuplicateSignalIsOne(t *testing.T) {
	exited := make(chan int, 1)
	c := &cli{stderr: &syncBuffer{}, exit: func(code int) { exited <- code }}
	ctx, stop := c.signalContext(t.Context(), zaptest.NewLogger(t))
	defer stop()
	kill(t, syscall.SIGINT)
	kill(t, syscall.SIGINT)
	<-ctx.Done()
	select {
	case code := <-exited:
		t.Fatalf("exit(%d) on a duplicate delivery", code)
	case <-time.After(100 * time.Millisecond):
	}
}
