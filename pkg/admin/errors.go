package admin

import "errors"

var (
	// ErrClosed is returned by Listen after Shutdown.
	ErrClosed = errors.New("admin: server is shut down")

	// ErrUnavailable is how a PersonLookup or BillingSource says it cannot
	// answer now: the endpoint answers 503 instead of 500. state.ErrClosed
	// (the replica closed during shutdown) is treated the same.
	ErrUnavailable = errors.New("admin: temporarily unavailable")
)
