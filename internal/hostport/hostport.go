// Package hostport checks the host:port addresses of the configuration
// (kafka.brokers, kafka.embedded.listen, admin.addr), so that every
// validator that owns one of them says the same thing about a bad one.
package hostport

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// Check checks a host:port address. listen admits port 0 (pick a free port)
// and an empty host (every interface), which make sense only for an
// address to listen on. The error is the reason alone, for a config error
// that names the key and the value: "must be host:port".
func Check(addr string, listen bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("must be host:port")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !listen) {
		return fmt.Errorf("port %q is not a port number", port)
	}
	if host == "" && !listen {
		return errors.New("host is empty")
	}
	return nil
}
