package bench

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/stream"
)

// clientOpts are the seeds, client id, TLS, SASL and logger of k, as the
// pipeline's own clients have them.
func clientOpts(k stream.Kafka, log *zap.Logger, name string) []kgo.Opt {
	id := k.ClientID
	if id == "" {
		id = "resolver"
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(k.Brokers...),
		kgo.ClientID(id + "-bench-" + name),
		kgo.WithLogger(kzap.New(log.Named(name), kzap.Level(kgo.LogLevelWarn))),
	}
	if k.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(k.TLS))
	}
	switch k.SASL.Mechanism {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: k.SASL.User, Pass: k.SASL.Password}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: k.SASL.User, Pass: k.SASL.Password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: k.SASL.User, Pass: k.SASL.Password}.AsSha512Mechanism()))
	}
	return opts
}

// NewProducer returns a client for Produce: idempotent (kgo's default),
// batched (kgo's 10 ms linger and 1 MB batches), partitioning by
// key as Kafka's default partitioner does, so records keyed
// "token:distinct_id" land where capture would put them. opts are appended.
func NewProducer(k stream.Kafka, log *zap.Logger, opts ...kgo.Opt) (*kgo.Client, error) {
	if log == nil {
		log = zap.NewNop()
	}
	all := append(clientOpts(k, log, "producer"),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.MaxBufferedRecords(50_000),
	)
	cl, err := kgo.NewClient(append(all, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("bench: producer: %w", err)
	}
	return cl, nil
}
