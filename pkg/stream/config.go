package stream

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/event"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// Topics are the names of every topic the resolver reads or writes.
type Topics struct {
	Raw         string // input capture events (default events_raw)
	Person      string // person-stamped events (events_person)
	DeadLetter  string // rejected records (events_dead_letter)
	IdentityLog string // replicated identity ops (identity_log)
	Persons     string // person rows (persons)
	DistinctIDs string // distinct-id rows (person_distinct_ids)
	Warnings    string // ingestion warnings (ingestion_warnings)
	Billing     string // billing deltas (billing_usage)
}

// DefaultTopics returns the default topic names of docs/DESIGN.md.
func DefaultTopics() Topics {
	return Topics{
		Raw:         "events_raw",
		Person:      "events_person",
		DeadLetter:  "events_dead_letter",
		IdentityLog: "identity_log",
		Persons:     "persons",
		DistinctIDs: "person_distinct_ids",
		Warnings:    "ingestion_warnings",
		Billing:     "billing_usage",
	}
}

// All returns every topic name, input first.
func (t Topics) All() []string {
	return []string{t.Raw, t.Person, t.DeadLetter, t.IdentityLog, t.Persons, t.DistinctIDs, t.Warnings, t.Billing}
}

// SASL configures SASL authentication. Mechanism is "" (none), "PLAIN",
// "SCRAM-SHA-256" or "SCRAM-SHA-512".
type SASL struct {
	Mechanism string
	User      string
	Password  string
}

// Kafka is how to reach the cluster.
type Kafka struct {
	Brokers  []string
	ClientID string // default "resolver"
	SASL     SASL
	TLS      *tls.Config // nil: plaintext
	// SessionTimeout of the consumer group; kfake's minimum is 6s. Default 10s.
	SessionTimeout time.Duration
	// TransactionTimeout is how long the broker lets a batch transaction
	// stay open before it aborts it and fences its producer: the longest a
	// zombie's open transaction holds back read_committed readers of the
	// outputs. Default 10s.
	TransactionTimeout time.Duration
	// RetryBackoff caps the backoff between retries when the broker is
	// unreachable. Default 2s.
	RetryBackoff time.Duration
	// Compression of produced batches (ParseCompression); "" is snappy.
	Compression string
	// GroupProtocol is the consumer group protocol of the worker sessions
	// (ParseGroupProtocol): GroupProtocolClassic or GroupProtocolConsumer
	// (KIP-848). "" is DefaultGroupProtocol.
	GroupProtocol string
}

// Config is everything the pipeline needs, already validated and typed by
// the caller (cmd/resolver reads it from viper).
type Config struct {
	Kafka  Kafka
	Topics Topics
	// Group is the consumer group of the partition workers. Default "resolver".
	Group string
	// TransactionalID must be stable for an instance across restarts (so a
	// restarted instance fences its zombie) and unique among instances.
	TransactionalID string
	// TopicPartitions is the partition count of topics the resolver creates
	// when missing. Default 8.
	TopicPartitions int32
	// ReplicationFactor of created topics; -1 is the broker default.
	ReplicationFactor int16
	// MaxBatchRecords bounds one poll, hence one transaction. Default 2000.
	MaxBatchRecords int
	// Workers is the number of partition-worker sessions of the instance
	// (stream.workers): each is a member of the group with its own
	// transactional id (TransactionalID, then TransactionalID-w1, -w2, …),
	// so while one waits on the identity log or its commit another
	// decodes and stamps. Default 1.
	Workers int
	// MaxEventBytes is input.max_event_bytes. Default 1 MiB.
	MaxEventBytes int
	// MaxMergeMove is identity.max_merge_move. Default 10,000.
	MaxMergeMove int
	// MaxRecordBytes is output.max_record_bytes: the most bytes of key,
	// value and headers of any record the pipeline produces (see
	// output.go). Default DefaultMaxRecordBytes; at least
	// MinMaxRecordBytes.
	MaxRecordBytes int
	// MaxPersonPropertiesBytes is identity.max_person_properties_bytes,
	// unionfind.Graph.MaxPersonPropertiesBytes. Default 512 KiB.
	MaxPersonPropertiesBytes int
	// Teams is the trusted team map of teams.file (event.Options.Teams);
	// the caller may Replace its entries while the pipeline runs (SIGHUP).
	// Default nil: no map.
	Teams *event.TeamMap
	// ExcludedEvents are the event names billed as excluded
	// (billing.excluded_events). Default nil: billing.DefaultExcludedEvents();
	// an empty, non-nil list excludes nothing.
	ExcludedEvents []string
	// OutboxTrimInterval is how often every instance trims outbox rows below
	// the group's committed offsets. Default 30s.
	OutboxTrimInterval time.Duration

	// Observer, if not nil, receives the pipeline's counts (see Observer).
	Observer Observer
	// LagInterval is how often identity_log's end offsets are listed to
	// measure the applier's lag (readiness and Observer). Default
	// ReadyMaxLag/4, at most 5s.
	LagInterval time.Duration
	// ReadyMaxLag is readiness.max_lag: the instance is ready only while
	// its replica has applied identity_log as it was at most this long ago
	// (see lagTracker for how that is measured, without a broker request
	// per question). Default DefaultReadyMaxLag, 2s.
	ReadyMaxLag time.Duration
	// LogIDs prints distinct ids as they are in the log lines and errors of
	// the pipeline. Default false: they are hashed (log.redact, see
	// internal/redact).
	LogIDs bool
}

