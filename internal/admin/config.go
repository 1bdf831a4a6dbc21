package admin

import (
	"errors"
	"strings"

	"github.com/resolver-dev/resolver/internal/hostport"
)

// Config configures the server; cmd/resolver fills it from the admin and
// log sections.
type Config struct {
	// Addr is the host:port to listen on (admin.addr); port 0 picks a free
	// port, which Server.Addr reports once listening.
	Addr string
	// Token, if not empty, is the bearer token every endpoint but /healthz
	// requires (admin.token). It is required when Addr is not a loopback
	// address: Listen refuses to serve /v1/persons (personal data) beyond
	// this host without one (ErrNoToken).
	Token string
	// LogIDs prints distinct ids as they are in log lines. Default false:
	// hashed (log.redact).
	LogIDs bool
}

// Validate reports every invalid value of cfg as a *ConfigError naming its
// config key (admin.addr, admin.token), joined; nil if cfg is valid. It is
// the only check of these values: Listen refuses a Config it refuses, and
// cmd/resolver reports its errors, under the same keys, when it loads its
// configuration (where an empty admin.addr means no server at all).
func (cfg Config) Validate() error {
	var errs []error
	if err := hostport.Check(cfg.Addr, true); err != nil {
		errs = append(errs, &ConfigError{Key: "admin.addr", Value: cfg.Addr, Reason: err.Error(), Err: ErrInvalidConfig})
	} else if cfg.Token == "" && !IsLoopback(cfg.Addr) {
		errs = append(errs, &ConfigError{Key: "admin.addr", Value: cfg.Addr, Err: ErrNoToken,
			Reason: "is not a loopback address and admin.token is empty: /v1/persons would serve personal data to anyone who can reach it;" +
				" set admin.token (RESOLVER_ADMIN_TOKEN) or bind admin.addr to 127.0.0.1"})
	}
	if strings.ContainsFunc(cfg.Token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		errs = append(errs, &ConfigError{Key: "admin.token", Value: notShown, Err: ErrInvalidConfig,
			Reason: "must not contain spaces or control characters: a bearer token is one word"})
	}
	return errors.Join(errs...)
}

// notShown stands for a secret in an error.
const notShown = "(not shown)"
