package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// stopSignals are the signals that stop the resolver cleanly.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// dupSignalWindow: see signalContext.
const dupSignalWindow = 250 * time.Millisecond

// signalContext returns a context that the first SIGINT or SIGTERM cancels,
// starting the clean shutdown. A second one, while the shutdown is under
// way, writes a line to stderr and exits at once with exitFailure. A repeat
// within dupSignalWindow of the first is taken as the same request: some
// senders deliver one stop twice (timeout(1) signals both the process and
// its process group). The returned func stops listening; call it when the
// command returns.
func (c *cli) signalContext(parent context.Context, log *zap.Logger) (context.Context, func()) {
	ctx, stop := signal.NotifyContext(parent, stopSignals...)
	// A second channel sees the same signals, to count them: NotifyContext
	// swallows every signal after the first.
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, stopSignals...)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var first time.Time
		for {
			select {
			case s := <-ch:
				if first.IsZero() {
					first = time.Now()
					log.Info("signal received: shutting down; send it again to exit at once", zap.Stringer("signal", s))
					continue
				}
				if time.Since(first) < dupSignalWindow {
					continue
				}
				fmt.Fprintf(c.stderr, "resolver: second %s during shutdown: exiting at once without a clean shutdown\n", s)
				c.exit(exitFailure)
				return
			case <-done:
				return
			}
		}
	})
	return ctx, func() {
		stop()
		signal.Stop(ch)
		close(done)
		wg.Wait()
	}
}
