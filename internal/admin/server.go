package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/redact"
)

// Readiness says whether the instance may take traffic now.
// *stream.Pipeline implements it (cmd/resolver adapts it to
// ReadyReporter as well).
type Readiness interface {
	// Ready returns nil while the instance is ready, else the reason it
	// is not, which /readyz puts in its body. It may turn non-nil again
	// after being nil (an instance that falls behind). It is called on
	// every /readyz request: it must be cheap and safe for concurrent use.
	Ready() error
}

// ReadyReporter is an optional interface of a Readiness: /readyz calls
// ReadyReport instead of Ready and adds the report's numbers to its body,
// judged at the same instant as the answer.
type ReadyReporter interface {
	ReadyReport() ReadyReport
}

// ReadyReport is the instance's readiness with what it was judged on.
type ReadyReport struct {
	// Err is nil when ready, else why not (as Readiness.Ready).
	Err error
	// LagSeconds is how far the identity replica is behind the end of
	// identity_log, in seconds.
	LagSeconds float64
	// AppliedOffsets is the next identity_log offset the replica will
	// apply, per partition.
	AppliedOffsets map[int32]int64
}

// Deps are what the endpoints read. A nil dependency makes its endpoint
// answer 503; a nil Ready means ready from the start.
type Deps struct {
	Ready    Readiness
	Persons  PersonLookup
	Commands PersonCommands // DELETE /v1/persons; nil answers 503
	Lineage  LineageSource
	Billing  BillingSource
	Gatherer prometheus.Gatherer
	// Logger defaults to zap.NewNop(); the server names it "admin".
	Logger *zap.Logger
}

// Timeouts of the HTTP server: a slow or stuck client cannot hold a
// connection for long.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
)

// Request size limits. Every endpoint is a GET with a few short query
// parameters, so the limits are far above what a real request needs and
// far below what would cost the server memory.
const (
	// maxHeaderBytes bounds the request line and headers together (an
	// Authorization header and a short query fit in 1 KiB); net/http
	// answers 431 above it.
	maxHeaderBytes = 16 << 10
	// maxQueryBytes bounds the raw query string (414 above it): a team
	// (maxTeamBytes) and two distinct_ids (maxDistinctIDBytes; lineage's
	// distinct_id and other), percent-encoded (×3).
	maxQueryBytes = 8 << 10
	// maxBodyBytes bounds a request body (413 above it). No endpoint reads
	// one; the bound keeps net/http from draining a large one.
	maxBodyBytes = 1 << 10
)

// Server is the admin HTTP server. Its lifecycle: New, then Listen (or let
// Run listen), Run in a goroutine, and Shutdown. Drain may be called any
// time to announce the shutdown to /readyz.
type Server struct {
	cfg     Config
	deps    Deps
	log     *zap.Logger
	ids     redact.IDs
	handler http.Handler
	srv     *http.Server

	draining atomic.Bool

	mu      sync.Mutex
	ln      net.Listener
	addr    string
	done    chan struct{} // closed when Shutdown was called
	shut    bool
	serving bool // Run has handed ln to the http.Server
}

// New builds a server; nothing listens until Listen or Run.
func New(cfg Config, deps Deps) *Server {
	log := deps.Logger
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{
		cfg:  cfg,
		deps: deps,
		log:  log.Named("admin"),
		ids:  redact.Show(cfg.LogIDs),
		done: make(chan struct{}),
	}
	s.handler = s.routes()
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          zap.NewStdLog(s.log.WithOptions(zap.IncreaseLevel(zap.WarnLevel))),
	}
	return s
}

// Handler returns the server's routes, authentication included, for tests
// and for mounting elsewhere.
func (s *Server) Handler() http.Handler { return s.handler }

// Listen binds Config.Addr and logs "admin listening" with the bound
// address. It refuses a Config that Validate refuses: among others
// (ErrNoToken) an address that is not a loopback one when no token is set. Calling it again is a no-op; after Shutdown it
// returns ErrClosed.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shut {
		return ErrClosed
	}
	if s.ln != nil {
		return nil
	}
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("admin: admin.addr %q: %w", s.cfg.Addr, err)
	}
	s.ln, s.addr = ln, ln.Addr().String()
	s.log.Info("admin listening", zap.String("addr", s.addr), zap.Bool("token", s.cfg.Token != ""))
	return nil
}

// Addr returns the bound address (host:port), or "" before Listen.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Run serves until ctx is done (then it shuts down gracefully, giving open
// requests up to 5s) or Shutdown is called; it listens first if Listen was
// not called. It returns nil after a clean stop.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		if errors.Is(err, ErrClosed) {
			return nil // shut down before it ran: nothing to serve
		}
		return err
	}
	s.mu.Lock()
	if s.shut {
		s.mu.Unlock()
		return nil
	}
	s.serving = true
	ln := s.ln
	s.mu.Unlock()
	// Serve closes ln on return, except when Shutdown came between here
	// and Serve: then Serve refuses ln as it is.
	defer ln.Close()

	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(ln) }()
	select {
	case err := <-served:
		return serveErr(err)
	case <-s.done:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(sctx); err != nil {
			return err
		}
	}
	return serveErr(<-served)
}

func serveErr(err error) error {
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("admin: serve: %w", err)
}

// Shutdown stops accepting connections and waits, until ctx is done, for
// open requests to finish (http.Server.Shutdown). It may be called more
// than once, and before Run.
func (s *Server) Shutdown(ctx context.Context) error {
	s.Drain()
	s.mu.Lock()
	if !s.shut {
		s.shut = true
		close(s.done)
	}
	ln, serving := s.ln, s.serving
	s.mu.Unlock()
	if ln == nil {
		return nil
	}
	if !serving {
		_ = ln.Close() // Listen without Run; a second Shutdown closes it again
		return nil
	}
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("admin: shutdown: %w", err)
	}
	return nil
}

// Drain announces that the instance is stopping: from now on /readyz and
// the /v1/ endpoints answer 503, while /healthz and /metrics go on serving
// until Shutdown.
func (s *Server) Drain() { s.draining.Store(true) }

// IsLoopback reports whether a listen address (host:port) only accepts
// local connections: a loopback IP (127.0.0.0/8, ::1) or "localhost". An
// empty host or an unspecified IP (every interface: ":9464", "0.0.0.0",
// "[::]"), a routable IP and any other host name are not: a name may
// resolve to anything.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
