package main

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/resolver-dev/resolver/internal/admin"
	"github.com/resolver-dev/resolver/internal/broker"
	"github.com/resolver-dev/resolver/internal/hostport"
	"github.com/resolver-dev/resolver/internal/metrics"
	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// Config is the whole configuration of the resolver: one field per key of
// configs/resolver.yaml, which documents each one. Only this package reads
// it (through viper, see load.go); the packages below get typed values, for
// the pipeline through ToStream.
//
// Every field's default is in defaultConfig, which takes each key that
// reaches a package from that package (stream.DefaultConfig, ...); tests
// keep the YAML file and the README's key table equal to it. Validate
// checks every value once, leaving a package's keys to that package's
// Validate (stream.Config, admin.Config, billing's tiers).
type Config struct {
	Kafka    KafkaConfig    `mapstructure:"kafka"`
	Topics   TopicsConfig   `mapstructure:"topics"`
	State    StateConfig    `mapstructure:"state"`
	Identity IdentityConfig `mapstructure:"identity"`
	Teams    TeamsConfig    `mapstructure:"teams"`
	Input    InputConfig    `mapstructure:"input"`
	Output   OutputConfig   `mapstructure:"output"`
	Stream   StreamConfig   `mapstructure:"stream"`
	Billing  BillingConfig  `mapstructure:"billing"`
	Log      LogConfig      `mapstructure:"log"`
	Admin    AdminConfig    `mapstructure:"admin"`

	Readiness ReadinessConfig `mapstructure:"readiness"`
}

// KafkaConfig is how to reach the cluster, or how to run the embedded one.
type KafkaConfig struct {
	// Brokers are host:port seed addresses. Empty: start the embedded broker.
	Brokers  []string       `mapstructure:"brokers"`
	Embedded EmbeddedConfig `mapstructure:"embedded"`
	// ClientID prefixes the client id of every Kafka client. Default "resolver".
	ClientID string `mapstructure:"client_id"`
	// Group is the consumer group of the partition workers. Default "resolver".
	Group string `mapstructure:"group"`
	// InstanceID names this instance in its transactional id; it must be
	// stable across restarts and unique among instances. Default "": derived
	// from the hostname and the absolute state.dir (see InstanceID).
	InstanceID string `mapstructure:"instance_id"`
	// TopicPartitions is the partition count of topics created when missing.
	// Default 8.
	TopicPartitions int `mapstructure:"topic_partitions"`
	// ReplicationFactor of created topics; -1 is the broker's default.
	ReplicationFactor int `mapstructure:"replication_factor"`
	// SessionTimeout of the consumer group. Default 10s. Under the consumer
	// group protocol it is the broker's setting: the embedded broker takes
	// it from here, an external cluster from its own config.
	SessionTimeout time.Duration `mapstructure:"session_timeout"`
	// TransactionTimeout is how long the broker lets a worker's batch
	// transaction stay open before it aborts it and fences the producer.
	// An open transaction holds back every read_committed reader of the
	// partitions it wrote to, so a zombie (an instance cut off mid-batch)
	// stalls the outputs for at most this long. Default 10s, as Kafka
	// Streams' exactly-once default.
	TransactionTimeout time.Duration `mapstructure:"transaction_timeout"`
	// GroupProtocol is the consumer group protocol of the partition
	// workers: classic (JoinGroup/SyncGroup, a member assigns) or consumer
	// (KIP-848, the broker assigns; Kafka 4.0+ or the embedded broker).
	// Default stream.DefaultGroupProtocol.
	GroupProtocol string `mapstructure:"group_protocol"`
	// RetryBackoffMax caps the backoff between retries to an unreachable
	// broker. Default 2s.
	RetryBackoffMax time.Duration `mapstructure:"retry_backoff_max"`
	// Compression of the batches the resolver produces to its internal
	// topics (identity_log, identity_keys, identity_commands): none,
	// snappy, lz4, zstd or gzip. Default snappy. The outputs have
	// output.compression.
	Compression string     `mapstructure:"compression"`
	SASL        SASLConfig `mapstructure:"sasl"`
	TLS         TLSConfig  `mapstructure:"tls"`
}

