package admin

import "errors"

var (
	// ErrClosed is returned by Listen after Shutdown.
	ErrClosed = errors.New("admin: server is shut down")

	// ErrNoToken is returned by Listen for an address beyond loopback
	// without a token: /v1/persons serves personal data, so the server is
	// open without a token only to processes of this host. Set
	// admin.token, or bind admin.addr to 127.0.0.1.
	ErrNoToken = errors.New("admin: refusing to listen beyond loopback without admin.token (set admin.token, e.g. RESOLVER_ADMIN_TOKEN, or bind admin.addr to 127.0.0.1)")

	// ErrUnavailable is how a PersonLookup or BillingSource says it cannot
	// answer now: the endpoint answers 503 instead of 500. state.ErrClosed
	// (the replica closed during shutdown) is treated the same.
	ErrUnavailable = errors.New("admin: temporarily unavailable")
)
