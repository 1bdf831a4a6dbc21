package bench

import "errors"

// Errors of the package.
var (
	// ErrInvalidConfig is wrapped by every error of Config.Validate and of
	// GenConfigFor; the message names the field and the value.
	ErrInvalidConfig = errors.New("invalid bench config")
	// ErrIncomplete means a turn did not process all of its input within
	// Config.Timeout, or its processor stopped early.
	ErrIncomplete = errors.New("turn did not complete")
)
