package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/broker"
	"github.com/resolver-dev/resolver/pkg/stream"
)

func (c *cli) brokerCmd() *cobra.Command {
	def := defaultConfig()
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run the embedded Kafka broker alone",
		Long: `broker runs the embedded broker (franz-go's kfake: the real Kafka protocol,
in process) until SIGINT or SIGTERM, so that other processes and any Kafka
client (kcat, kafkajs, ...) can use it.

At start it creates every topic of the configured topics section that is
missing, with --partitions partitions each, so that a client can produce to
topics.raw before any resolver has started. When the topics exist it prints
"resolver broker listening on ADDR" on stdout.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withSetup(cmd, true, func(e env) error {
				dataDir, err := cmd.Flags().GetString("data-dir")
				if err != nil {
					return err
				}
				if dataDir == "" {
					dataDir = filepath.Join(e.cfg.State.Dir, "broker")
				}
				return c.runBroker(e, dataDir)
			})
		},
	}
	fs := cmd.Flags()
	fs.String("listen", def.Kafka.Embedded.Listen, "address to listen on, host:port; port 0 picks a free port (kafka.embedded.listen)")
	bindFlag(fs, "listen", "kafka.embedded.listen")
	fs.String("data-dir", "", "directory of the broker's records, offsets and transactions (default <state.dir>/broker)")
	fs.Int("partitions", def.Kafka.TopicPartitions, "partitions of each topic created at start (kafka.topic_partitions)")
	bindFlag(fs, "partitions", "kafka.topic_partitions")
	return cmd
}

// runBroker starts the broker, creates the missing topics through a client
// of its own address, and serves until the command's context is cancelled
// or a signal arrives; then it closes the broker within
// stream.shutdown_timeout and the command syncs the log.
func (c *cli) runBroker(e env, dataDir string) error {
	ctx, cfg, log := e.ctx, e.cfg, e.log

	b, err := broker.Start(broker.Config{
		Listen:     cfg.Kafka.Embedded.Listen,
		DataDir:    dataDir,
		SyncWrites: cfg.Kafka.Embedded.SyncWrites,
		// The consumer group protocol's session timeout is the broker's.
		SessionTimeout: cfg.Kafka.SessionTimeout,
		Logger:         log.Named("broker"),
	})
	if err != nil {
		return err
	}
	addrs := b.Addrs()

	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addrs...),
		kgo.ClientID(cfg.Kafka.ClientID+"-broker-admin"),
		kgo.WithLogger(kzap.New(log.Named("admin"), kzap.Level(kgo.LogLevelWarn))),
	)
	if err != nil {
		b.Close()
		return fmt.Errorf("admin client for the embedded broker: %w", err)
	}
	topics := cfg.streamTopics().All()
	err = stream.EnsureTopics(ctx, kadm.NewClient(cl), topics, cfg.Kafka.TopicPartitions, cfg.Kafka.ReplicationFactor, cfg.Kafka.RetryBackoffMax, log.Named("topics"), cfg.streamTopics().TopicOptions()...)
	cl.Close()
	if err != nil && ctx.Err() == nil {
		b.Close()
		return err
	}

	if ctx.Err() == nil {
		log.Info("broker ready", zap.Strings("addrs", addrs), zap.String("data_dir", dataDir), zap.Strings("topics", topics))
		fmt.Fprintf(c.stdout, "resolver broker listening on %s\n", addrs[0])
		<-ctx.Done()
	}

	log.Info("stopping broker", zap.Duration("timeout", cfg.Stream.ShutdownTimeout))
	deadline, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Stream.ShutdownTimeout)
	defer cancel()
	if err := within(deadline, "close broker", func() error { b.Close(); return nil }); err != nil {
		return err
	}
	log.Info("broker stopped")
	return nil
}
