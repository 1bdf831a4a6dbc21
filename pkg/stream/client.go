package stream

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"
)

// ClientOpts are the options every client of the resolver shares: seeds,
// client id (ClientID-name), auth, TLS, logging through kzap, and a capped
// retry backoff so that an unreachable broker is retried (and logged)
// rather than given up on. Tools that talk to the same cluster (bench, gen)
// use them too, so they connect exactly as the pipeline does.
func ClientOpts(k Kafka, log *zap.Logger, name string) []kgo.Opt {
	d := DefaultConfig().Kafka
	if k.ClientID == "" {
		k.ClientID = d.ClientID
	}
	if k.RetryBackoff <= 0 {
		k.RetryBackoff = d.RetryBackoff
	}
	if log == nil {
		log = zap.NewNop()
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(k.Brokers...),
		kgo.ClientID(k.ClientID + "-" + name),
		kgo.WithLogger(kzap.New(log.Named(name), kzap.Level(kgo.LogLevelWarn))),
		kgo.RetryBackoffFn(func(tries int) time.Duration {
			d := 100 * time.Millisecond << min(tries, 6)
			return min(d, k.RetryBackoff)
		}),
		kgo.RetryTimeout(0), // retry broker errors for as long as it takes
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
	if codec, err := ParseCompression(k.Compression); err == nil { // validated by the config's owner
		opts = append(opts, kgo.ProducerBatchCompression(codec))
	}
	if k.ClientHooks != nil {
		if hooks := k.ClientHooks(name); len(hooks) > 0 {
			opts = append(opts, kgo.WithHooks(hooks...))
		}
	}
	return opts
}

// noFetchSessions is an option of the direct (groupless) consumers that
// are closed while they may have a fetch in flight (the followers of
// identity_log and billing_usage, a request's wait for its outcome).
// franz-go v1.22.3's Client.Close reads each source's fetch session id
// without a lock while the in-flight fetch's response may still write it
// (fetchSession.bumpEpoch): a data race under -race, seen in CI in the
// shred ring's client (pkg/shred, which sets the same option). These
// consumers read a few partitions each, so incremental fetch sessions
// (KIP-227) save nothing worth that.
var noFetchSessions = kgo.DisableFetchSessions()

// OutputClientOpts are ClientOpts with the producer compression of the
// outputs (Kafka.OutputCompression, its default when empty) in place of
// kafka.compression: the options of the worker sessions, whose
// transactions write every output topic — and of any producer that must
// write what they write the same way (the bench's passthrough).
func OutputClientOpts(k Kafka, log *zap.Logger, name string) []kgo.Opt {
	opts := ClientOpts(k, log, name)
	if k.OutputCompression == "" {
		k.OutputCompression = DefaultConfig().Kafka.OutputCompression
	}
	if codec, err := ParseCompression(k.OutputCompression); err == nil { // validated by the config's owner
		opts = append(opts, kgo.ProducerBatchCompression(codec)) // the later option wins
	}
	return opts
}

// Compressions are the values ParseCompression accepts.
var Compressions = []string{"none", "snappy", "lz4", "zstd", "gzip"}

// ParseCompression is the producer compression of a kafka.compression
// value; "" is snappy (franz-go's default). Consumers decompress any codec,
// so this is the producer's trade of CPU for bytes on the wire and disk.
func ParseCompression(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "", "snappy":
		return kgo.SnappyCompression(), nil
	case "none":
		return kgo.NoCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("unknown compression %q: want one of %s", name, strings.Join(Compressions, ", "))
}

// NewAdmin returns an admin client of the cluster k describes (seeds, TLS,
// SASL, logging as every resolver client), and the function that closes it.
func NewAdmin(k Kafka, log *zap.Logger) (*kadm.Client, func(), error) {
	cl, err := kgo.NewClient(ClientOpts(k, log, "admin")...)
	if err != nil {
		return nil, nil, fmt.Errorf("stream: kafka admin client: %w", err)
	}
	return kadm.NewClient(cl), cl.Close, nil
}