// EmbeddedConfig configures the in-process kfake broker used when
// kafka.brokers is empty.
type EmbeddedConfig struct {
	// Listen is host:port. Default 127.0.0.1:9092; port 0 picks a free one.
	Listen string `mapstructure:"listen"`
	// SyncWrites fsyncs every batch the broker stores. Default false.
	SyncWrites bool `mapstructure:"sync_writes"`
}

// SASLConfig is SASL authentication to an external cluster.
type SASLConfig struct {
	// Mechanism is "" (none), PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string `mapstructure:"mechanism"`
	User      string `mapstructure:"user"`
	Password  string `mapstructure:"password"`
}

// TLSConfig is TLS to an external cluster.
type TLSConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// CAFile is a PEM bundle of the CAs to trust; "" is the system pool.
	CAFile string `mapstructure:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and key (mutual TLS);
	// both or neither.
	CertFile           string `mapstructure:"cert_file"`
	KeyFile            string `mapstructure:"key_file"`
	InsecureSkipVerify bool   `mapstructure:"insecure_skip_verify"`
}

// TopicsConfig are the topic names (docs/DESIGN.md, Topics), the fields of
// stream.Topics with the keys' tags, and the prefix of them all.
type TopicsConfig struct {
	// Prefix is prepended to every topic name below (PostHog's
	// KAFKA_PREFIX), so that several deployments can share a cluster.
	// Letters, digits, '.', '_' and '-' only; each prefixed name at most
	// 249 characters. Default "".
	Prefix      string `mapstructure:"prefix"`
	Raw         string `mapstructure:"raw"`
	Person      string `mapstructure:"person"`
	DeadLetter  string `mapstructure:"dead_letter"`
	IdentityLog string `mapstructure:"identity_log"`
	Persons     string `mapstructure:"persons"`
	DistinctIDs string `mapstructure:"distinct_ids"`
	Warnings    string `mapstructure:"warnings"`
	Billing     string `mapstructure:"billing"`
	Commands    string `mapstructure:"commands"`
	Merges      string `mapstructure:"person_merges"`
	Keys        string `mapstructure:"identity_keys"`
}

// StateConfig is the local Badger replica.
type StateConfig struct {
	// Dir holds identity/ (Badger) and, with the embedded broker, broker/.
	// Default ./data.
	Dir string `mapstructure:"dir"`
	// CacheBytes bounds the in-memory cache of distinct_id lookups in front
	// of Badger, in bytes. Default 64 MiB; 0 is the store's default,
	// negative disables the cache.
	CacheBytes int64 `mapstructure:"cache_bytes"`
	// SyncWrites fsyncs every Badger commit. Default false.
	SyncWrites bool `mapstructure:"sync_writes"`
	// MinFreeBytes is the floor of free space on the filesystem of Dir, in
	// bytes: below it run refuses to start, and a running instance turns
	// not ready and stops with a state.DiskFullError before Badger's mmap
	// writes can fault. Default 1 GiB; 0 disables the check.
	MinFreeBytes int64 `mapstructure:"min_free_bytes"`
	// ValueLogGCInterval is how often Badger's value log is
	// garbage-collected. Default 10m; 0 disables value log GC.
	ValueLogGCInterval time.Duration `mapstructure:"value_log_gc_interval"`
	// ValueLogGCDiscardRatio is the share of garbage at which a value log
	// file is rewritten, in (0, 1). Default 0.5 (state.DefaultGCDiscardRatio).
	ValueLogGCDiscardRatio float64 `mapstructure:"value_log_gc_discard_ratio"`
	// Compression is how Badger compresses the table blocks it writes from
	// now on: none (default) or zstd (state.Options.Compression).
	// Existing tables keep theirs until compactions rewrite them.
	Compression string `mapstructure:"compression"`
	// BlockBytes is the size of the table blocks Badger writes from now
	// on, in bytes (state.Options.BlockBytes). Default 4096.
	BlockBytes int `mapstructure:"block_bytes"`
}

// IdentityConfig are limits of the identity rules.
type IdentityConfig struct {
	// MaxMergeMove bounds the distinct_ids one merge relabels. Default 10000.
	MaxMergeMove int `mapstructure:"max_merge_move"`
	// MaxPersonPropertiesBytes bounds a person's properties as JSON, in
	// bytes (docs/SEMANTICS.md §5, "Size cap"): a $set/$set_once key, or a key
	// of an absorbed person, that would pass it is not written, with a
	// person_properties_size_violation warning. Default 524288 (512 KiB).
	// Every instance must use the same value: it decides identity state.
	MaxPersonPropertiesBytes int `mapstructure:"max_person_properties_bytes"`
	// MasterKey wraps the data keys of property values on identity_keys
	// (64 hex characters; "" stores them unwrapped). A secret: set it in
	// the environment (RESOLVER_IDENTITY_MASTER_KEY), the same everywhere.
	MasterKey string `mapstructure:"master_key"`
}

// TeamsConfig is the optional trusted team map (docs/SEMANTICS.md §1).
type TeamsConfig struct {
	// File is a YAML or JSON file the operator owns mapping token → team
	// id (a string or a decimal integer), read at start and again on
	// SIGHUP. With it, a token in the map becomes its team id, a team id of
	// the map is kept, and any other team is dead-lettered unknown_team.
	// At most event.MaxTeamMapFileBytes (16 MiB) and
	// event.MaxTeamMapEntries (1,048,576) entries; tokens and team ids are
	// teams (at most 200 bytes, no control character). Default "": no map,
	// every team is accepted.
	File string `mapstructure:"file"`
}

// InputConfig are limits on input records.
type InputConfig struct {
	// MaxEventBytes is the largest accepted record, in bytes. Default 1 MiB.
	MaxEventBytes int `mapstructure:"max_event_bytes"`
	// MaxBatchBytes is the most a fetched record batch may decompress to.
	// Default 64 MiB.
	MaxBatchBytes int `mapstructure:"max_batch_bytes"`
	// MaxCompressionRatio is the most times its compressed size a fetched
	// record batch may decompress to. Default 64.
	MaxCompressionRatio int `mapstructure:"max_compression_ratio"`
}

// OutputConfig are limits on the records the resolver produces.
type OutputConfig struct {
	// MaxRecordBytes is the most bytes (key, value and headers) of any
	// record the resolver produces: a stamped event or identity op over it
	// sends its input record to the dead letters as output_too_large, and a
	// dead letter over it is cut (docs/SEMANTICS.md §6). Keep it under the output
	// topics' max.message.bytes. Default 1,000,000.
	MaxRecordBytes int `mapstructure:"max_record_bytes"`
	// Compression of the batches produced to the output topics (every
	// topic a worker's transaction writes: events_person, the dead letters,
	// persons, person_distinct_ids, ingestion_warnings, billing_usage,
	// person_merges): none, snappy, lz4, zstd or gzip. Default none, which
	// every client reads without a codec (stream.Kafka.OutputCompression).
	Compression string `mapstructure:"compression"`
}

// StreamConfig tunes the pipeline.
type StreamConfig struct {
	// MaxBatchRecords bounds one poll, hence one transaction. Default 2500
	// (stream.Config.MaxBatchRecords says why).
	MaxBatchRecords int `mapstructure:"max_batch_records"`
	// Workers is the number of partition-worker sessions per instance, each
	// a group member with its own transaction. Default 2.
	Workers int `mapstructure:"workers"`
	// OutboxTrimInterval is how often the outbox is trimmed. Default 30s.
	OutboxTrimInterval time.Duration `mapstructure:"outbox_trim_interval"`
	// ShutdownTimeout bounds the whole shutdown after a signal. Default 30s.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
}

// BillingConfig configures metering and pricing (docs/SEMANTICS.md §7).
type BillingConfig struct {
	// ExcludedEvents are event names that are never billed.
	ExcludedEvents []string `mapstructure:"excluded_events"`
	// Tiers are the graduated prices of each billed class by class name
	// ("anonymous", "identified"): tiers in ascending order of up_to
	// (monthly events per team and class, inclusive), the last open-ended
	// (up_to 0 or absent), each with a unit_price in USD per event as a
	// decimal string. A class set in a config file replaces that class's
	// default list. Default: billing.DefaultPricing (docs/SEMANTICS.md §7).
	// Reports and simulations price with it; metering does not need it.
	Tiers billing.TierFile `mapstructure:"tiers"`
}

// LogConfig configures the zap logger.
type LogConfig struct {
	// Level is debug, info, warn or error. Default info.
	Level string `mapstructure:"level"`
	// Format is json, console, or "" for console on a terminal and json
	// otherwise. Default "".
	Format string `mapstructure:"format"`
	// Redact hashes distinct_ids where a log line or a logged error must
	// name one ("hmac:" and 16 hex digits, see internal/redact); false
	// prints them as is. Property values are never logged. Default true.
	Redact bool `mapstructure:"redact"`
	// RedactKey is the HMAC key of the hashes (internal/redact), at least
	// 16 bytes. Default "": a random key per process, so hashes correlate
	// only within one process's lifetime.
	RedactKey string `mapstructure:"redact_key"`
}

// AdminConfig is the admin HTTP server (metrics, health, lookups).
type AdminConfig struct {
	// Addr is host:port; "" disables the server (and the metrics). Default
	// 127.0.0.1:9464.
	Addr string `mapstructure:"addr"`
	// Token, when set, is required as a bearer token on every request but
	// /healthz. Default "". It must be set when Addr is not a loopback
	// address (Validate refuses such an Addr without it); no spaces.
	Token string `mapstructure:"token"`
	// MetricsTeamCap is how many distinct teams get their own team label on
	// the stamped-events metric; later teams count as "other". Default 100;
	// 0: no team label.
	MetricsTeamCap int `mapstructure:"metrics_team_cap"`
}

// ReadinessConfig is when /readyz (and resolver_ready) say ready.
type ReadinessConfig struct {
	// MaxLag is how far behind the end of identity_log the replica may be
	// and still be ready — at start-up (the workers join the group only
	// once within it) and at any time after. It is measured in time: ready
	// while the replica has applied every record the log held at some
	// moment at most MaxLag ago, judged against end offsets listed every
	// MaxLag/4 (at most 5s). Default 2s; at least 200ms.
	MaxLag time.Duration `mapstructure:"max_lag"`
}

// defaultConfig returns the built-in defaults, which configs/resolver.yaml
// repeats key for key. A key that reaches a package takes its default from
// that package (stream.DefaultConfig, billing, state, metrics); the literals
// here are the keys only this command has.
func defaultConfig() Config {
	s := stream.DefaultConfig()
	return Config{
		Kafka: KafkaConfig{
			Brokers:            []string{},
			Embedded:           EmbeddedConfig{Listen: broker.DefaultListen},
			ClientID:           s.Kafka.ClientID,
			Group:              s.Group,
			TopicPartitions:    s.TopicPartitions,
			ReplicationFactor:  s.ReplicationFactor,
			SessionTimeout:     s.Kafka.SessionTimeout,
			TransactionTimeout: s.Kafka.TransactionTimeout,
			GroupProtocol:      s.Kafka.GroupProtocol,
			RetryBackoffMax:    s.Kafka.RetryBackoff,
			Compression:        s.Kafka.Compression,
		},
		Topics: topicsConfig(s.Topics),
		State: StateConfig{
			Dir:                    "./data",
			CacheBytes:             state.DefaultCacheBytes,
			MinFreeBytes:           1 << 30,
			ValueLogGCInterval:     10 * time.Minute,
			ValueLogGCDiscardRatio: state.DefaultGCDiscardRatio,
			Compression:            string(state.CompressionNone),
			BlockBytes:             state.DefaultBlockBytes,
		},
		Identity: IdentityConfig{MaxMergeMove: s.MaxMergeMove, MaxPersonPropertiesBytes: s.MaxPersonPropertiesBytes},
		Input:    InputConfig{MaxEventBytes: s.MaxEventBytes, MaxBatchBytes: s.MaxBatchBytes, MaxCompressionRatio: s.MaxCompressionRatio},
		Output:   OutputConfig{MaxRecordBytes: s.MaxRecordBytes, Compression: s.Kafka.OutputCompression},
		Stream: StreamConfig{
			MaxBatchRecords:    s.MaxBatchRecords,
			Workers:            s.Workers,
			OutboxTrimInterval: s.OutboxTrimInterval,
			ShutdownTimeout:    30 * time.Second,
		},
		Billing: BillingConfig{
			ExcludedEvents: s.ExcludedEvents,                // billing.DefaultExcludedEvents, docs/SEMANTICS.md §7
			Tiers:          billing.DefaultPricing().Spec(), // prices in canonical form, see normalize
		},
		Log:   LogConfig{Level: "info", Redact: true},
		Admin: AdminConfig{Addr: "127.0.0.1:9464", MetricsTeamCap: metrics.DefaultTeamCap},

		Readiness: ReadinessConfig{MaxLag: s.ReadyMaxLag},
	}
}

// FieldError is one invalid config value. Its message names the key and the
// value: "config: kafka.topic_partitions: 0: must be at least 1".
type FieldError struct {
	Key    string // dotted key, e.g. kafka.topic_partitions
	Value  any    // the offending value
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("config: %s: %s: %s", e.Key, formatValue(e.Value), e.Reason)
}

func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	default:
		return fmt.Sprint(v)
	}
}

// normalize trims spaces around list entries, so that
// RESOLVER_KAFKA_BROKERS="a:1, b:2" means what it says, and writes every
// valid tier price in its canonical form (billing.FormatUSD: "0.0000500" is
// "0.00005"), so that equal prices compare equal; an invalid price is left
// as written for Validate to name.
func (c *Config) normalize() {
	for i, b := range c.Kafka.Brokers {
		c.Kafka.Brokers[i] = strings.TrimSpace(b)
	}
	for i, e := range c.Billing.ExcludedEvents {
		c.Billing.ExcludedEvents[i] = strings.TrimSpace(e)
	}
	for _, tiers := range c.Billing.Tiers {
		for i, t := range tiers {
			if p, err := billing.ParsePrice(t.UnitPrice); err == nil {
				tiers[i].UnitPrice = billing.FormatUSD(p)
			}
		}
	}
}

// Validate reports every invalid value, each as a *FieldError, joined, in
// the order of the file's sections.
//
// Each value is checked once, by its owner. The keys the pipeline takes
// are checked by stream.Config.Validate (on streamConfig, which converts
// without reading anything), whose *stream.ConfigError names the same key
// and carries the same value and reason as a *FieldError here; the tiers by
// billing (Pricing); admin.addr and admin.token by admin.Config.Validate.
// This function checks the rest: the keys only the command uses (state,
// log, the embedded broker, TLS files, the shutdown timeout, the metrics
// team cap) and how keys of two owners go together (SASL or TLS with the
// embedded broker).
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, value any, reason string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Value: value, Reason: fmt.Sprintf(reason, args...)})
	}
	// An invalid topics.prefix is reported once, as itself, not again in
	// every topic name it would spoil.
	unprefixed := c
	if _, ok := c.Topics.checkPrefix(); !ok {
		unprefixed.Topics.Prefix = ""
	}
	fromStream := fieldErrors(unprefixed.streamConfig().Validate())
	// section adds the pipeline's errors of a section, in front of the
	// command's own.
	section := func(name string) {
		rest := fromStream[:0]
		for _, fe := range fromStream {
			if sec, _, _ := strings.Cut(fe.Key, "."); sec == name {
				errs = append(errs, fe)
			} else {
				rest = append(rest, fe)
			}
		}
		fromStream = rest
	}

	section("kafka")
	k := c.Kafka
	if err := hostport.Check(k.Embedded.Listen, true); err != nil {
		bad("kafka.embedded.listen", k.Embedded.Listen, "%v", err)
	}
	if strings.ContainsFunc(k.InstanceID, isSpaceOrControl) {
		bad("kafka.instance_id", k.InstanceID, "must not contain spaces or control characters")
	}
	if k.SASL.Mechanism != "" && len(k.Brokers) == 0 {
		bad("kafka.sasl.mechanism", k.SASL.Mechanism, "needs kafka.brokers: the embedded broker has no SASL")
	}
	tc := k.TLS
	if tc.Enabled && len(k.Brokers) == 0 {
		bad("kafka.tls.enabled", tc.Enabled, "needs kafka.brokers: the embedded broker has no TLS")
	}
	for _, f := range []struct{ key, val string }{
		{"kafka.tls.ca_file", tc.CAFile}, {"kafka.tls.cert_file", tc.CertFile}, {"kafka.tls.key_file", tc.KeyFile},
	} {
		if f.val != "" && !tc.Enabled {
			bad(f.key, f.val, "is set but kafka.tls.enabled is false")
		}
	}
	if tc.InsecureSkipVerify && !tc.Enabled {
		bad("kafka.tls.insecure_skip_verify", tc.InsecureSkipVerify, "is set but kafka.tls.enabled is false")
	}
	if (tc.CertFile == "") != (tc.KeyFile == "") {
		if tc.CertFile == "" {
			bad("kafka.tls.cert_file", tc.CertFile, "must be set together with kafka.tls.key_file")
		} else {
			bad("kafka.tls.key_file", tc.KeyFile, "must be set together with kafka.tls.cert_file")
		}
	}

	if reason, ok := c.Topics.checkPrefix(); !ok {
		bad("topics.prefix", c.Topics.Prefix, "%s", reason)
	}
	section("topics")

	section("state")
	if c.State.Dir == "" {
		bad("state.dir", c.State.Dir, "must not be empty")
	}
	if c.State.MinFreeBytes < 0 {
		bad("state.min_free_bytes", c.State.MinFreeBytes, "must be at least 0 (0: no check)")
	}
	if c.State.ValueLogGCInterval < 0 {
		bad("state.value_log_gc_interval", c.State.ValueLogGCInterval, "must be at least 0 (0: no value log GC)")
	}
	if r := c.State.ValueLogGCDiscardRatio; !state.ValidGCDiscardRatio(r) {
		bad("state.value_log_gc_discard_ratio", r, "must be between 0 and 1, exclusive")
	}
	if !slices.Contains(state.Compressions, state.Compression(c.State.Compression)) {
		bad("state.compression", c.State.Compression, "must be none or zstd")
	}
	if b := c.State.BlockBytes; b < state.MinBlockBytes || b > state.MaxBlockBytes {
		bad("state.block_bytes", b, "must be between %d and %d", state.MinBlockBytes, state.MaxBlockBytes)
	}

	section("identity")
	section("teams")
	if f := c.Teams.File; f != "" && strings.ContainsFunc(f, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		bad("teams.file", f, "must not contain control characters")
	}
	section("input")
	section("output")
	section("stream")
	if c.Stream.ShutdownTimeout <= 0 {
		bad("stream.shutdown_timeout", c.Stream.ShutdownTimeout, "must be positive")
	}

	section("billing")
	if _, err := c.Pricing(); err != nil {
		errs = append(errs, err)
	}

	section("log")
	if _, err := zapcore.ParseLevel(c.Log.Level); err != nil || c.Log.Level == "" {
		bad("log.level", c.Log.Level, "must be one of debug, info, warn, error")
	}
	if c.Log.RedactKey != "" && len(c.Log.RedactKey) < minRedactKeyBytes {
		bad("log.redact_key", "(not shown)", "is %d bytes: a key must have at least %d (or be empty: a random key per process)", len(c.Log.RedactKey), minRedactKeyBytes)
	}
	switch c.Log.Format {
	case "", "json", "console":
	default:
		bad("log.format", c.Log.Format, "must be json, console or \"\" (console on a terminal, else json)")
	}

	section("admin")
	for _, fe := range fieldErrors(admin.Config{Addr: c.Admin.Addr, Token: c.Admin.Token}.Validate()) {
		if fe.Key == "admin.addr" && c.Admin.Addr == "" {
			continue // no admin server
		}
		errs = append(errs, fe)
	}
	if c.Admin.MetricsTeamCap < 0 {
		bad("admin.metrics_team_cap", c.Admin.MetricsTeamCap, "must be at least 0")
	}

	section("readiness")

	// Whatever the pipeline reported outside these sections (a key the
	// command does not have: a bug) is reported all the same.
	for _, fe := range fromStream {
		errs = append(errs, fe)
	}
	return errors.Join(errs...)
}

// fieldErrors turns a package's config errors (*stream.ConfigError,
// *admin.ConfigError; one, or several joined) into this package's
// *FieldError: key, value and reason unchanged. Any other error (the
// packages' Validate return none) becomes a *FieldError of its own message,
// so that it is still reported as a config error.
func fieldErrors(err error) []*FieldError {
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	out := make([]*FieldError, 0, len(errs))
	for _, e := range errs {
		var se *stream.ConfigError
		var ae *admin.ConfigError
		switch {
		case errors.As(e, &se):
			out = append(out, &FieldError{Key: se.Key, Value: se.Value, Reason: se.Reason})
		case errors.As(e, &ae):
			out = append(out, &FieldError{Key: ae.Key, Value: ae.Value, Reason: ae.Reason})
		default:
			out = append(out, &FieldError{Key: "config", Value: verbatim("(unknown)"), Reason: e.Error()})
		}
	}
	return out
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// InstanceID returns kafka.instance_id, or when it is empty one derived
// stably from the hostname and the absolute state.dir: the same machine and
// directory give the same id across restarts, two state dirs on one machine
// give two ids.
func (c Config) InstanceID() (string, error) {
	if c.Kafka.InstanceID != "" {
		return c.Kafka.InstanceID, nil
	}
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("config: kafka.instance_id: derive from hostname: %w (set kafka.instance_id)", err)
	}
	dir, err := filepath.Abs(c.State.Dir)
	if err != nil {
		return "", fmt.Errorf("config: kafka.instance_id: derive from state.dir %q: %w (set kafka.instance_id)", c.State.Dir, err)
	}
	sum := sha256.Sum256([]byte(dir))
	host = strings.Map(func(r rune) rune {
		if isSpaceOrControl(r) {
			return '_'
		}
		return r
	}, host)
	return host + "-" + hex.EncodeToString(sum[:6]), nil
}

// minRedactKeyBytes is the shortest log.redact_key: a shorter secret could
// be guessed, and with it every hashed id checked against candidates.
const minRedactKeyBytes = 16

// ToStream converts the config to the pipeline's (streamConfig), with what
// takes more than the config's values: the TLS files and the team map
// loaded (teams.file; a file that cannot be read or is not a valid map is a
// *FieldError naming teams.file), and the transactional id, which takes the
// instance id. It expects a valid config. With the embedded broker
// Kafka.Brokers is empty: the caller fills in the broker's address once it
// listens.
func (c Config) ToStream() (stream.Config, error) {
	id, err := c.InstanceID()
	if err != nil {
		return stream.Config{}, err
	}
	tlsCfg, err := c.Kafka.TLS.load()
	if err != nil {
		return stream.Config{}, err
	}
	teams, err := c.Teams.load()
	if err != nil {
		return stream.Config{}, err
	}
	sc := c.streamConfig()
	sc.Kafka.TLS = tlsCfg
	sc.TransactionalID = c.Kafka.Group + "-" + id
	sc.Teams = teams
	return sc, nil
}

// streamConfig is the pipeline's config of the keys' values alone, as
// stream.Config.Validate checks them: nothing is read, and Kafka.TLS,
// TransactionalID and Teams are left empty (ToStream fills them in).
func (c Config) streamConfig() stream.Config {
	return stream.Config{
		Kafka: stream.Kafka{
			Brokers:            append([]string(nil), c.Kafka.Brokers...),
			ClientID:           c.Kafka.ClientID,
			SASL:               stream.SASL{Mechanism: c.Kafka.SASL.Mechanism, User: c.Kafka.SASL.User, Password: c.Kafka.SASL.Password},
			SessionTimeout:     c.Kafka.SessionTimeout,
			TransactionTimeout: c.Kafka.TransactionTimeout,
			RetryBackoff:       c.Kafka.RetryBackoffMax,
			Compression:        c.Kafka.Compression,
			OutputCompression:  c.Output.Compression,
			GroupProtocol:      c.Kafka.GroupProtocol,
		},
		Topics:                   c.streamTopics(),
		Group:                    c.Kafka.Group,
		TopicPartitions:          c.Kafka.TopicPartitions,
		ReplicationFactor:        c.Kafka.ReplicationFactor,
		MaxBatchRecords:          c.Stream.MaxBatchRecords,
		Workers:                  c.Stream.Workers,
		MaxEventBytes:            c.Input.MaxEventBytes,
		MaxBatchBytes:            c.Input.MaxBatchBytes,
		MaxCompressionRatio:      c.Input.MaxCompressionRatio,
		MaxRecordBytes:           c.Output.MaxRecordBytes,
		MaxMergeMove:             c.Identity.MaxMergeMove,
		MaxPersonPropertiesBytes: c.Identity.MaxPersonPropertiesBytes,
		MasterKey:                c.Identity.MasterKey,
		ExcludedEvents:           append([]string{}, c.Billing.ExcludedEvents...), // not nil, which is the default list
		OutboxTrimInterval:       c.Stream.OutboxTrimInterval,
		ReadyMaxLag:              c.Readiness.MaxLag,
		LagInterval:              stream.DefaultLagInterval(c.Readiness.MaxLag),
		LogIDs:                   !c.Log.Redact,
	}
}

// streamTopics are the topic names as the stream package has them: each
// with topics.prefix in front. Every command that names a topic takes it
// from here (or from ToStream), never from c.Topics.
func (c Config) streamTopics() stream.Topics {
	t, p := c.Topics, c.Topics.Prefix
	return stream.Topics{
		Raw: p + t.Raw, Person: p + t.Person, DeadLetter: p + t.DeadLetter, IdentityLog: p + t.IdentityLog,
		Persons: p + t.Persons, DistinctIDs: p + t.DistinctIDs, Warnings: p + t.Warnings, Billing: p + t.Billing,
		Commands: p + t.Commands, Merges: p + t.Merges, Keys: p + t.Keys,
	}
}

// topicsConfig is the topics section of names without a prefix.
func topicsConfig(t stream.Topics) TopicsConfig {
	return TopicsConfig{
		Raw: t.Raw, Person: t.Person, DeadLetter: t.DeadLetter, IdentityLog: t.IdentityLog,
		Persons: t.Persons, DistinctIDs: t.DistinctIDs, Warnings: t.Warnings, Billing: t.Billing,
		Commands: t.Commands, Merges: t.Merges, Keys: t.Keys,
	}
}

// maxTopicNameBytes is Kafka's limit on a topic name's length.
const maxTopicNameBytes = 249

// checkPrefix checks topics.prefix: Kafka's topic characters, and room
// for the longest name after it. The names themselves are the pipeline's
// to check (stream.Config.Validate), prefixed.
func (t TopicsConfig) checkPrefix() (reason string, ok bool) {
	p := t.Prefix
	if p == "" {
		return "", true
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Sprintf("has %q; topic names allow only letters, digits, '.', '_' and '-'", r), false
		}
	}
	longest := ""
	for _, n := range t.names() {
		if len(n) > len(longest) {
			longest = n
		}
	}
	if len(p)+len(longest) > maxTopicNameBytes {
		return fmt.Sprintf("is %d characters: with the topic %q the name would be %d, over Kafka's %d", len(p), longest, len(p)+len(longest), maxTopicNameBytes), false
	}
	return "", true
}

// names are the unprefixed topic names.
func (t TopicsConfig) names() []string {
	return []string{t.Raw, t.Person, t.DeadLetter, t.IdentityLog, t.Persons, t.DistinctIDs, t.Warnings, t.Billing, t.Commands, t.Merges, t.Keys}
}

// load builds the *tls.Config; nil when TLS is off. A file that cannot be
// read or parsed is a *FieldError naming its key.
func (t TLSConfig) load() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: t.InsecureSkipVerify, // opt-in, documented in resolver.yaml
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, &FieldError{Key: "kafka.tls.ca_file", Value: t.CAFile, Reason: err.Error()}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &FieldError{Key: "kafka.tls.ca_file", Value: t.CAFile, Reason: "no PEM certificate in the file"}
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, &FieldError{Key: "kafka.tls.cert_file", Value: t.CertFile, Reason: fmt.Sprintf("with kafka.tls.key_file %q: %v", t.KeyFile, err)}
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
