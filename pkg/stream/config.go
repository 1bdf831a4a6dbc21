package stream

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/internal/hostport"
	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/event"
	"github.com/resolver-dev/resolver/pkg/shred"
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
	Commands    string // admin lifecycle commands: delete, split (identity_commands)
	Merges      string // lineage rows (person_merges)
	Keys        string // data keys of property values, compacted (identity_keys)
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
		Commands:    "identity_commands",
		Merges:      "person_merges",
		Keys:        "identity_keys",
	}
}

// All returns every topic name, input first.
func (t Topics) All() []string {
	return []string{t.Raw, t.Person, t.DeadLetter, t.IdentityLog, t.Persons, t.DistinctIDs, t.Warnings, t.Billing, t.Commands, t.Merges, t.Keys}
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
	// Compression of the batches produced to the internal topics
	// (identity_log, identity_keys, identity_commands): ParseCompression;
	// "" is snappy. Default snappy.
	Compression string
	// OutputCompression is output.compression: the codec of the batches
	// the worker sessions produce, which is every output topic
	// (events_person, events_dead_letter, persons, person_distinct_ids,
	// ingestion_warnings, billing_usage, person_merges) and the erasure
	// tombstones they write to identity_keys. franz-go compresses per
	// client, and a worker writes a batch's records to all of those topics
	// in one transaction, hence with one producer: one codec for all of
	// them. Default "none", which every Kafka client reads without a codec
	// library (kafkajs has no snappy, kafka-python needs python-snappy).
	OutputCompression string
	// ClientHooks, when not nil, is called for every client ClientOpts
	// configures, with the client's name (worker, ops, keys, admin, ...);
	// the hooks it returns become that client's (kgo.WithHooks): how
	// internal/metrics sees the clients. Not a config key. Default nil.
	ClientHooks func(name string) []kgo.Hook
	// GroupProtocol is the consumer group protocol of the worker sessions
	// (ParseGroupProtocol): GroupProtocolClassic or GroupProtocolConsumer
	// (KIP-848). "" is DefaultGroupProtocol.
	GroupProtocol string
}

