package billing

import (
	"errors"
	"fmt"
)

// Sentinel errors. They carry no "billing:" prefix because they are always
// returned wrapped, with the context (the config key, the price text, the
// delta) in front: test for them with errors.Is, never by their text.
var (
	// ErrUnknownClass: a billing class name or value other than excluded,
	// anonymous and identified.
	ErrUnknownClass = errors.New("unknown billing class")

	// ErrInvalidMonth: a month that is not "YYYY-MM".
	ErrInvalidMonth = errors.New("invalid month (want YYYY-MM)")

	// ErrInvalidPrice: a price that is not a plain decimal number of dollars
	// ("0.0000343"), is finer than one nano-dollar, or is out of range.
	ErrInvalidPrice = errors.New("invalid price")

	// ErrNegativePrice: a tier with a unit price below zero.
	ErrNegativePrice = errors.New("negative unit price")

	// ErrNoTiers: a class priced with an empty list of tiers.
	ErrNoTiers = errors.New("no tiers")

	// ErrTierBound: a tier whose up_to is negative.
	ErrTierBound = errors.New("negative tier bound")

	// ErrTierOverlap: a tier that ends where the previous one ends, so the
	// two cover the same events.
	ErrTierOverlap = errors.New("tiers overlap")

	// ErrTierOrder: a tier that ends below the previous one.
	ErrTierOrder = errors.New("tiers out of order")

	// ErrOpenEndedNotLast: an open-ended tier (up_to 0) that is not the last.
	ErrOpenEndedNotLast = errors.New("open-ended tier is not the last")

	// ErrNoOpenEnded: a list of tiers whose last tier has a bound, leaving the
	// events above it unpriced.
	ErrNoOpenEnded = errors.New("last tier must be open-ended (up_to 0 or absent)")

	// ErrMissingClass: pricing that lacks the tiers of a billed class.
	ErrMissingClass = errors.New("missing tiers for a billed class")

	// ErrExcludedPriced: pricing that gives tiers to the excluded class, which
	// is never billed.
	ErrExcludedPriced = errors.New("excluded events are never billed and take no tiers")

	// ErrInvalidTierFile: a tier file that is not the documented JSON shape.
	ErrInvalidTierFile = errors.New("invalid tier file")

	// ErrNegativeEvents: a negative count of events.
	ErrNegativeEvents = errors.New("negative event count")

	// ErrOverflow: an amount of money or a count that does not fit in int64.
	// With the default tiers a cost overflows only above ~9.2e14 events of one
	// class in one month.
	ErrOverflow = errors.New("amount out of range")

	// ErrInvalidShare: an identified share outside [0, 1], or NaN.
	ErrInvalidShare = errors.New("identified share must be within [0, 1]")

	// ErrInvalidTeam: a team over MaxTeamBytes, not valid UTF-8, holding a
	// control character or only white space (the team rule of pkg/event).
	ErrInvalidTeam = errors.New("invalid team")

	// ErrDeltaCount: a delta count of zero or above MaxDeltaCount.
	ErrDeltaCount = errors.New("delta count out of range")

	// ErrInvalidDelta: a billing_usage record that cannot be folded into the
	// totals (bad JSON; a team, month, class or count out of bounds: see
	// Delta.Validate).
	ErrInvalidDelta = errors.New("invalid billing delta")
)

// ConfigError is a bad configuration value: the key it was read from (for
// example "billing.tiers.identified[2].up_to"), the offending value as the
// user wrote it, and the reason, which wraps one of the sentinel errors.
//
// The CLI maps it to exit status 2; use IsConfigError to recognise it.
type ConfigError struct {
	Key   string // the config key, with [i] for list elements
	Value string // the bad value, quoted when it is text
	Err   error  // the reason; wraps a sentinel such as ErrTierOrder
}

func (e *ConfigError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("billing: %s: %v", e.Key, e.Err)
	}
	return fmt.Sprintf("billing: %s = %s: %v", e.Key, e.Value, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// IsConfigError reports whether err is, or wraps (also inside errors.Join),
// a *ConfigError: a bad value in configuration or in a tier file.
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}

// configErr builds a *ConfigError whose reason is sentinel, with optional
// detail appended as "sentinel: detail".
func configErr(key, value string, sentinel error, detail string, args ...any) *ConfigError {
	err := sentinel
	if detail != "" {
		err = fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(detail, args...))
	}
	return &ConfigError{Key: key, Value: value, Err: err}
}
