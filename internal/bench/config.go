package bench

import (
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/gen"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// Kind is what a turn runs.
type Kind uint8

// Kinds of turn.
const (
	Limit     Kind = iota // the transactional passthrough
	Resolver              // the full pipeline
	Preloaded             // the full pipeline on a replica preloaded with Config.PreloadIDs ids
)

// String returns "limit" or "resolver".
func (k Kind) String() string {
	switch k {
	case Limit:
		return "limit"
	case Resolver:
		return "resolver"
	case Preloaded:
		return "preloaded"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// MaxPreloadIDs bounds Config.PreloadIDs: a billion ids is ~100 GB of
// state, past what a benchmark should write.
const MaxPreloadIDs = 1 << 30

// Defaults of Config, applied by Run to zero fields.
const (
	DefaultPartitions    = 8
	DefaultPairs         = 3
	DefaultInstances     = 1
	DefaultEvents        = 500_000
	DefaultWarmupEvents  = 400
	DefaultLatencyEvents = 4000
	DefaultLatencyRate   = 4000 // probe records per second
)

// BrokerMode says where the broker runs, for the report: whether its CPU and
// memory are part of the process's.
type BrokerMode uint8

// Broker modes.
const (
	// InProcess: the embedded kfake broker in this process (Run starts it
	// when Config.Kafka.Brokers is empty). Process CPU and RSS include it.
	InProcess BrokerMode = iota
	// ChildProcess: a broker process this process started (see
	// StartChildBroker); its CPU and RSS are measured apart, from /proc.
	ChildProcess
	// External: a broker elsewhere; its cost is not measured.
	External
)

// String describes the mode.
func (m BrokerMode) String() string {
	switch m {
	case InProcess:
		return "embedded kfake in this process (process CPU and RSS include the broker)"
	case ChildProcess:
		return "embedded kfake in a child process (measured apart)"
	case External:
		return "external (its CPU and memory are not measured)"
	}
	return fmt.Sprintf("BrokerMode(%d)", uint8(m))
}

// Config describes a comparison. Zero fields take the defaults above.
type Config struct {
	// Kafka reaches the broker; with no Brokers, Run starts the embedded
	// broker in this process on a free loopback port. Its TLS and SASL
	// settings apply to every client.
	Kafka stream.Kafka
	// BrokerPID, when > 0, is the process id of a broker this process
	// started (StartChildBroker): its CPU and peak RSS are measured from
	// /proc and reported apart.
	BrokerPID int

	// Partitions of every topic of a turn. Default 8.
	Partitions int32
	// Pairs is the number of limit/resolver pairs. Default 3.
	Pairs int
	// Instances is the number of pipelines (and passthrough sessions) in
	// the one consumer group, 1–3. Default 1.
	Instances int
	// Workers is stream.workers of each pipeline: its number of worker
	// sessions. The passthrough gets as many sessions per instance, so both
	// sides have Instances×Workers transactional group members. Default
	// stream's (2).
	Workers int
	// Events is the number of input records of each turn's throughput
	// window. Default 500,000.
	Events int
	// BatchRecords bounds one poll, hence one transaction, on both sides
	// (stream.max_batch_records). Default: the pipeline's
	// (stream.DefaultConfig().MaxBatchRecords, 2500).
	BatchRecords int
	// WarmupEvents are processed before the window, once the group is
	// stable. Default 400.
	WarmupEvents int
	// LatencyEvents are the probe records of the latency phase, produced at
	// LatencyRate records per second. Defaults 4000 and 4000/s; negative
	// LatencyEvents skips the phase.
	LatencyEvents int
	LatencyRate   int
	// WarmupTurn runs one unreported turn of each kind first, on
	// min(Events, 50,000) records, so that the first pair does not pay for
	// a cold process. Default false; "resolver bench" sets it.
	WarmupTurn bool

	// Gen is the generator's configuration (seed, teams, padding …); Users
	// is chosen by Run to give enough records. Its zero value is
	// gen.DefaultConfig().
	Gen gen.Config
	// IdentityShare, when > 0, is the share of identity events ($identify,
	// $create_alias) wanted in the input: Run maps it onto the generator's
	// IdentifyShare and, for high shares, shorter sessions (see
	// GenConfigFor). Zero keeps Gen as it is (about 5% with the defaults).
	IdentityShare float64

	// PreloadIDs, when > 0, adds a third turn to every pair, "preloaded":
	// the full pipeline on a replica that holds at least PreloadIDs
	// distinct ids of past people before its window (preload.go; written
	// once into a template, compacted, and copied for each turn), and
	// gives every turn a skewed input: TailShare of the window's events
	// come from those old ids. Default 0: no preloaded turns, no tail.
	PreloadIDs int
	// TailShare is the share of events from preloaded ids with PreloadIDs,
	// in [0, 0.9]. Default DefaultTailShare (0.2); None for none.
	TailShare float64

	// StateDir is the parent of the resolver turns' state directories,
	// each removed after its turn. Default os.TempDir().
	StateDir string
	// State are the options of each resolver turn's store (cache size …);
	// Logger is set from Log.
	State state.Options
	// Stream, if set, adjusts each pipeline's config after Run has filled
	// it in (topics, group, transactional id, partitions, batch size).
	Stream func(*stream.Config)

	// CPUProfile and MemProfile, when set, receive a CPU profile and an
	// allocation profile of the resolver's throughput window in the last
	// pair (see Run).
	CPUProfile io.Writer
	MemProfile io.Writer

	// Log receives the components' logs. Default zap.NewNop().
	Log *zap.Logger
	// Progress, when set, receives one line per phase of every turn.
	Progress io.Writer
	// Timeout bounds one turn's throughput window. Default: 10 minutes.
	Timeout time.Duration
}

// withDefaults returns c with its zero fields set.
func (c Config) withDefaults() Config {
	def := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	def(&c.Pairs, DefaultPairs)
	def(&c.Instances, DefaultInstances)
	def(&c.Workers, stream.DefaultConfig().Workers)
	def(&c.Events, DefaultEvents)
	def(&c.BatchRecords, stream.DefaultConfig().MaxBatchRecords)
	def(&c.WarmupEvents, DefaultWarmupEvents)
	def(&c.LatencyEvents, DefaultLatencyEvents)
	def(&c.LatencyRate, DefaultLatencyRate)
	if c.LatencyEvents < 0 {
		c.LatencyEvents = 0
	}
	if c.Gen == (gen.Config{}) {
		c.Gen = gen.DefaultConfig()
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
	switch {
	case c.PreloadIDs == 0:
		c.TailShare = 0
	case c.TailShare == 0:
		c.TailShare = DefaultTailShare
	case c.TailShare < 0:
		c.TailShare = 0
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Minute
	}
	return c
}

// Validate reports the first field out of range, naming it.
func (c Config) Validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("bench: %s = %v: %s: %w", field, v, want, ErrInvalidConfig)
	}
	switch {
	case c.Partitions < 0:
		return bad("Partitions", c.Partitions, "must be at least 1")
	case c.Pairs < 0:
		return bad("Pairs", c.Pairs, "must be at least 1")
	case c.Instances < 0 || c.Instances > 3:
		return bad("Instances", c.Instances, "must be 1, 2 or 3")
	case c.Events < 0:
		return bad("Events", c.Events, "must be at least 1")
	case c.BatchRecords < 0:
		return bad("BatchRecords", c.BatchRecords, "must be at least 1")
	case c.WarmupEvents < 0:
		return bad("WarmupEvents", c.WarmupEvents, "must be at least 1")
	case c.LatencyRate < 0:
		return bad("LatencyRate", c.LatencyRate, "must be positive")
	case c.IdentityShare < 0 || c.IdentityShare > 0.5:
		return bad("IdentityShare", c.IdentityShare, "must be in [0, 0.5]")
	case c.PreloadIDs < 0 || c.PreloadIDs > MaxPreloadIDs:
		return bad("PreloadIDs", c.PreloadIDs, fmt.Sprintf("must be in [0, %d]", MaxPreloadIDs))
	case c.TailShare != c.TailShare || c.TailShare > 0.9:
		return bad("TailShare", c.TailShare, "must be at most 0.9 (negative means none)")
	}
	if err := c.Gen.Validate(); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}