// Config is everything the pipeline needs, typed (cmd/resolver reads it
// from viper and converts it). DefaultConfig has every default, WithDefaults
// fills a zero field from it, and Validate is the one check of the values,
// each error naming the config key a value is read from.
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
	TopicPartitions int
	// ReplicationFactor of created topics; -1 is the broker default.
	ReplicationFactor int
	// MaxBatchRecords bounds one poll (the records of all the worker's
	// partitions together), hence one transaction. Default 2500, with the
	// default two workers (Workers): each batch pays fixed round trips
	// (its identity ops, the applier's wait, the flush, the commit) and one
	// commit marker per partition it wrote, so larger batches spend less
	// per event (BENCHMARKS.md, target 1, "Larger batches"), but each
	// worker holds its batch: two of 2500 keep the memory of one of 5000
	// (BENCHMARKS.md, target 1, eighth stop); a poll's bytes are bounded
	// by the client's fetch sizes whatever the count, and its stamped
	// events' (which carry their person's properties) by stampBudget.
	MaxBatchRecords int
	// Workers is the number of partition-worker sessions of the instance
	// (stream.workers): each is a member of the group with its own
	// transactional id (TransactionalID, then TransactionalID-w1, -w2, …),
	// so while one waits on the identity log or its commit another
	// decodes and stamps. Default 2 (configs/resolver.yaml says why).
	Workers int
	// MaxEventBytes is input.max_event_bytes. Default 1 MiB.
	MaxEventBytes int
	// MaxBatchBytes is input.max_batch_bytes: the most a fetched record
	// batch of the input may decompress to (boundedDecompressor). Default
	// DefaultMaxBatchBytes; at least MinMaxBatchBytes.
	MaxBatchBytes int
	// MaxCompressionRatio is input.max_compression_ratio: the most times
	// its compressed size a fetched record batch of the input may
	// decompress to (boundedDecompressor). Default
	// DefaultMaxCompressionRatio; at least 2.
	MaxCompressionRatio int
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
	// MasterKey is identity.master_key: 64 hex characters (shred.ParseMasterKey)
	// that wrap the data keys written to identity_keys, or "" to write them
	// unwrapped (docs/SEMANTICS.md §8). Every instance must use the same.
	MasterKey string
	// PlaintextValues logs property values unsealed: no data keys, no
	// encryption, so a deletion cannot erase them from identity_log. Only
	// for `resolver bench --plaintext-values`, which measures what sealing
	// costs; it is not a config key.
	PlaintextValues bool
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
			OutputCompression:  "none",
			GroupProtocol:      DefaultGroupProtocol,
		},
		Topics:                   DefaultTopics(),
		Group:                    "resolver",
		TopicPartitions:          8,
		ReplicationFactor:        -1,
		MaxBatchRecords:          2500,
		Workers:                  2,
		MaxEventBytes:            event.DefaultMaxEventBytes,
		MaxBatchBytes:            DefaultMaxBatchBytes,
		MaxCompressionRatio:      DefaultMaxCompressionRatio,
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
// broker.Config.SessionTimeout.
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
	setDefault(&c.Kafka.OutputCompression, d.Kafka.OutputCompression)
	setDefault(&c.Kafka.GroupProtocol, d.Kafka.GroupProtocol)
	setDefault(&c.Topics.Raw, d.Topics.Raw)
	setDefault(&c.Topics.Person, d.Topics.Person)
	setDefault(&c.Topics.DeadLetter, d.Topics.DeadLetter)
	setDefault(&c.Topics.IdentityLog, d.Topics.IdentityLog)
	setDefault(&c.Topics.Persons, d.Topics.Persons)
	setDefault(&c.Topics.DistinctIDs, d.Topics.DistinctIDs)
	setDefault(&c.Topics.Warnings, d.Topics.Warnings)
	setDefault(&c.Topics.Billing, d.Topics.Billing)
	setDefault(&c.Topics.Commands, d.Topics.Commands)
	setDefault(&c.Topics.Merges, d.Topics.Merges)
	setDefault(&c.Topics.Keys, d.Topics.Keys)
	setDefault(&c.Group, d.Group)
	setDefault(&c.TransactionalID, c.Group+"-txn")
	setDefault(&c.TopicPartitions, d.TopicPartitions)
	setDefault(&c.ReplicationFactor, d.ReplicationFactor)
	setDefault(&c.MaxBatchRecords, d.MaxBatchRecords)
	setDefault(&c.Workers, d.Workers)
	setDefault(&c.MaxEventBytes, d.MaxEventBytes)
	setDefault(&c.MaxBatchBytes, d.MaxBatchBytes)
	setDefault(&c.MaxCompressionRatio, d.MaxCompressionRatio)
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

