package stream

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

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
	// ExcludedEvents are the event names billed as excluded.
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

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Kafka.ClientID == "" {
		c.Kafka.ClientID = "resolver"
	}
	if c.Kafka.SessionTimeout == 0 {
		c.Kafka.SessionTimeout = 10 * time.Second
	}
	if c.Kafka.TransactionTimeout == 0 {
		c.Kafka.TransactionTimeout = 10 * time.Second
	}
	if c.Kafka.RetryBackoff == 0 {
		c.Kafka.RetryBackoff = 2 * time.Second
	}
	d := DefaultTopics()
	for _, p := range []struct {
		dst *string
		def string
	}{
		{&c.Topics.Raw, d.Raw}, {&c.Topics.Person, d.Person}, {&c.Topics.DeadLetter, d.DeadLetter},
		{&c.Topics.IdentityLog, d.IdentityLog}, {&c.Topics.Persons, d.Persons}, {&c.Topics.DistinctIDs, d.DistinctIDs},
		{&c.Topics.Warnings, d.Warnings}, {&c.Topics.Billing, d.Billing},
	} {
		if *p.dst == "" {
			*p.dst = p.def
		}
	}
	if c.Group == "" {
		c.Group = "resolver"
	}
	if c.TransactionalID == "" {
		c.TransactionalID = c.Group + "-txn"
	}
	if c.TopicPartitions == 0 {
		c.TopicPartitions = 8
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = -1
	}
	if c.MaxBatchRecords == 0 {
		c.MaxBatchRecords = 2000
	}
	if c.Workers == 0 {
		c.Workers = 1
	}
	if c.MaxEventBytes == 0 {
		c.MaxEventBytes = 1 << 20
	}
	if c.MaxMergeMove == 0 {
		c.MaxMergeMove = 10000
	}
	if c.MaxRecordBytes == 0 {
		c.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if c.MaxPersonPropertiesBytes == 0 {
		c.MaxPersonPropertiesBytes = unionfind.DefaultMaxPersonPropertiesBytes
	}
	if c.OutboxTrimInterval == 0 {
		c.OutboxTrimInterval = 30 * time.Second
	}
	if c.ReadyMaxLag == 0 {
		c.ReadyMaxLag = DefaultReadyMaxLag
	}
	if c.LagInterval == 0 {
		c.LagInterval = DefaultLagInterval(c.ReadyMaxLag)
	}
	return c
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