// DefaultLagInterval is the default of Config.LagInterval for a
// ReadyMaxLag: a quarter of it, at least 10ms and at most 5s.
func DefaultLagInterval(maxLag time.Duration) time.Duration {
	return min(max(maxLag/4, 10*time.Millisecond), 5*time.Second)
}

// DefaultConfig returns the pipeline's defaults: the one place they are
// written down. cmd/resolver builds its built-in configuration (and so
// configs/resolver.yaml) from it; WithDefaults fills a zero field from it.
// Kafka.Brokers and TransactionalID have no default that fits every
// instance: Brokers is empty, and TransactionalID is left for WithDefaults
// to derive from Group.
func DefaultConfig() Config {
	return Config{
		Kafka: Kafka{
			ClientID:           "resolver",
			SessionTimeout:     defaultSessionTimeout,
			TransactionTimeout: 10 * time.Second,
			RetryBackoff:       2 * time.Second,
			Compression:        "snappy",
			GroupProtocol:      DefaultGroupProtocol,
		},
		Topics:                   DefaultTopics(),
		Group:                    "resolver",
		TopicPartitions:          8,
		ReplicationFactor:        -1,
		MaxBatchRecords:          2000,
		Workers:                  1,
		MaxEventBytes:            event.DefaultMaxEventBytes,
		MaxMergeMove:             unionfind.DefaultMaxMergeMove,
		MaxRecordBytes:           DefaultMaxRecordBytes,
		MaxPersonPropertiesBytes: unionfind.DefaultMaxPersonPropertiesBytes,
		ExcludedEvents:           billing.DefaultExcludedEvents(),
		OutboxTrimInterval:       30 * time.Second,
		ReadyMaxLag:              DefaultReadyMaxLag,
		LagInterval:              DefaultLagInterval(DefaultReadyMaxLag),
	}
}

// defaultSessionTimeout is the default of Kafka.SessionTimeout and of
// BrokerConfig.SessionTimeout.
const defaultSessionTimeout = 10 * time.Second

