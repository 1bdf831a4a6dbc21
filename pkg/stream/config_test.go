package stream

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/broker"
	"github.com/resolver-dev/resolver/pkg/billing"
)

// TestWithDefaultsIsDefaultConfig: a zero Config gets exactly
// DefaultConfig's values, and the transactional id derived from the group.
func TestWithDefaultsIsDefaultConfig(t *testing.T) {
	want := DefaultConfig()
	want.TransactionalID = "resolver-txn"
	assert.Equal(t, want, Config{}.WithDefaults())
	assert.Equal(t, billing.DefaultExcludedEvents(), want.ExcludedEvents)
	assert.Equal(t, DefaultLagInterval(want.ReadyMaxLag), want.LagInterval)
}

// TestWithDefaultsKeepsSetFields: a field that is set is kept; the lag
// interval follows the configured readiness.max_lag, not the default one.
func TestWithDefaultsKeepsSetFields(t *testing.T) {
	c := Config{
		Kafka:              Kafka{ClientID: "c", SessionTimeout: 6 * time.Second, Compression: "zstd", GroupProtocol: GroupProtocolClassic},
		Topics:             Topics{Raw: "in"},
		Group:              "g",
		TopicPartitions:    3,
		ReplicationFactor:  2,
		Workers:            4,
		ExcludedEvents:     []string{},
		OutboxTrimInterval: time.Second,
		ReadyMaxLag:        time.Second,
	}.WithDefaults()
	assert.Equal(t, "c", c.Kafka.ClientID)
	assert.Equal(t, 6*time.Second, c.Kafka.SessionTimeout)
	assert.Equal(t, "zstd", c.Kafka.Compression)
	assert.Equal(t, GroupProtocolClassic, c.Kafka.GroupProtocol)
	assert.Equal(t, "in", c.Topics.Raw)
	assert.Equal(t, DefaultTopics().Person, c.Topics.Person)
	assert.Equal(t, "g-txn", c.TransactionalID)
	assert.Equal(t, 3, c.TopicPartitions)
	assert.Equal(t, 2, c.ReplicationFactor)
	assert.Equal(t, 4, c.Workers)
	assert.Equal(t, []string{}, c.ExcludedEvents, "an empty list excludes nothing; only nil is the default list")
	assert.Equal(t, time.Second, c.OutboxTrimInterval)
	assert.Equal(t, 250*time.Millisecond, c.LagInterval)
}

func TestDefaultConfigIsValid(t *testing.T) {
	assert.NoError(t, DefaultConfig().Validate())
	assert.NoError(t, Config{}.WithDefaults().Validate())
}