// Validate reports every invalid value of c, each as a *ConfigError naming
// its config key, joined; nil if c is valid. It checks c as it will run: a
// zero field is invalid where its default is not (apply WithDefaults first,
// as New and Rebuild do). Kafka.Brokers may be empty — cmd/resolver
// validates before the embedded broker listens — but New and Rebuild
// refuse to run without a broker; Kafka.TLS, TransactionalID and Teams are
// the caller's to build and are not checked.
//
// This is the only check of these values: cmd/resolver reports its
// errors as its own, with the same keys.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, value any, reason string, args ...any) {
		errs = append(errs, &ConfigError{Key: key, Value: value, Reason: fmt.Sprintf(reason, args...)})
	}

	// kafka
	k := c.Kafka
	for i, b := range k.Brokers {
		if err := hostport.Check(b, false); err != nil {
			bad(fmt.Sprintf("kafka.brokers[%d]", i), b, "%v", err)
		}
	}
	if k.ClientID == "" {
		bad("kafka.client_id", k.ClientID, "must not be empty")
	}
	if c.Group == "" {
		bad("kafka.group", c.Group, "must not be empty")
	}
	if c.TopicPartitions < 1 {
		bad("kafka.topic_partitions", c.TopicPartitions, "must be at least 1")
	} else if c.TopicPartitions > math.MaxInt32 {
		bad("kafka.topic_partitions", c.TopicPartitions, "must be at most %d", math.MaxInt32)
	}
	if c.ReplicationFactor != -1 && (c.ReplicationFactor < 1 || c.ReplicationFactor > math.MaxInt16) {
		bad("kafka.replication_factor", c.ReplicationFactor, "must be -1 (broker default) or between 1 and %d", math.MaxInt16)
	}
	if k.SessionTimeout <= 0 {
		bad("kafka.session_timeout", k.SessionTimeout, "must be positive")
	}
	if k.TransactionTimeout < minTransactionTimeout || k.TransactionTimeout > maxTransactionTimeout {
		bad("kafka.transaction_timeout", k.TransactionTimeout, "must be between 1s and 15m (Kafka's transaction.max.timeout.ms default)")
	}
	if _, err := ParseGroupProtocol(k.GroupProtocol); err != nil || k.GroupProtocol == "" {
		bad("kafka.group_protocol", k.GroupProtocol, "must be one of %s", strings.Join(GroupProtocols, ", "))
	}
	if k.RetryBackoff <= 0 {
		bad("kafka.retry_backoff_max", k.RetryBackoff, "must be positive")
	}
	if _, err := ParseCompression(k.Compression); err != nil {
		bad("kafka.compression", k.Compression, "must be one of %s", strings.Join(Compressions, ", "))
	}
	if _, err := ParseCompression(k.OutputCompression); err != nil || k.OutputCompression == "" {
		bad("output.compression", k.OutputCompression, "must be one of %s", strings.Join(Compressions, ", "))
	}
	switch k.SASL.Mechanism {
	case "":
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if k.SASL.User == "" {
			bad("kafka.sasl.user", k.SASL.User, "must be set when kafka.sasl.mechanism is %s", k.SASL.Mechanism)
		}
	default:
		bad("kafka.sasl.mechanism", k.SASL.Mechanism, "must be one of \"\", PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")
	}

	// topics
	seen := map[string]string{}
	for _, t := range c.Topics.keyed() {
		if err := checkTopicName(t.name); err != nil {
			bad(t.key, t.name, "%v", err)
			continue
		}
		if other, dup := seen[t.name]; dup {
			bad(t.key, t.name, "same topic as %s", other)
			continue
		}
		seen[t.name] = t.key
	}

	// limits
	if c.MaxMergeMove < 1 {
		bad("identity.max_merge_move", c.MaxMergeMove, "must be at least 1")
	}
	// A sanity range: the smallest holds a few small properties, the
	// largest is far above what a stamped event can carry under Kafka's
	// default 1 MB record limit (larger stamped events are dead-lettered
	// output_too_large).
	if c.MasterKey != "" {
		if _, err := shred.ParseMasterKey(c.MasterKey); err != nil {
			bad("identity.master_key", "(not shown)", "%s", err)
		}
	}
	if n := c.MaxPersonPropertiesBytes; n < minPersonPropertiesBytes || n > maxPersonPropertiesBytes {
		bad("identity.max_person_properties_bytes", n, "must be between %d and %d", minPersonPropertiesBytes, maxPersonPropertiesBytes)
	}
	if c.MaxEventBytes < 1 {
		bad("input.max_event_bytes", c.MaxEventBytes, "must be at least 1")
	}
	if c.MaxBatchBytes < MinMaxBatchBytes || c.MaxBatchBytes > maxMaxBatchBytes {
		bad("input.max_batch_bytes", c.MaxBatchBytes, "must be between %d and %d", MinMaxBatchBytes, maxMaxBatchBytes)
	}
	if c.MaxCompressionRatio < 2 || c.MaxCompressionRatio > maxCompressionRatio {
		bad("input.max_compression_ratio", c.MaxCompressionRatio, "must be between 2 and %d", maxCompressionRatio)
	}
	if c.MaxRecordBytes < MinMaxRecordBytes || c.MaxRecordBytes > maxMaxRecordBytes {
		bad("output.max_record_bytes", c.MaxRecordBytes, "must be between %d and %d", MinMaxRecordBytes, maxMaxRecordBytes)
	}
	if c.Workers < 1 || c.Workers > maxWorkers {
		bad("stream.workers", c.Workers, "must be between 1 and %d", maxWorkers)
	}
	if c.MaxBatchRecords < 1 {
		bad("stream.max_batch_records", c.MaxBatchRecords, "must be at least 1")
	}
	if c.OutboxTrimInterval <= 0 {
		bad("stream.outbox_trim_interval", c.OutboxTrimInterval, "must be positive")
	}

	// billing
	for i, e := range c.ExcludedEvents {
		if e == "" {
			bad(fmt.Sprintf("billing.excluded_events[%d]", i), e, "must not be empty")
		}
	}

	// readiness
	if c.ReadyMaxLag < minReadyMaxLag {
		bad("readiness.max_lag", c.ReadyMaxLag, "must be at least %s", minReadyMaxLag)
	} else if c.LagInterval <= 0 || c.LagInterval >= c.ReadyMaxLag {
		// Not a key: DefaultLagInterval of readiness.max_lag, unless a
		// test sets it.
		bad("LagInterval", c.LagInterval, "must be positive and shorter than readiness.max_lag (%s): the lag is measured once an interval", c.ReadyMaxLag)
	}

	return errors.Join(errs...)
}

