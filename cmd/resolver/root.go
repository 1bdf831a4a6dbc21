package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/redact"
)

// rootCmd builds the command tree. Each subcommand is in its own file
// (run.go, broker.go, ...) as a method of cli returning its *cobra.Command;
// adding one is a new file and a line here.
func (c *cli) rootCmd() *cobra.Command {
	def := defaultConfig()
	root := &cobra.Command{
		Use:   "resolver",
		Short: "Streaming person resolution over Kafka",
		Long: `resolver reads raw analytics events from Kafka, merges anonymous and
identified distinct_ids into persons, and re-emits every event stamped with
its person, exactly once, along with person and distinct-id tables, ingestion
warnings and billing counts.

Configuration: built-in defaults, then --config FILE (YAML, every key in
configs/resolver.yaml), then environment variables RESOLVER_<SECTION>_<KEY>
(e.g. RESOLVER_KAFKA_BROKERS=host1:9092,host2:9092), then flags.

Exit codes: 0 success, 1 failure, 2 invalid configuration or command line.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Args set (not nil) so that an unknown subcommand reaches it as a
		// *usageError instead of cobra's plain error.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath()), cmd.CommandPath()}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	setVersion(root) // resolver --version
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{err, cmd.CommandPath()}
	})

	pf := root.PersistentFlags()
	pf.String("config", "", "YAML config file; every key is documented in configs/resolver.yaml")
	pf.String("state-dir", def.State.Dir, "directory of the local state (state.dir)")
	bindFlag(pf, "state-dir", "state.dir")
	pf.String("log-level", def.Log.Level, "debug, info, warn or error (log.level)")
	bindFlag(pf, "log-level", "log.level")
	pf.String("log-format", def.Log.Format, `json, console, or "" for console on a terminal (log.format)`)
	bindFlag(pf, "log-format", "log.format")

	root.AddCommand(
		c.runCmd(),
		c.brokerCmd(),
		c.fingerprintCmd(),
		c.lookupCmd(),
		c.personsCmd(),
		c.explainCmd(),
		c.rebuildCmd(),
		c.snapshotCmd(),
		c.restoreCmd(),
		c.billingCmd(),
		c.demoCmd(),
		c.genCmd(),
		c.benchCmd(),
		c.dlqCmd(),
		c.versionCmd(),
		c.healthCmd(),
		c.configCmd(),
	)
	return root
}

// env is what a command's body gets from the set-up every command shares
// (withSetup).
type env struct {
	cfg Config
	log *zap.Logger
	// ctx is cancelled by the first SIGINT or SIGTERM (signalContext) when
	// the command asked for signals, else it is the command's context.
	ctx context.Context
}

// withSetup runs body with the set-up every command shares: the config (its
// --config file, the environment, its bound flags) and the logger, synced
// when body returns; with signals, a context the first SIGINT or SIGTERM
// cancels, so that the command shuts down cleanly. Commands check their own
// flags before calling it, so a usage error is reported before a config
// error.
func (c *cli) withSetup(cmd *cobra.Command, signals bool, body func(env) error) error {
	cfg, log, err := c.setup(cmd)
	if err != nil {
		return err
	}
	defer syncLog(log) // last: after the body and the signal handler
	e := env{cfg: cfg, log: log, ctx: cmd.Context()}
	if signals {
		ctx, stop := c.signalContext(cmd.Context(), log)
		defer stop()
		e.ctx = ctx
	}
	return body(e)
}

// setup loads the config of cmd (its --config file, the environment and its
// bound flags) and builds the logger. Config errors are returned as they
// are, so that they exit with code 2.
func (c *cli) setup(cmd *cobra.Command) (Config, *zap.Logger, error) {
	file, err := cmd.Flags().GetString("config")
	if err != nil {
		return Config{}, nil, err
	}
	cfg, strayEnv, err := loadConfig(file, cmd.Flags())
	if err != nil {
		return Config{}, nil, err
	}
	log, err := newLogger(cfg.Log, c.stderr)
	if err != nil {
		return Config{}, nil, err
	}
	// The key of the hashes of ids in logs, before anything logs one; ""
	// keeps the random per-process key.
	redact.SetKey([]byte(cfg.Log.RedactKey))
	for _, name := range strayEnv {
		log.Warn("environment variable names no config key; ignored", zap.String("name", name))
	}
	return cfg, log, nil
}
