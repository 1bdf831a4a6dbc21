package stream

import (
	"errors"
	"fmt"
)

// Errors of the applier and the billing view, for Health and readiness.
// Classify with errors.Is; each is returned wrapped, with the cause and
// the coordinates in front.
var (
	// ErrApplierPaused: the applier met an identity_log record of an op
	// version this binary does not know and applies nothing of that
	// partition from it on, until the instance is upgraded (Applier.Health;
	// Applier.Wait for an offset at or past it). Skipping the record would
	// make this replica differ for good from upgraded ones, so it waits.
	// The instance keeps running; Wait's error is retryable.
	ErrApplierPaused = errors.New("stream: applier paused at an op of an unknown version")

	// ErrApplierStopped: the applier has stopped — on a local failure (its
	// error names the cause) or because the instance is shutting down.
	// Nothing more is applied; the instance must stop (Wait's error is
	// fatal).
	ErrApplierStopped = fmt.Errorf("%w: applier stopped", errFatal)

	// ErrBillingViewStopped: the billing view has stopped — on a local
	// failure (its error names the cause) or at shutdown; billing totals
	// no longer advance and the instance must stop.
	ErrBillingViewStopped = fmt.Errorf("%w: billing view stopped", errFatal)
)