// TestValidate: every rule rejects its bad value with a *ConfigError that
// names the key as configs/resolver.yaml has it (cmd/resolver reports it
// under that key: its TestValidate pins the whole messages).
func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		key  string
		msg  string
	}{
		{"broker", func(c *Config) { c.Kafka.Brokers = []string{"a:1", "kafka1"} }, "kafka.brokers[1]", `stream: kafka.brokers[1]: "kafka1": must be host:port`},
		{"client id", func(c *Config) { c.Kafka.ClientID = "" }, "kafka.client_id", `stream: kafka.client_id: "": must not be empty`},
		{"group", func(c *Config) { c.Group = "" }, "kafka.group", `stream: kafka.group: "": must not be empty`},
		{"partitions", func(c *Config) { c.TopicPartitions = 0 }, "kafka.topic_partitions", "stream: kafka.topic_partitions: 0: must be at least 1"},
		{"partitions over int32", func(c *Config) { c.TopicPartitions = 1 << 31 }, "kafka.topic_partitions", "stream: kafka.topic_partitions: 2147483648: must be at most 2147483647"},
		{"replication", func(c *Config) { c.ReplicationFactor = 1 << 15 }, "kafka.replication_factor", "stream: kafka.replication_factor: 32768: must be -1 (broker default) or between 1 and 32767"},
		{"session timeout", func(c *Config) { c.Kafka.SessionTimeout = 0 }, "kafka.session_timeout", "stream: kafka.session_timeout: 0s: must be positive"},
		{"transaction timeout", func(c *Config) { c.Kafka.TransactionTimeout = 16 * time.Minute }, "kafka.transaction_timeout", "stream: kafka.transaction_timeout: 16m0s: must be between 1s and 15m (Kafka's transaction.max.timeout.ms default)"},
		{"group protocol", func(c *Config) { c.Kafka.GroupProtocol = "" }, "kafka.group_protocol", `stream: kafka.group_protocol: "": must be one of classic, consumer`},
		{"retry backoff", func(c *Config) { c.Kafka.RetryBackoff = 0 }, "kafka.retry_backoff_max", "stream: kafka.retry_backoff_max: 0s: must be positive"},
		{"compression", func(c *Config) { c.Kafka.Compression = "brotli" }, "kafka.compression", `stream: kafka.compression: "brotli": must be one of none, snappy, lz4, zstd, gzip`},
		{"sasl mechanism", func(c *Config) { c.Kafka.SASL.Mechanism = "GSSAPI" }, "kafka.sasl.mechanism", `stream: kafka.sasl.mechanism: "GSSAPI": must be one of "", PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`},
		{"sasl user", func(c *Config) { c.Kafka.SASL.Mechanism = "PLAIN" }, "kafka.sasl.user", `stream: kafka.sasl.user: "": must be set when kafka.sasl.mechanism is PLAIN`},
		{"topic name", func(c *Config) { c.Topics.Raw = "events raw" }, "topics.raw", `stream: topics.raw: "events raw": has ' '; topic names allow only letters, digits, '.', '_' and '-'`},
		{"topic twice", func(c *Config) { c.Topics.DeadLetter = c.Topics.Person }, "topics.dead_letter", `stream: topics.dead_letter: "events_person": same topic as topics.person`},
		{"merge move", func(c *Config) { c.MaxMergeMove = 0 }, "identity.max_merge_move", "stream: identity.max_merge_move: 0: must be at least 1"},
		{"master key", func(c *Config) { c.MasterKey = "not-hex-and-secret" }, "identity.master_key", `stream: identity.master_key: "(not shown)": shred: invalid master key: 18 characters, want 64 hex digits`},
		{"person properties", func(c *Config) { c.MaxPersonPropertiesBytes = 63 }, "identity.max_person_properties_bytes", "stream: identity.max_person_properties_bytes: 63: must be between 64 and 16777216"},
		{"event bytes", func(c *Config) { c.MaxEventBytes = 0 }, "input.max_event_bytes", "stream: input.max_event_bytes: 0: must be at least 1"},
		{"batch bytes", func(c *Config) { c.MaxBatchBytes = 4096 }, "input.max_batch_bytes", "stream: input.max_batch_bytes: 4096: must be between 1048576 and 1073741824"},
		{"batch bytes over kgo's", func(c *Config) { c.MaxBatchBytes = 2 << 30 }, "input.max_batch_bytes", "stream: input.max_batch_bytes: 2147483648: must be between 1048576 and 1073741824"},
		{"compression ratio", func(c *Config) { c.MaxCompressionRatio = 1 }, "input.max_compression_ratio", "stream: input.max_compression_ratio: 1: must be between 2 and 65536"},
		{"record bytes", func(c *Config) { c.MaxRecordBytes = 64<<20 + 1 }, "output.max_record_bytes", "must be between"},
		{"workers", func(c *Config) { c.Workers = 65 }, "stream.workers", "stream: stream.workers: 65: must be between 1 and 64"},
		{"batch", func(c *Config) { c.MaxBatchRecords = 0 }, "stream.max_batch_records", "stream: stream.max_batch_records: 0: must be at least 1"},
		{"trim interval", func(c *Config) { c.OutboxTrimInterval = -time.Second }, "stream.outbox_trim_interval", "stream: stream.outbox_trim_interval: -1s: must be positive"},
		{"excluded event", func(c *Config) { c.ExcludedEvents = []string{"a", ""} }, "billing.excluded_events[1]", `stream: billing.excluded_events[1]: "": must not be empty`},
		{"max lag", func(c *Config) { c.ReadyMaxLag = 100 * time.Millisecond }, "readiness.max_lag", "stream: readiness.max_lag: 100ms: must be at least 200ms"},
		{"lag interval", func(c *Config) { c.LagInterval = c.ReadyMaxLag }, "LagInterval", "stream: LagInterval: 2s: must be positive and shorter than readiness.max_lag (2s): the lag is measured once an interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			require.Error(t, err)
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "not a *ConfigError: %v", err)
			assert.Equal(t, tt.key, ce.Key)
			assert.Contains(t, err.Error(), tt.msg)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.Len(t, strings.Split(err.Error(), "\n"), 1, "one problem, one error")
			assert.NotContains(t, err.Error(), "secret", "a secret is never in an error")
		})
	}
}

// TestValidateReportsAll: every problem at once, in the order of the keys.
func TestValidateReportsAll(t *testing.T) {
	err := Config{}.Validate()
	require.Error(t, err)
	var keys []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *ConfigError
		require.True(t, errors.As(e, &ce), "%v", e)
		keys = append(keys, ce.Key)
	}
	assert.Equal(t, []string{
		"kafka.client_id", "kafka.group", "kafka.topic_partitions", "kafka.replication_factor",
		"kafka.session_timeout", "kafka.transaction_timeout", "kafka.group_protocol", "kafka.retry_backoff_max", "output.compression",
		"topics.raw", "topics.person", "topics.dead_letter", "topics.identity_log", "topics.persons",
		"topics.distinct_ids", "topics.warnings", "topics.billing", "topics.commands", "topics.person_merges", "topics.identity_keys",
		"identity.max_merge_move", "identity.max_person_properties_bytes", "input.max_event_bytes",
		"input.max_batch_bytes", "input.max_compression_ratio", "output.max_record_bytes", "stream.workers", "stream.max_batch_records", "stream.outbox_trim_interval",
		"readiness.max_lag",
	}, keys, "a zero Config is invalid where a default is not zero: WithDefaults comes first")
}

// TestValidateToRun: Validate admits no brokers (cmd/resolver validates
// before the embedded broker listens); New refuses to run without one.
func TestValidateToRun(t *testing.T) {
	c := DefaultConfig()
	require.NoError(t, c.Validate())
	_, err := New(c, nil, nil)
	var ce *ConfigError
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, "kafka.brokers", ce.Key)
	assert.EqualError(t, err, "stream: kafka.brokers: []: no broker address")
}

// TestBrokerSessionDefault: the embedded broker's default session timeout
// is kafka.session_timeout's.
func TestBrokerSessionDefault(t *testing.T) {
	assert.Equal(t, DefaultConfig().Kafka.SessionTimeout, broker.DefaultSessionTimeout)
}
