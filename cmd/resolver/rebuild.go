package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/broker"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// rebuildReachTimeout bounds the check, before anything is deleted, that the
// cluster answers and holds identity_log.
const rebuildReachTimeout = 30 * time.Second

func (c *cli) rebuildCmd() *cobra.Command {
	def := defaultConfig()
	cmd := &cobra.Command{
		Use:   "rebuild [--state-dir DIR] [--brokers HOST:PORT,...] [--format table|json]",
		Short: "Delete a stopped instance's state and replay it from identity_log and billing_usage",
		Long: `rebuild deletes the replica in state.dir/identity — identity state, applied
offsets, outbox and billing view — and replays identity_log and billing_usage
from their beginning up to their ends as of the start, with the same applier
and billing view as resolver run. Person ids are deterministic, so the rebuilt
state is the one the instance had: the fingerprint printed at the end equals
the one resolver fingerprint printed before (for the same log end).

Before deleting anything it checks that the cluster answers and holds
identity_log from offset 0 (a log that retention has truncated cannot rebuild
the state: restore a snapshot instead); a state directory held by a running
instance is refused. With
kafka.brokers empty it replays from the embedded broker's data in
state.dir/broker, starting that broker on kafka.embedded.listen.

Progress: a bar on a terminal, else a log line every --progress-interval with
records/s and ETA; at the end a line on stderr with the identity_log records
replayed per second (ops/s). Interrupted (SIGINT), the state keeps what was replayed and
is consistent: run rebuild again, or resolver run continues from there. Killed
(or after a failed write) it is not: the replay writes each batch as several
Badger transactions, in key order, for speed, and from 2,000,000 records holds the
lineage index back (in memory, then in state.dir/identity/deferred-index) to
write it in one pass at the end; such a state is refused by every command until
rebuild makes it again.
--cpuprofile FILE writes a CPU profile of the replay (go tool pprof -top FILE).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := getFormat(cmd, "table", "json")
			if err != nil {
				return err
			}
			every, _ := cmd.Flags().GetDuration("progress-interval")
			if every <= 0 {
				return &usageError{fmt.Errorf("--progress-interval %s: must be positive", every), cmd.CommandPath()}
			}
			return c.withSetup(cmd, true, func(e env) error {
				if path, _ := cmd.Flags().GetString("cpuprofile"); path != "" {
					stop, err := startCPUProfile(path)
					if err != nil {
						return err
					}
					defer stop()
				}
				sum, err := c.rebuild(e.ctx, e.cfg, e.log, every)
				if err != nil {
					return err
				}
				return sum.write(cmd.OutOrStdout(), format)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringSlice("brokers", def.Kafka.Brokers, "Kafka seed brokers host:port, comma-separated; empty: the embedded broker's data in state.dir/broker (kafka.brokers)")
	bindFlag(fs, "brokers", "kafka.brokers")
	fs.String("embedded-listen", def.Kafka.Embedded.Listen, "listen address of the embedded broker, when kafka.brokers is empty (kafka.embedded.listen)")
	bindFlag(fs, "embedded-listen", "kafka.embedded.listen")
	fs.Duration("progress-interval", 10*time.Second, "how often to log progress when stderr is not a terminal")
	fs.String("cpuprofile", "", "write a CPU profile of the rebuild to FILE")
	formatFlag(cmd, "table", "json")
	return cmd
}

// rebuild wipes and replays cfg's replica, returning the summary of the
// rebuilt state.
func (c *cli) rebuild(ctx context.Context, cfg Config, log *zap.Logger, every time.Duration) (stateSummary, error) {
	sc, err := cfg.ToStream()
	if err != nil {
		return stateSummary{}, err
	}
	dir := identityDir(cfg)
	if err := state.CheckUnlocked(dir); err != nil { // early, before a broker is started
		if state.IsLocked(err) {
			return stateSummary{}, lockedError(dir, "rebuild", err)
		}
		return stateSummary{}, err
	}
	if len(sc.Kafka.Brokers) == 0 {
		dataDir := filepath.Join(cfg.State.Dir, "broker")
		if _, err := os.Stat(dataDir); err != nil {
			return stateSummary{}, fmt.Errorf("rebuild: kafka.brokers is empty and there is no embedded broker data in %s to replay (%w); set kafka.brokers (--brokers) to the cluster holding identity_log", dataDir, err)
		}
		b, err := broker.Start(broker.Config{Listen: cfg.Kafka.Embedded.Listen, DataDir: dataDir, Logger: log.Named("broker")})
		if err != nil {
			return stateSummary{}, fmt.Errorf("rebuild: %w", err)
		}
		defer b.Close()
		sc.Kafka.Brokers = b.Addrs()
		log.Info("embedded broker started", zap.Strings("addrs", b.Addrs()), zap.String("data_dir", dataDir))
	}
	if err := checkIdentityLog(ctx, sc, log); err != nil {
		return stateSummary{}, err
	}

	if err := state.Wipe(dir); err != nil {
		if state.IsLocked(err) {
			return stateSummary{}, lockedError(dir, "rebuild", err)
		}
		return stateSummary{}, err
	}
	log.Info("state deleted; replaying", zap.String("state_dir", dir), zap.Strings("brokers", sc.Kafka.Brokers))
	opts := writingStateOptions(cfg, log)
	opts.Replay = true // a replay into the empty state: level 0 compacted once, at the end
	st, err := state.Open(dir, opts)
	if err != nil {
		if state.IsLocked(err) {
			return stateSummary{}, lockedError(dir, "rebuild", err)
		}
		return stateSummary{}, fmt.Errorf("open state %s: %w", dir, err)
	}
	defer st.Close()

	bar := newRebuildProgress(c.stderr, log, every)
	var last stream.RebuildProgress
	res, err := stream.Rebuild(ctx, sc, st, log, func(p stream.RebuildProgress) {
		last = p
		bar.update(p)
	})
	bar.finish(last)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, state.ErrUnfinishedReplay) {
			return stateSummary{}, fmt.Errorf("rebuild interrupted after %d of %d records: %s holds what was replayed and is consistent; run rebuild again, or resolver run continues from there", last.Done(), last.Total(), dir)
		}
		return stateSummary{}, fmt.Errorf("rebuild: %w", err)
	}
	sum, err := summarize(st, dir)
	if err != nil {
		return stateSummary{}, err
	}
	if err := st.Close(); err != nil {
		return stateSummary{}, err
	}
	ops := res.Applied + res.Skipped + res.Malformed + res.Rejected
	rate := float64(ops) / max(res.Took.Seconds(), 1e-9)
	log.Info("rebuilt", zap.String("state_dir", dir), zap.Int64("ops_applied", res.Applied), zap.Int64("duplicates_skipped", res.Skipped),
		zap.Int64("malformed", res.Malformed), zap.Int64("rejected", res.Rejected), zap.Duration("took", res.Took.Round(time.Millisecond)),
		zap.Float64("ops_per_s", math.Round(rate)), zap.String("fingerprint", sum.Fingerprint))
	fmt.Fprintf(c.stderr, "rebuild: %d identity_log records (%d ops applied, %d duplicates skipped) and %d billing_usage offsets in %s: %.0f ops/s\n",
		ops, res.Applied, res.Skipped, last.BillingDone, res.Took.Round(time.Millisecond), rate)
	return sum, nil
}

// checkIdentityLog makes sure, before anything is deleted, that the cluster
// answers and has identity_log, complete from offset 0.
func checkIdentityLog(ctx context.Context, sc stream.Config, log *zap.Logger) error {
	adm, closeAdm, err := stream.NewAdmin(sc.Kafka, log.Named("admin"))
	if err != nil {
		return err
	}
	defer closeAdm()
	ctx, cancel := context.WithTimeout(ctx, rebuildReachTimeout)
	defer cancel()
	td, err := adm.ListTopics(ctx, sc.Topics.IdentityLog)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", rebuildReachTimeout)
		}
		return fmt.Errorf("rebuild: cannot reach the cluster at %v (kafka.brokers): %w; nothing was deleted", sc.Kafka.Brokers, err)
	}
	if d, ok := td[sc.Topics.IdentityLog]; !ok || d.Err != nil || len(d.Partitions) == 0 {
		return fmt.Errorf("rebuild: the cluster at %v has no topic %s (topics.identity_log): nothing to replay from; nothing was deleted", sc.Kafka.Brokers, sc.Topics.IdentityLog)
	}
	// The replay starts from an empty replica: every partition must still
	// begin at offset 0.
	if err := stream.CheckLogStart(ctx, adm, sc.Topics.IdentityLog, nil); err != nil {
		return fmt.Errorf("rebuild: %w; nothing was deleted", err)
	}
	return nil
}

// startCPUProfile starts a CPU profile into path; stop ends it and closes
// the file.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile %s: %w", path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