// validateToRun is Validate, and a broker to run against.
func (c Config) validateToRun() error {
	if len(c.Kafka.Brokers) == 0 {
		return &ConfigError{Key: "kafka.brokers", Value: c.Kafka.Brokers, Reason: "no broker address"}
	}
	return c.Validate()
}

// Bounds of the values Validate checks against constants.
const (
	// minReadyMaxLag is the least readiness.max_lag: the lag is measured
	// every max_lag/4 (DefaultLagInterval), one end-offset listing each
	// time.
	minReadyMaxLag = 200 * time.Millisecond

	// minTransactionTimeout and maxTransactionTimeout bound
	// kafka.transaction_timeout: at most Kafka's default
	// transaction.max.timeout.ms, which a broker refuses to exceed.
	minTransactionTimeout = time.Second
	maxTransactionTimeout = 15 * time.Minute

	// minPersonPropertiesBytes and maxPersonPropertiesBytes bound
	// identity.max_person_properties_bytes.
	minPersonPropertiesBytes = 64
	maxPersonPropertiesBytes = 16 << 20

	// maxWorkers bounds stream.workers.
	maxWorkers = 64
)

// keyedTopic is a topic name and the config key it is read from.
type keyedTopic struct{ key, name string }

// keyed returns every topic name with its config key, input first.
func (t Topics) keyed() []keyedTopic {
	return []keyedTopic{
		{"topics.raw", t.Raw}, {"topics.person", t.Person}, {"topics.dead_letter", t.DeadLetter},
		{"topics.identity_log", t.IdentityLog}, {"topics.persons", t.Persons}, {"topics.distinct_ids", t.DistinctIDs},
		{"topics.warnings", t.Warnings}, {"topics.billing", t.Billing},
		{"topics.commands", t.Commands}, {"topics.person_merges", t.Merges}, {"topics.identity_keys", t.Keys},
	}
}

// checkTopicName applies Kafka's rules for topic names.
func checkTopicName(name string) error {
	switch {
	case name == "":
		return errors.New("must not be empty")
	case name == "." || name == "..":
		return errors.New("is not a valid topic name")
	case len(name) > 249:
		return errors.New("is longer than 249 characters")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("has %q; topic names allow only letters, digits, '.', '_' and '-'", r)
		}
	}
	return nil
}
