package admin

import (
	"errors"
	"fmt"
	"strconv"
)

var (
	// ErrClosed is returned by Listen after Shutdown.
	ErrClosed = errors.New("admin: server is shut down")

	// ErrNoToken is what Config.Validate's error for an address beyond
	// loopback without a token unwraps to (Listen returns it):
	// /v1/persons serves personal data, so the server is open without a
	// token only to processes of this host. Set admin.token, or bind
	// admin.addr to 127.0.0.1.
	ErrNoToken = errors.New("admin: refusing to listen beyond loopback without admin.token (set admin.token, e.g. RESOLVER_ADMIN_TOKEN, or bind admin.addr to 127.0.0.1)")

	// ErrUnavailable is how a PersonLookup or BillingSource says it cannot
	// answer now: the endpoint answers 503 instead of 500. state.ErrClosed
	// (the replica closed during shutdown) is treated the same.
	ErrUnavailable = errors.New("admin: temporarily unavailable")
)

// ErrInvalidConfig is what a *ConfigError unwraps to, unless it is
// ErrNoToken.
var ErrInvalidConfig = errors.New("admin: invalid config")

// ConfigError is an invalid Config value: the config key it is read from
// (admin.addr, admin.token), the value ("(not shown)" for the token), and
// why, in words a person can act on. Err is the sentinel it unwraps to:
// ErrNoToken or ErrInvalidConfig. cmd/resolver reports it under the same
// key.
type ConfigError struct {
	Key    string
	Value  any
	Reason string
	Err    error
}

func (e *ConfigError) Error() string {
	v := fmt.Sprint(e.Value)
	if s, ok := e.Value.(string); ok {
		v = strconv.Quote(s)
	}
	return fmt.Sprintf("admin: %s: %s: %s", e.Key, v, e.Reason)
}

func (e *ConfigError) Unwrap() error { return e.Err }
