package stream

import (
	"errors"
	"fmt"
	"strconv"
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

// ErrInvalidConfig is what every *ConfigError unwraps to: classify a
// configuration error with errors.Is(err, ErrInvalidConfig), also inside
// the errors.Join of Config.Validate.
var ErrInvalidConfig = errors.New("stream: invalid config")

// ConfigError is an invalid Config value: the config key it is read from,
// as configs/resolver.yaml names it ("kafka.session_timeout"; a list
// element with its index, "kafka.brokers[1]"; the Go field name for a value
// no key sets), the value, and why, in words a person can act on ("must be
// positive"). Config.Validate returns one per problem. cmd/resolver reports
// each as its own config error, naming the same key (as it does with
// billing.ConfigError).
type ConfigError struct {
	Key    string
	Value  any
	Reason string
}

func (e *ConfigError) Error() string {
	v := fmt.Sprint(e.Value)
	if s, ok := e.Value.(string); ok {
		v = strconv.Quote(s)
	}
	return fmt.Sprintf("stream: %s: %s: %s", e.Key, v, e.Reason)
}

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }
