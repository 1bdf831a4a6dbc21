package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/broker"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// pipeline is what `resolver run` needs of *stream.Pipeline.
type pipeline interface {
	// Run blocks until ctx is cancelled, then stops (finishing or aborting
	// the open transaction, stopping the applier) and returns nil; or it
	// returns a fatal error.
	Run(ctx context.Context) error
}

// stateStore is what `resolver run` needs of the opened *state.Store: the
// pipeline over it, and Close.
type stateStore interface {
	// Pipeline builds the pipeline that reads and writes this store.
	Pipeline(cfg stream.Config, log *zap.Logger) (pipeline, error)
	// Close flushes and releases the directory; only after the pipeline
	// has stopped.
	Close() error
}

// openStateFunc opens the identity state in dir. If another process holds
// dir the error says so and names dir. wire.go has the real one.
type openStateFunc func(dir string, sc StateConfig, log *zap.Logger) (stateStore, error)

func (c *cli) runCmd() *cobra.Command {
	def := defaultConfig()
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the pipeline (with an embedded broker unless kafka.brokers is set)",
		Long: `run consumes topics.raw, resolves every event's person in the local
identity replica (state.dir/identity) and produces the stamped events, person
and distinct-id rows, warnings and billing deltas, one Kafka transaction per
batch.

With kafka.brokers empty it first starts the embedded broker on
kafka.embedded.listen with its data in state.dir/broker. It creates missing
topics with kafka.topic_partitions partitions. SIGINT or SIGTERM shuts it
down cleanly within stream.shutdown_timeout; a second signal exits at once.
With teams.file set, SIGHUP reloads the team map; a file that is not valid
is logged and the previous map stays in force.

Unless admin.addr is empty it serves /healthz, /readyz, /metrics,
/v1/persons?team=&distinct_id= and /v1/billing?team=&month= there, behind
admin.token if set.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// withSetup syncs the log last: step 5 of the shutdown
			// order in runResolver.
			return c.withSetup(cmd, true, func(e env) error { return c.runResolver(e.ctx, e.cfg, e.log) })
		},
	}
	fs := cmd.Flags()
	fs.StringSlice("brokers", def.Kafka.Brokers, "Kafka seed brokers host:port, comma-separated; empty: embedded broker (kafka.brokers)")
	bindFlag(fs, "brokers", "kafka.brokers")
	fs.String("embedded-listen", def.Kafka.Embedded.Listen, "listen address of the embedded broker (kafka.embedded.listen)")
	bindFlag(fs, "embedded-listen", "kafka.embedded.listen")
	fs.String("instance-id", def.Kafka.InstanceID, "stable unique name of this instance; default from hostname and state dir (kafka.instance_id)")
	bindFlag(fs, "instance-id", "kafka.instance_id")
	fs.String("admin-addr", def.Admin.Addr, `admin HTTP address, "" to disable (admin.addr)`)
	bindFlag(fs, "admin-addr", "admin.addr")
	return cmd
}

// runResolver runs the resolver until ctx is cancelled or the pipeline
// fails.
//
// Start order: the embedded broker (only if kafka.brokers is empty), missing
// topics, the state in <state.dir>/identity, the pipeline (built), the admin
// server on admin.addr (unless empty; /readyz says 503 until the pipeline is
// ready), the pipeline (run).
//
// Shutdown order, all within stream.shutdown_timeout from the moment ctx is
// cancelled or the pipeline fails:
//
//  0. The admin server drains: /readyz and /v1/ answer 503 from now on,
//     /healthz and /metrics keep serving, so the shutdown can be watched.
//  1. The pipeline stops: workers stop fetching, the open transaction is
//     committed or aborted, the applier stops; Run returns. Then the
//     store's maintenance (free-space checks, value log GC) stops.
//  2. state.Close: Badger flushes and releases its directory. Skipped if
//     step 1 did not finish, since the pipeline may still be writing.
//  3. The embedded broker closes; with its DataDir everything is on disk.
//  4. The admin server shuts down: it stops accepting and waits for open
//     requests.
//  5. The logger syncs (deferred by the command).
//
// A step still running at the deadline is abandoned and the result is an
// error (exit 1); later steps are still started but not waited for, except
// state.Close (see 2). Badger and the broker's DataDir recover on the next
// start as they would after a crash; nothing committed is lost.
func (c *cli) runResolver(ctx context.Context, cfg Config, log *zap.Logger) (err error) {
	sc, err := cfg.ToStream()
	if err != nil {
		return err
	}
	// SIGHUP reloads teams.file (a bad file keeps the map in force).
	defer watchTeams(cfg.Teams.File, sc.Teams, log.Named("teams"))()

	var emb *broker.Broker
	if len(sc.Kafka.Brokers) == 0 {
		dataDir := filepath.Join(cfg.State.Dir, "broker")
		emb, err = broker.Start(broker.Config{
			Listen:     cfg.Kafka.Embedded.Listen,
			DataDir:    dataDir,
			SyncWrites: cfg.Kafka.Embedded.SyncWrites,
			// Under the consumer group protocol (KIP-848) the session
			// timeout is the broker's to enforce.
			SessionTimeout: cfg.Kafka.SessionTimeout,
			Logger:         log.Named("broker"),
		})
		if err != nil {
			return err
		}
		sc.Kafka.Brokers = emb.Addrs()
		log.Info("embedded broker started", zap.Strings("addrs", emb.Addrs()), zap.String("data_dir", dataDir))
	}
	// Until the pipeline runs, a failure closes what was opened, in reverse.
	var st stateStore
	abort := func(err error) error {
		if st != nil {
			if cerr := st.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("close state: %w", cerr))
			}
		}
		if emb != nil {
			emb.Close()
		}
		return err
	}

	adm, closeAdm, err := stream.NewAdmin(sc.Kafka, log.Named("admin"))
	if err != nil {
		return abort(err)
	}
	err = stream.EnsureTopics(ctx, adm, sc.Topics.All(), sc.TopicPartitions, sc.ReplicationFactor, sc.Kafka.RetryBackoff, log.Named("topics"), sc.Topics.TopicOptions()...)
	closeAdm()
	if ctx.Err() != nil {
		log.Info("stopped before the pipeline started")
		return abort(nil)
	}
	if err != nil {
		return abort(err)
	}

	st, err = c.openState(filepath.Join(cfg.State.Dir, "identity"), cfg.State, log.Named("state"))
	if err != nil {
		return abort(err)
	}
	pricing, err := cfg.Pricing()
	if err != nil {
		return abort(err)
	}
	m := newMetrics(cfg, st)
	if m != nil { // not a typed nil in the interface
		sc.Observer = m
		// franz-go's client metrics of every client from here on, and the
		// workers' lag on the input topic.
		sc.Kafka.ClientHooks = m.ClientHooks
		m.WatchConsumerLag(sc.Topics.Raw)
	}
	p, err := st.Pipeline(sc, log) // stream.New names its logger "stream"
	if err != nil {
		return abort(fmt.Errorf("build pipeline: %w", err))
	}
	srv := newAdminServer(cfg, sc, st, p, m, pricing, log)
	adminDone := make(chan struct{})
	if srv == nil {
		close(adminDone)
	} else {
		if err := srv.Listen(); err != nil {
			return abort(err)
		}
		go func() {
			defer close(adminDone)
			// Stopped by step 4, not by ctx: it serves through the shutdown.
			if err := srv.Run(context.WithoutCancel(ctx)); err != nil {
				log.Error("admin server stopped", zap.Error(err))
			}
		}()
	}

	log.Info("pipeline starting",
		zap.Strings("brokers", sc.Kafka.Brokers),
		zap.String("group", sc.Group),
		zap.String("transactional_id", sc.TransactionalID),
		zap.String("input", sc.Topics.Raw),
		zap.String("state_dir", cfg.State.Dir))
	// The pipeline runs under pctx: cancelled by ctx (a signal), or by the
	// maintenance when the disk of state.dir falls below its floor.
	pctx, stopPipeline := context.WithCancel(ctx)
	defer stopPipeline()
	diskFull := make(chan error, 1)
	maintCtx, stopMaint := context.WithCancel(context.WithoutCancel(ctx))
	defer stopMaint()
	maintDone := make(chan struct{})
	if ms, ok := st.(maintainedStore); ok {
		go func() {
			defer close(maintDone)
			maintain(maintCtx, cfg.State, ms, m, log, func(err error) {
				log.Error("state disk below its free-space floor: stopping", zap.Error(err))
				diskFull <- err
				stopPipeline()
			})
		}()
	} else {
		close(maintDone)
	}

	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()

	var runErr, diskErr error
	stopped := false
	select {
	case runErr = <-done:
		stopped = true
	case <-ctx.Done():
	case diskErr = <-diskFull:
	}
	runErr = ignoreCancel(pctx, runErr)
	if diskErr == nil && runErr != nil {
		// The pipeline may have failed on the full disk (a refused write)
		// before the maintenance saw it: name the cause.
		if ms, ok := st.(maintainedStore); ok && !state.IsDiskFull(runErr) {
			if err := ms.DiskHealth(); state.IsDiskFull(err) {
				diskErr = err
			}
		}
	}
	if diskErr != nil {
		// The pipeline is stopping (or stopped) because of it: the disk is
		// the error; what the pipeline said follows it.
		if runErr != nil && !state.IsDiskFull(runErr) {
			log.Error("pipeline failed", zap.Error(runErr))
		}
		runErr = diskErr
	}
	if runErr != nil {
		log.Error("pipeline failed; shutting down", zap.Error(runErr))
		what := "pipeline"
		if errors.Is(runErr, stream.ErrLogTruncated) {
			what = "pipeline over the replica in " + filepath.Join(cfg.State.Dir, "identity")
		}
		runErr = fmt.Errorf("%s: %w", what, runErr)
	} else {
		log.Info("shutting down", zap.Duration("timeout", cfg.Stream.ShutdownTimeout))
	}

	deadline, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Stream.ShutdownTimeout)
	defer cancel()
	errs := []error{runErr}

	// 0. The admin server drains.
	if srv != nil {
		srv.Drain()
	}

	// 1. The pipeline.
	if !stopped {
		select {
		case err := <-done:
			stopped = true
			if err = ignoreCancel(pctx, err); err != nil {
				errs = append(errs, fmt.Errorf("pipeline: %w", err))
			}
		case <-deadline.Done():
			errs = append(errs, fmt.Errorf("shutdown: the pipeline did not stop within stream.shutdown_timeout (%s)", cfg.Stream.ShutdownTimeout))
		}
	}
	// 1b. The store's maintenance (a value log GC in progress finishes).
	stopMaint()
	errs = append(errs, within(deadline, "stop state maintenance", func() error { <-maintDone; return nil }))
	// 2. The state.
	if stopped {
		errs = append(errs, within(deadline, "close state", st.Close))
	} else {
		log.Warn("state not closed: the pipeline is still running; it recovers on the next start")
	}
	// 3. The embedded broker.
	if emb != nil {
		errs = append(errs, within(deadline, "close embedded broker", func() error { emb.Close(); return nil }))
	}
	// 4. The admin server.
	if srv != nil {
		errs = append(errs, within(deadline, "stop admin server", func() error {
			err := srv.Shutdown(deadline)
			<-adminDone
			return err
		}))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	log.Info("stopped cleanly")
	return nil
}

// ignoreCancel drops an error of the pipeline that is only the echo of our
// own cancellation (a stop during its start-up, say), so that it counts as
// the clean stop it is.
func ignoreCancel(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// within runs one shutdown step and waits for it until ctx is done. A step
// that is still running then (or starts with no time left) is abandoned,
// not stopped: it goes on in the background while the process exits.
func within(ctx context.Context, step string, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return stepErr(step, err)
	case <-ctx.Done():
		select {
		case err := <-done:
			return stepErr(step, err)
		default:
			return fmt.Errorf("shutdown: %s: did not finish within stream.shutdown_timeout", step)
		}
	}
}

func stepErr(step string, err error) error {
	if err != nil {
		return fmt.Errorf("shutdown: %s: %w", step, err)
	}
	return nil
}
