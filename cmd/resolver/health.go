package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/resolver-dev/resolver/internal/hostport"
)

// maxHealthBody bounds what `resolver health` reads of an answer.
const maxHealthBody = 64 << 10

// maxReasonBytes bounds the reason `resolver health` prints.
const maxReasonBytes = 300

func (c *cli) healthCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Ask a running resolver's admin server whether it is ready (exit 0) or not (exit 1)",
		Long: `health asks the admin server of a running resolver whether it is ready:
GET /readyz (with --live, /healthz: is the process serving at all), and exits
0 when it answers 200, 1 otherwise, printing one line with the reason. It is
the healthcheck of a container without a shell or curl (the distroless image):

  healthcheck: {test: ["CMD", "/usr/local/bin/resolver", "health"]}

The address is --admin, else admin.addr of the configuration (an unspecified
host such as 0.0.0.0 or [::] is asked on loopback); the bearer token is
admin.token (RESOLVER_ADMIN_TOKEN), which /readyz needs when the server has
one. It reads the same configuration as run (--config, RESOLVER_* variables),
so in a container it finds what the resolver itself was given.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			addr, _ := fs.GetString("admin")
			live, _ := fs.GetBool("live")
			timeout, _ := fs.GetDuration("timeout")
			if timeout <= 0 {
				return &usageError{fmt.Errorf("%s: --timeout %s: must be positive", cmd.CommandPath(), timeout), cmd.CommandPath()}
			}
			file, _ := fs.GetString("config")
			cfg, _, err := loadConfig(file, fs)
			if err != nil {
				return err
			}
			if addr == "" {
				addr = cfg.Admin.Addr
			}
			if addr == "" {
				return &usageError{fmt.Errorf("%s: no address: admin.addr is empty (the admin server is off) and --admin is not set", cmd.CommandPath()), cmd.CommandPath()}
			}
			if err := hostport.Check(dialAddr(addr), false); err != nil {
				return &usageError{fmt.Errorf("%s: --admin %q: %w", cmd.CommandPath(), addr, err), cmd.CommandPath()}
			}
			path := "/readyz"
			if live {
				path = "/healthz"
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			line, err := checkHealth(ctx, dialAddr(addr), path, cfg.Admin.Token)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.stdout, line)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.String("admin", "", "host:port of the admin server; default admin.addr")
	fs.Bool("live", false, "ask /healthz (the process serves) instead of /readyz (the instance is ready)")
	fs.Duration("timeout", 3*time.Second, "give up after this long")
	return cmd
}

// dialAddr is the address to ask for a listen address: an unspecified host
// (0.0.0.0, ::, "") is this machine, asked on loopback.
func dialAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if ip != nil && ip.To4() == nil {
			return net.JoinHostPort("::1", port)
		}
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// healthError is a failed health check: exit code 1, its one line the
// message.
type healthError struct{ line string }

func (e *healthError) Error() string { return e.line }

// checkHealth GETs path of the admin server at addr and returns the line
// to print when it answers 200, else a *healthError with the reason: the
// status and the answer's reason (its JSON "reason", "status" or "error"),
// or why it could not be asked.
func checkHealth(ctx context.Context, addr, path, token string) (string, error) {
	url := "http://" + addr + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", &healthError{fmt.Sprintf("unhealthy: %s: %v", url, err)}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return "", &healthError{fmt.Sprintf("unhealthy: GET %s: no answer in time", url)}
		}
		return "", &healthError{fmt.Sprintf("unhealthy: GET %s: %v", url, err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxHealthBody))
	reason := answerReason(body)
	if resp.StatusCode == http.StatusOK {
		return fmt.Sprintf("ok: GET %s: %d %s", path, resp.StatusCode, reason), nil
	}
	what := "not ready"
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		what = "unhealthy (admin.token missing or wrong)"
	case path == "/healthz":
		what = "unhealthy"
	}
	return "", &healthError{fmt.Sprintf("%s: GET %s: %d %s", what, path, resp.StatusCode, reason)}
}

// answerReason is what an admin answer says, for one line: the JSON body's
// status and reason (or error), else its first line; printable, bounded.
func answerReason(body []byte) string {
	var a struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
		Error  string `json:"error"`
	}
	var s string
	if json.Unmarshal(body, &a) == nil && (a.Status != "" || a.Reason != "" || a.Error != "") {
		s = strings.TrimSpace(strings.Join(nonEmpty(a.Status, a.Reason, a.Error), ": "))
	} else {
		s, _, _ = strings.Cut(strings.TrimSpace(string(body)), "\n")
	}
	return oneLine(s, maxReasonBytes)
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// oneLine makes s printable on one line (control characters and invalid
// UTF-8 become U+FFFD) and at most n bytes, cut at a character boundary
// with "…".
func oneLine(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '\uFFFD'
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