// WithDefaults returns c with every zero field set to its DefaultConfig
// value — except LagInterval, which follows c's ReadyMaxLag
// (DefaultLagInterval), and TransactionalID, which is Group + "-txn". A nil
// ExcludedEvents is the default list; an empty one excludes nothing.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	setDefault(&c.Kafka.ClientID, d.Kafka.ClientID)
	setDefault(&c.Kafka.SessionTimeout, d.Kafka.SessionTimeout)
	setDefault(&c.Kafka.TransactionTimeout, d.Kafka.TransactionTimeout)
	setDefault(&c.Kafka.RetryBackoff, d.Kafka.RetryBackoff)
	setDefault(&c.Kafka.Compression, d.Kafka.Compression)
	setDefault(&c.Kafka.GroupProtocol, d.Kafka.GroupProtocol)
	setDefault(&c.Topics.Raw, d.Topics.Raw)
	setDefault(&c.Topics.Person, d.Topics.Person)
	setDefault(&c.Topics.DeadLetter, d.Topics.DeadLetter)
	setDefault(&c.Topics.IdentityLog, d.Topics.IdentityLog)
	setDefault(&c.Topics.Persons, d.Topics.Persons)
	setDefault(&c.Topics.DistinctIDs, d.Topics.DistinctIDs)
	setDefault(&c.Topics.Warnings, d.Topics.Warnings)
	setDefault(&c.Topics.Billing, d.Topics.Billing)
	setDefault(&c.Group, d.Group)
	setDefault(&c.TransactionalID, c.Group+"-txn")
	setDefault(&c.TopicPartitions, d.TopicPartitions)
	setDefault(&c.ReplicationFactor, d.ReplicationFactor)
	setDefault(&c.MaxBatchRecords, d.MaxBatchRecords)
	setDefault(&c.Workers, d.Workers)
	setDefault(&c.MaxEventBytes, d.MaxEventBytes)
	setDefault(&c.MaxMergeMove, d.MaxMergeMove)
	setDefault(&c.MaxRecordBytes, d.MaxRecordBytes)
	setDefault(&c.MaxPersonPropertiesBytes, d.MaxPersonPropertiesBytes)
	if c.ExcludedEvents == nil {
		c.ExcludedEvents = d.ExcludedEvents
	}
	setDefault(&c.OutboxTrimInterval, d.OutboxTrimInterval)
	setDefault(&c.ReadyMaxLag, d.ReadyMaxLag)
	setDefault(&c.LagInterval, DefaultLagInterval(c.ReadyMaxLag))
	return c
}

// setDefault sets *field to def when it is the zero value.
func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	if len(c.Kafka.Brokers) == 0 {
		return errors.New("stream: kafka.brokers: no broker address")
	}
	seen := map[string]bool{}
	for _, t := range c.Topics.All() {
		if t == "" {
			return errors.New("stream: topics: empty topic name")
		}
		if seen[t] {
			return fmt.Errorf("stream: topics: %q used twice", t)
		}
		seen[t] = true
	}
	switch c.Kafka.SASL.Mechanism {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return fmt.Errorf("stream: kafka.sasl.mechanism: %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", c.Kafka.SASL.Mechanism)
	}
	if c.TopicPartitions < 1 {
		return fmt.Errorf("stream: kafka.topic_partitions: %d must be at least 1", c.TopicPartitions)
	}
	if c.Workers < 1 || c.Workers > 64 {
		return fmt.Errorf("stream: stream.workers: %d must be between 1 and 64", c.Workers)
	}
	if c.MaxBatchRecords < 1 {
		return fmt.Errorf("stream: stream.max_batch_records: %d must be at least 1", c.MaxBatchRecords)
	}
	if c.MaxRecordBytes < MinMaxRecordBytes || c.MaxRecordBytes > maxMaxRecordBytes {
		return fmt.Errorf("stream: output.max_record_bytes: %d must be between %d and %d", c.MaxRecordBytes, MinMaxRecordBytes, maxMaxRecordBytes)
	}
	if c.LagInterval < 0 {
		return fmt.Errorf("stream: lag interval: %s must be positive", c.LagInterval)
	}
	if c.ReadyMaxLag < 0 {
		return fmt.Errorf("stream: readiness.max_lag: %s must be positive", c.ReadyMaxLag)
	}
	if c.LagInterval >= c.ReadyMaxLag {
		return fmt.Errorf("stream: lag interval %s must be shorter than readiness.max_lag (%s): the lag is measured once an interval", c.LagInterval, c.ReadyMaxLag)
	}
	return nil
}
