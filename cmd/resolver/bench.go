package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/bench"
	"github.com/resolver-dev/resolver/internal/gen"
	"github.com/resolver-dev/resolver/internal/hostport"
	"github.com/resolver-dev/resolver/pkg/stream"
)

func (c *cli) benchCmd() *cobra.Command {
	def := defaultConfig()
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the pipeline against a plain transactional passthrough on one broker, in turns",
		Long: `bench measures, against one broker and the same generated input, in turns
A B A B ... (--pairs pairs):

  limit     a plain franz-go GroupTransactSession consume→produce passthrough:
            no processing, one output record per input record, read_committed,
            the same partitions and the same records per poll and transaction;
  resolver  the full pipeline (decode, identity ops through identity_log,
            stamping, feeds, billing, exactly once), --instances pipelines in
            one group, each on a fresh state directory.

Every turn starts from scratch on fresh topics and a fresh group, and its
topics are deleted afterwards. The input of a turn is produced in one
transaction once the processors are warm; the window runs from its commit to
the commit of the last record. For each turn it prints events/s, CPU seconds
per million events (getrusage of this process: with the embedded broker in
this process that includes the broker; --broker-process runs it as a child
process and reports its CPU apart), peak RSS (VmHWM, reset before each turn
where Linux allows), identity ops logged, and end-to-end latency p50/p99 of
paced probe records (produce time → visible to a read_committed consumer);
then per kind the median, min and max, and the ratio resolver/limit per pair
and its median.

The broker is the embedded kfake in this process unless --brokers names one
(kafka.* TLS and SASL settings apply). --cpuprofile and --memprofile profile
the resolver's window in the last pair: go tool pprof -top FILE.

Progress goes to stderr, the report to stdout.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withSetup(cmd, true, func(e env) error {
				if serve, _ := cmd.Flags().GetBool("serve-broker"); serve {
					return bench.ServeChildBroker(e.ctx, os.Stdin, c.stdout, e.log)
				}
				bc, err := c.benchConfig(cmd, e.cfg, e.log)
				if err != nil {
					return err
				}
				return c.runBench(e.ctx, cmd, bc, e.log)
			})
		},
	}
	fs := cmd.Flags()
	fs.Int("pairs", bench.DefaultPairs, "limit/resolver pairs of turns (at least 1; 3 or more for a median)")
	fs.Int("instances", bench.DefaultInstances, "pipelines (and passthrough sessions) in the one group, 1–3")
	fs.Int("partitions", bench.DefaultPartitions, "partitions of every topic of a turn")
	fs.Int("events", bench.DefaultEvents, "input records per turn")
	fs.Float64("identity-share", 0, "share of identity events ($identify, $create_alias) in the input, e.g. 0.01, 0.05, 0.2; 0 = the generator's default (about 0.05)")
	fs.Int("batch", def.Stream.MaxBatchRecords, "records per poll and transaction on both sides (stream.max_batch_records)")
	bindFlag(fs, "batch", "stream.max_batch_records")
	fs.StringSlice("brokers", nil, "an external broker, host:port, comma-separated; default: the embedded broker in this process")
	fs.Bool("broker-process", false, "run the embedded broker as a child process, to measure its CPU and RSS apart")
	fs.Int("latency-events", bench.DefaultLatencyEvents, "probe records of each turn's latency phase; 0 skips it")
	fs.Int("latency-rate", bench.DefaultLatencyRate, "probe records per second")
	fs.Bool("warmup", true, "run one unreported turn of each kind first (min(--events, 50000) records)")
	fs.Int64("seed", 0, "seed of the generated input")
	fs.Int("preload-ids", 0, "add a third turn per pair, \"preloaded\": the pipeline on a replica preloaded with at least this many distinct ids of past people (written straight into the state, then compacted); every turn's input then has --tail-share events of those old ids; 0: none")
	fs.Float64("tail-share", bench.DefaultTailShare, "with --preload-ids, the share of the window's events that come from preloaded ids, in [0, 0.9]")
	fs.Bool("plaintext-values", false, "log property values unsealed (no data keys, no AES-GCM), to measure what sealing costs; never a deployment setting")
	fs.Int("pad-bytes", gen.DefaultPadBytes, "pad every input record to this many bytes")
	fs.String("cpuprofile", "", "write a CPU profile of the resolver's window in the last pair to FILE")
	fs.String("memprofile", "", "write an allocation profile of the resolver's window in the last pair to FILE")
	fs.Bool("serve-broker", false, "run only an in-memory embedded broker, print its address and serve until stdin closes (used by --broker-process)")
	_ = fs.MarkHidden("serve-broker")
	return cmd
}

// benchConfig builds the comparison from the flags and the config (TLS,
// SASL, stream limits, cache).
func (c *cli) benchConfig(cmd *cobra.Command, cfg Config, log *zap.Logger) (bench.Config, error) {
	fs := cmd.Flags()
	bad := func(flag string, v any, why string) error {
		return &usageError{fmt.Errorf("--%s %v: %s", flag, v, why), cmd.CommandPath()}
	}
	ints := map[string]int{}
	for _, f := range []struct {
		name     string
		min, max int
	}{
		{"pairs", 1, 1000}, {"instances", 1, 3}, {"partitions", 1, 10000}, {"events", 1, 1 << 30},
		{"latency-events", 0, 1 << 24}, {"latency-rate", 1, 1 << 24}, {"pad-bytes", 0, gen.MaxPadBytes},
		{"preload-ids", 0, bench.MaxPreloadIDs},
	} {
		v, _ := fs.GetInt(f.name)
		if v < f.min || v > f.max {
			return bench.Config{}, bad(f.name, v, fmt.Sprintf("must be in [%d, %d]", f.min, f.max))
		}
		ints[f.name] = v
	}
	share, _ := fs.GetFloat64("identity-share")
	if !(share >= 0 && share <= 0.5) {
		return bench.Config{}, bad("identity-share", share, "must be in [0, 0.5]")
	}
	tail, _ := fs.GetFloat64("tail-share")
	if !(tail >= 0 && tail <= 0.9) {
		return bench.Config{}, bad("tail-share", tail, "must be in [0, 0.9]")
	}
	if tail == 0 {
		tail = gen.None
	}
	sc, err := cfg.ToStream()
	if err != nil {
		return bench.Config{}, err
	}
	brokers, _ := fs.GetStringSlice("brokers")
	for _, b := range brokers {
		if err := hostport.Check(b, false); err != nil {
			return bench.Config{}, bad("brokers", b, err.Error())
		}
	}
	sc.Kafka.Brokers = brokers
	seed, _ := fs.GetInt64("seed")
	plaintext, _ := fs.GetBool("plaintext-values")
	g := gen.DefaultConfig()
	g.Seed, g.PadBytes = seed, ints["pad-bytes"]
	latency := ints["latency-events"]
	if latency == 0 {
		latency = -1
	}
	warmup, _ := fs.GetBool("warmup")
	return bench.Config{
		Kafka:         sc.Kafka,
		Partitions:    int32(ints["partitions"]),
		Pairs:         ints["pairs"],
		Instances:     ints["instances"],
		Workers:       cfg.Stream.Workers,
		Events:        ints["events"],
		BatchRecords:  cfg.Stream.MaxBatchRecords,
		LatencyEvents: latency,
		LatencyRate:   ints["latency-rate"],
		WarmupTurn:    warmup,
		Gen:           g,
		IdentityShare: share,
		PreloadIDs:    ints["preload-ids"],
		TailShare:     tail,
		State:         cfg.State.storeOptions(),
		Stream: func(s *stream.Config) {
			s.MaxEventBytes, s.MaxMergeMove = sc.MaxEventBytes, sc.MaxMergeMove
			s.ExcludedEvents = sc.ExcludedEvents
			s.MaxPersonPropertiesBytes, s.Teams = sc.MaxPersonPropertiesBytes, sc.Teams
			s.MasterKey = sc.MasterKey
			s.PlaintextValues = plaintext
		},
		Log:      log,
		Progress: c.stderr,
	}, nil
}

// runBench runs the comparison and prints the report on stdout.
func (c *cli) runBench(ctx context.Context, cmd *cobra.Command, bc bench.Config, log *zap.Logger) error {
	fs := cmd.Flags()
	if child, _ := fs.GetBool("broker-process"); child {
		if len(bc.Kafka.Brokers) > 0 {
			return &usageError{fmt.Errorf("--broker-process and --brokers: choose one"), cmd.CommandPath()}
		}
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: find own executable for --broker-process: %w", err)
		}
		bcmd := exec.Command(exe, "bench", "--serve-broker", "--log-level", "warn")
		bcmd.Stderr = c.stderr
		cb, err := bench.StartChildBroker(bcmd)
		if err != nil {
			return err
		}
		defer cb.Close()
		bc.Kafka.Brokers, bc.BrokerPID = []string{cb.Addr}, cb.PID
	}
	for _, p := range []struct {
		flag string
		dst  *io.Writer
	}{{"cpuprofile", &bc.CPUProfile}, {"memprofile", &bc.MemProfile}} {
		name, _ := fs.GetString(p.flag)
		if name == "" {
			continue
		}
		f, err := os.Create(name)
		if err != nil {
			return err
		}
		defer f.Close()
		*p.dst = f
	}
	rep, err := bench.Run(ctx, bc)
	if err != nil {
		if ctx.Err() != nil {
			log.Info("bench stopped by a signal")
			return nil
		}
		return err
	}
	return rep.WriteText(c.stdout)
}
