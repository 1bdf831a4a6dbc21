package broker

import (
	"cmp"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/hostport"
)

// Config configures the embedded broker.
type Config struct {
	// Listen is host:port; the broker binds 127.0.0.1 on that port.
	// Default DefaultListen. Port 0 picks a free port.
	Listen string
	// DataDir keeps records, offsets and transactions across restarts and
	// crashes. Empty: in memory only.
	DataDir string
	// SyncWrites fsyncs every batch (slower; survives power loss).
	SyncWrites bool
	// MinSessionTimeout lowers the group session timeout floor (tests).
	MinSessionTimeout time.Duration // 0 = kfake's default
	// SessionTimeout is the session timeout of KIP-848 consumer groups
	// (kafka.session_timeout; see stream.GroupProtocolConsumer), which
	// under that protocol the broker sets, not the client. Default 10s, as
	// stream.Kafka.SessionTimeout's.
	SessionTimeout time.Duration
	Logger         *zap.Logger

	// Nodes is the number of brokers of the cluster (default 1); the
	// partitions' leaders and the coordinators are spread over them.
	// Tests use more to give one path of a client its own address.
	Nodes int
	// ListenNode, when set, makes the listener of node i instead of
	// binding Listen (whose port it then ignores): a test binds each node
	// to an address of its own inside a network namespace. The nodes
	// advertise their listeners' addresses.
	ListenNode func(node int) (net.Listener, error)
}

// DefaultListen is the default of Config.Listen (kafka.embedded.listen):
// Kafka's port, on the loopback interface only.
const DefaultListen = "127.0.0.1:9092"

// ListenError is an invalid Config.Listen (kafka.embedded.listen).
type ListenError struct {
	Value  string
	Reason string
}

func (e *ListenError) Error() string {
	return "broker: kafka.embedded.listen: " + strconv.Quote(e.Value) + ": " + e.Reason
}

// Broker is franz-go's kfake cluster: the real Kafka protocol, in process.
type Broker struct {
	c *kfake.Cluster
}

// Start starts the embedded broker. It refuses an invalid Listen (a
// *ListenError with internal/hostport's reason, as cmd/resolver gives it for
// kafka.embedded.listen), and to start on a port already in use, naming it.
func Start(cfg Config) (*Broker, error) {
	listen := cmp.Or(cfg.Listen, DefaultListen)
	if err := hostport.Check(listen, true); err != nil {
		return nil, &ListenError{Value: listen, Reason: err.Error()}
	}
	host, portS, _ := net.SplitHostPort(listen) // valid
	port, _ := strconv.Atoi(portS)
	if host == "" {
		host = "127.0.0.1"
	}
	// Probe the port first: kfake's own error for a taken port is terse.
	if port != 0 && cfg.ListenNode == nil {
		l, err := net.Listen("tcp", net.JoinHostPort(host, portS))
		if err != nil {
			return nil, fmt.Errorf("broker: embedded broker cannot listen on %s (kafka.embedded.listen): %w", listen, err)
		}
		l.Close()
	}
	nodes := max(cfg.Nodes, 1)
	listenFn := func(network, _ string) (net.Listener, error) {
		return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
	}
	if cfg.ListenNode != nil {
		next := 0 // kfake makes the nodes' listeners in node order, one at a time
		listenFn = func(string, string) (net.Listener, error) {
			next++
			return cfg.ListenNode(next - 1)
		}
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(nodes),
		kfake.Ports(make([]int, nodes)...), // ignored by listenFn
		kfake.ListenFn(listenFn),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	if cfg.SyncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	if cfg.MinSessionTimeout > 0 {
		opts = append(opts, kfake.GroupMinSessionTimeout(cfg.MinSessionTimeout))
	}
	opts = append(opts, kfake.BrokerConfigs(consumerGroupConfigs(cfg.SessionTimeout)))
	if cfg.Logger != nil {
		opts = append(opts, kfake.WithLogger(kfakeLogger{cfg.Logger.Named("kfake")}))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("broker: start embedded broker on %s: %w", listen, err)
	}
	return &Broker{c: c}, nil
}

// DefaultSessionTimeout is the group session timeout of a zero
// Config.SessionTimeout: kafka.session_timeout's default, which
// stream.DefaultConfig holds (a test in pkg/stream keeps the two equal;
// this package does not import pkg/stream, whose tests use it).
const DefaultSessionTimeout = 10 * time.Second

// consumerGroupConfigs are the broker configs of KIP-848 consumer groups
// for a session timeout (0: 10s): the session timeout itself, instead of
// kfake's (and Kafka's) 45s, so that a killed instance's partitions move
// on as soon as under the classic protocol; and a heartbeat interval of a
// tenth of it (at least 100ms), instead of 5s. Under KIP-848 a partition
// moves between members in heartbeats — the owner learns of its
// revocation, releases it, the new owner learns it is free — so the
// interval, not a join round, is what a rebalance waits on.
func consumerGroupConfigs(session time.Duration) map[string]string {
	if session <= 0 {
		session = DefaultSessionTimeout
	}
	heartbeat := max(session/10, 100*time.Millisecond)
	return map[string]string{
		"group.consumer.session.timeout.ms":    strconv.FormatInt(session.Milliseconds(), 10),
		"group.consumer.heartbeat.interval.ms": strconv.FormatInt(heartbeat.Milliseconds(), 10),
	}
}

// Kfake returns the cluster itself, for tests that move partition leaders
// or coordinators between nodes, or watch requests (kfake.Cluster.Control).
func (b *Broker) Kfake() *kfake.Cluster { return b.c }

// Addrs returns the broker's listen addresses.
func (b *Broker) Addrs() []string { return b.c.ListenAddrs() }

// Close stops the broker; with a DataDir its state is on disk.
func (b *Broker) Close() { b.c.Close() }

// kfakeLogger adapts zap to kfake.Logger; kfake's info is noise for us, so
// it logs at debug.
type kfakeLogger struct{ l *zap.Logger }

func (k kfakeLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	s := fmt.Sprintf(msg, args...)
	switch level {
	case kfake.LogLevelError:
		k.l.Error(s)
	case kfake.LogLevelWarn:
		k.l.Warn(s)
	default:
		k.l.Debug(s)
	}
}
