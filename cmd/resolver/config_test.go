package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/broker"
	"github.com/resolver-dev/resolver/internal/metrics"
	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream"
)

func defaultConfigWith(edit func(*Config)) Config {
	c := defaultConfig()
	edit(&c)
	return c
}

func splitLines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

func TestDefaultConfigIsValid(t *testing.T) {
	require.NoError(t, defaultConfig().Validate())
}

// TestDefaultConfigFromPackages: every key that reaches a package has that
// package's default (issue 13: the defaults were written out in four
// places, the excluded events twice), so the built-in config, and with it
// configs/resolver.yaml (TestDefaultsFileEqualsDefaults), follows them.
func TestDefaultConfigFromPackages(t *testing.T) {
	d := defaultConfig()
	sc, err := d.ToStream()
	require.NoError(t, err)
	want := stream.DefaultConfig()
	want.TransactionalID = sc.TransactionalID // derived from the instance
	assert.Equal(t, want, sc)
	assert.Equal(t, billing.DefaultExcludedEvents(), d.Billing.ExcludedEvents)
	assert.Equal(t, broker.DefaultListen, d.Kafka.Embedded.Listen)
	assert.Equal(t, int64(state.DefaultCacheBytes), d.State.CacheBytes)
	assert.Equal(t, state.DefaultGCDiscardRatio, d.State.ValueLogGCDiscardRatio)
	assert.Equal(t, metrics.DefaultTeamCap, d.Admin.MetricsTeamCap)
}

// TestValidate: every rule rejects its bad value with an error that names
// the key and the value.
func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		key  string
		msg  string // the whole message of the one error
	}{
		{"broker without port", func(c *Config) { c.Kafka.Brokers = []string{"a:1", "kafka1"} },
			"kafka.brokers[1]", `config: kafka.brokers[1]: "kafka1": must be host:port`},
		{"broker port 0", func(c *Config) { c.Kafka.Brokers = []string{"kafka1:0"} },
			"kafka.brokers[0]", `config: kafka.brokers[0]: "kafka1:0": port "0" is not a port number`},
		{"broker empty", func(c *Config) { c.Kafka.Brokers = []string{""} },
			"kafka.brokers[0]", `config: kafka.brokers[0]: "": must be host:port`},
		{"embedded listen", func(c *Config) { c.Kafka.Embedded.Listen = "127.0.0.1:99999" },
			"kafka.embedded.listen", `config: kafka.embedded.listen: "127.0.0.1:99999": port "99999" is not a port number`},
		{"client id", func(c *Config) { c.Kafka.ClientID = "" },
			"kafka.client_id", `config: kafka.client_id: "": must not be empty`},
		{"group", func(c *Config) { c.Kafka.Group = "" },
			"kafka.group", `config: kafka.group: "": must not be empty`},
		{"instance id", func(c *Config) { c.Kafka.InstanceID = "a b" },
			"kafka.instance_id", `config: kafka.instance_id: "a b": must not contain spaces or control characters`},
		{"topic partitions", func(c *Config) { c.Kafka.TopicPartitions = 0 },
			"kafka.topic_partitions", `config: kafka.topic_partitions: 0: must be at least 1`},
		{"topic partitions too many", func(c *Config) { c.Kafka.TopicPartitions = 1 << 40 },
			"kafka.topic_partitions", `config: kafka.topic_partitions: 1099511627776: must be at most 2147483647`},
		{"replication factor", func(c *Config) { c.Kafka.ReplicationFactor = 0 },
			"kafka.replication_factor", `config: kafka.replication_factor: 0: must be -1 (broker default) or between 1 and 32767`},
		{"session timeout", func(c *Config) { c.Kafka.SessionTimeout = 0 },
			"kafka.session_timeout", `config: kafka.session_timeout: 0s: must be positive`},
		{"transaction timeout", func(c *Config) { c.Kafka.TransactionTimeout = 500 * time.Millisecond },
			"kafka.transaction_timeout", `config: kafka.transaction_timeout: 500ms: must be between 1s and 15m (Kafka's transaction.max.timeout.ms default)`},
		{"transaction timeout too long", func(c *Config) { c.Kafka.TransactionTimeout = time.Hour },
			"kafka.transaction_timeout", `config: kafka.transaction_timeout: 1h0m0s: must be between 1s and 15m (Kafka's transaction.max.timeout.ms default)`},
		{"retry backoff", func(c *Config) { c.Kafka.RetryBackoffMax = -time.Second },
			"kafka.retry_backoff_max", `config: kafka.retry_backoff_max: -1s: must be positive`},
		{"compression", func(c *Config) { c.Kafka.Compression = "brotli" },
			"kafka.compression", `config: kafka.compression: "brotli": must be one of none, snappy, lz4, zstd, gzip`},
		{"group protocol", func(c *Config) { c.Kafka.GroupProtocol = "cooperative-sticky" },
			"kafka.group_protocol", `config: kafka.group_protocol: "cooperative-sticky": must be one of classic, consumer`},
		{"group protocol empty", func(c *Config) { c.Kafka.GroupProtocol = "" },
			"kafka.group_protocol", `config: kafka.group_protocol: "": must be one of classic, consumer`},
		{"sasl mechanism", func(c *Config) { c.Kafka.Brokers = []string{"k:9092"}; c.Kafka.SASL.Mechanism = "GSSAPI" },
			"kafka.sasl.mechanism", `config: kafka.sasl.mechanism: "GSSAPI": must be one of "", PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`},
		{"sasl user", func(c *Config) { c.Kafka.Brokers = []string{"k:9092"}; c.Kafka.SASL.Mechanism = "PLAIN" },
			"kafka.sasl.user", `config: kafka.sasl.user: "": must be set when kafka.sasl.mechanism is PLAIN`},
		{"sasl on embedded", func(c *Config) { c.Kafka.SASL = SASLConfig{Mechanism: "SCRAM-SHA-512", User: "u"} },
			"kafka.sasl.mechanism", `config: kafka.sasl.mechanism: "SCRAM-SHA-512": needs kafka.brokers: the embedded broker has no SASL`},
		{"tls on embedded", func(c *Config) { c.Kafka.TLS.Enabled = true },
			"kafka.tls.enabled", `config: kafka.tls.enabled: true: needs kafka.brokers: the embedded broker has no TLS`},
		{"tls file without tls", func(c *Config) { c.Kafka.TLS.CAFile = "/ca.pem" },
			"kafka.tls.ca_file", `config: kafka.tls.ca_file: "/ca.pem": is set but kafka.tls.enabled is false`},
		{"insecure without tls", func(c *Config) { c.Kafka.TLS.InsecureSkipVerify = true },
			"kafka.tls.insecure_skip_verify", `config: kafka.tls.insecure_skip_verify: true: is set but kafka.tls.enabled is false`},
		{"cert without key", func(c *Config) {
			c.Kafka.Brokers = []string{"k:9093"}
			c.Kafka.TLS = TLSConfig{Enabled: true, CertFile: "/c.pem"}
		}, "kafka.tls.key_file", `config: kafka.tls.key_file: "": must be set together with kafka.tls.cert_file`},
		{"key without cert", func(c *Config) {
			c.Kafka.Brokers = []string{"k:9093"}
			c.Kafka.TLS = TLSConfig{Enabled: true, KeyFile: "/k.pem"}
		}, "kafka.tls.cert_file", `config: kafka.tls.cert_file: "": must be set together with kafka.tls.key_file`},
		{"topic empty", func(c *Config) { c.Topics.Persons = "" },
			"topics.persons", `config: topics.persons: "": must not be empty`},
		{"topic bad char", func(c *Config) { c.Topics.Raw = "events raw" },
			"topics.raw", `config: topics.raw: "events raw": has ' '; topic names allow only letters, digits, '.', '_' and '-'`},
		{"topic dot", func(c *Config) { c.Topics.Billing = ".." },
			"topics.billing", `config: topics.billing: "..": is not a valid topic name`},
		{"topic too long", func(c *Config) { c.Topics.Warnings = strings.Repeat("w", 250) },
			"topics.warnings", `is longer than 249 characters`},
		{"topic used twice", func(c *Config) { c.Topics.DeadLetter = "events_person" },
			"topics.dead_letter", `config: topics.dead_letter: "events_person": same topic as topics.person`},
		{"state dir", func(c *Config) { c.State.Dir = "" },
			"state.dir", `config: state.dir: "": must not be empty`},
		{"max merge move", func(c *Config) { c.Identity.MaxMergeMove = 0 },
			"identity.max_merge_move", `config: identity.max_merge_move: 0: must be at least 1`},
		{"max event bytes", func(c *Config) { c.Input.MaxEventBytes = -5 },
			"input.max_event_bytes", `config: input.max_event_bytes: -5: must be at least 1`},
		{"max batch bytes", func(c *Config) { c.Input.MaxBatchBytes = 1000 },
			"input.max_batch_bytes", `config: input.max_batch_bytes: 1000: must be between 1048576 and 1073741824`},
		{"max compression ratio", func(c *Config) { c.Input.MaxCompressionRatio = 0 },
			"input.max_compression_ratio", `config: input.max_compression_ratio: 0: must be between 2 and 65536`},
		{"max batch records", func(c *Config) { c.Stream.MaxBatchRecords = 0 },
			"stream.max_batch_records", `config: stream.max_batch_records: 0: must be at least 1`},
		{"outbox trim interval", func(c *Config) { c.Stream.OutboxTrimInterval = 0 },
			"stream.outbox_trim_interval", `config: stream.outbox_trim_interval: 0s: must be positive`},
		{"shutdown timeout", func(c *Config) { c.Stream.ShutdownTimeout = 0 },
			"stream.shutdown_timeout", `config: stream.shutdown_timeout: 0s: must be positive`},
		{"excluded event empty", func(c *Config) { c.Billing.ExcludedEvents = []string{"a", ""} },
			"billing.excluded_events[1]", `config: billing.excluded_events[1]: "": must not be empty`},
		{"log level", func(c *Config) { c.Log.Level = "verbose" },
			"log.level", `config: log.level: "verbose": must be one of debug, info, warn, error`},
		{"log level empty", func(c *Config) { c.Log.Level = "" },
			"log.level", `config: log.level: "": must be one of debug, info, warn, error`},
		{"log format", func(c *Config) { c.Log.Format = "xml" },
			"log.format", `config: log.format: "xml": must be json, console or "" (console on a terminal, else json)`},
		{"admin addr", func(c *Config) { c.Admin.Addr = "localhost" },
			"admin.addr", `config: admin.addr: "localhost": must be host:port`},
		{"metrics team cap", func(c *Config) { c.Admin.MetricsTeamCap = -1 },
			"admin.metrics_team_cap", `config: admin.metrics_team_cap: -1: must be at least 0`},
		{"readiness max lag", func(c *Config) { c.Readiness.MaxLag = 100 * time.Millisecond },
			"readiness.max_lag", `config: readiness.max_lag: 100ms: must be at least 200ms`},
		{"readiness max lag zero", func(c *Config) { c.Readiness.MaxLag = 0 },
			"readiness.max_lag", `config: readiness.max_lag: 0s: must be at least 200ms`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := defaultConfigWith(tt.edit).Validate()
			require.Error(t, err)
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "not a *FieldError: %v", err)
			assert.Equal(t, tt.key, fe.Key)
			if strings.HasPrefix(tt.msg, "config: ") {
				assert.Equal(t, tt.msg, err.Error())
			} else {
				assert.Contains(t, err.Error(), tt.msg)
			}
			assert.Equal(t, exitConfig, exitCode(err))
		})
	}
}

// TestValidateReportsAll: all problems at once, one line each.
func TestValidateReportsAll(t *testing.T) {
	err := defaultConfigWith(func(c *Config) {
		c.Kafka.TopicPartitions = 0
		c.State.Dir = ""
		c.Log.Format = "xml"
	}).Validate()
	require.Error(t, err)
	assert.Equal(t, []string{
		"config: kafka.topic_partitions: 0: must be at least 1",
		`config: state.dir: "": must not be empty`,
		`config: log.format: "xml": must be json, console or "" (console on a terminal, else json)`,
	}, splitLines(err.Error()))
}

// TestValidateSectionOrder: the pipeline's keys are checked by
// stream.Config.Validate, the command's own here; the report still follows
// the sections of the file, the pipeline's keys of a section first.
func TestValidateSectionOrder(t *testing.T) {
	err := defaultConfigWith(func(c *Config) {
		c.Kafka.InstanceID = "a b"              // cmd
		c.Kafka.TopicPartitions = 0             // stream
		c.Topics.Raw = ""                       // stream
		c.State.Dir = ""                        // cmd
		c.Stream.ShutdownTimeout = 0            // cmd
		c.Stream.Workers = 0                    // stream
		c.Log.Format = "xml"                    // cmd
		c.Readiness.MaxLag = 0                  // stream
		c.Billing.ExcludedEvents = []string{""} // stream
	}).Validate()
	require.Error(t, err)
	assert.Equal(t, []string{
		"config: kafka.topic_partitions: 0: must be at least 1",
		`config: kafka.instance_id: "a b": must not contain spaces or control characters`,
		`config: topics.raw: "": must not be empty`,
		`config: state.dir: "": must not be empty`,
		"config: stream.workers: 0: must be between 1 and 64",
		"config: stream.shutdown_timeout: 0s: must be positive",
		`config: billing.excluded_events[0]: "": must not be empty`,
		`config: log.format: "xml": must be json, console or "" (console on a terminal, else json)`,
		"config: readiness.max_lag: 0s: must be at least 200ms",
	}, splitLines(err.Error()))
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *FieldError
		assert.True(t, errors.As(e, &fe), "not a *FieldError: %v", e)
	}
}

func TestValidateAccepts(t *testing.T) {
	for name, edit := range map[string]func(*Config){
		"external brokers":     func(c *Config) { c.Kafka.Brokers = []string{"10.0.0.1:9092", "[::1]:9092"} },
		"free port":            func(c *Config) { c.Kafka.Embedded.Listen = "127.0.0.1:0" },
		"replication factor 3": func(c *Config) { c.Kafka.ReplicationFactor = 3 },
		"scram": func(c *Config) {
			c.Kafka.Brokers = []string{"k:9092"}
			c.Kafka.SASL = SASLConfig{"SCRAM-SHA-256", "u", "p"}
		},
		"tls with client cert": func(c *Config) {
			c.Kafka.Brokers = []string{"k:9093"}
			c.Kafka.TLS = TLSConfig{true, "ca", "c", "k", false}
		},
		"no cache":             func(c *Config) { c.State.CacheBytes = -1 },
		"no admin server":      func(c *Config) { c.Admin.Addr = "" },
		"no team labels":       func(c *Config) { c.Admin.MetricsTeamCap = 0 },
		"no excluded events":   func(c *Config) { c.Billing.ExcludedEvents = nil },
		"console debug":        func(c *Config) { c.Log = LogConfig{Level: "debug", Format: "console"} },
		"dotted topic name":    func(c *Config) { c.Topics.Raw = "prod.events-raw_v2" },
		"explicit instance id": func(c *Config) { c.Kafka.InstanceID = "resolver-0" },
		"classic group":        func(c *Config) { c.Kafka.GroupProtocol = "classic" },
		"consumer group":       func(c *Config) { c.Kafka.GroupProtocol = "consumer" },
	} {
		t.Run(name, func(t *testing.T) {
			assert.NoError(t, defaultConfigWith(edit).Validate())
		})
	}
}

func TestInstanceID(t *testing.T) {
	dir := t.TempDir()
	a := defaultConfigWith(func(c *Config) { c.State.Dir = dir })
	id1, err := a.InstanceID()
	require.NoError(t, err)
	// Stable: the same dir, spelled relative or absolute, gives the same id.
	wd, err := os.Getwd()
	require.NoError(t, err)
	rel, err := filepath.Rel(wd, dir)
	require.NoError(t, err)
	id2, err := defaultConfigWith(func(c *Config) { c.State.Dir = rel }).InstanceID()
	require.NoError(t, err)
	assert.Equal(t, id1, id2)
	host, _ := os.Hostname()
	assert.True(t, strings.HasPrefix(id1, host+"-"), id1)
	// Another dir on the same host: another id.
	id3, err := defaultConfigWith(func(c *Config) { c.State.Dir = t.TempDir() }).InstanceID()
	require.NoError(t, err)
	assert.NotEqual(t, id1, id3)
	// Configured: used as it is.
	id4, err := defaultConfigWith(func(c *Config) { c.Kafka.InstanceID = "r-7" }).InstanceID()
	require.NoError(t, err)
	assert.Equal(t, "r-7", id4)
}

func TestToStream(t *testing.T) {
	c := defaultConfigWith(func(c *Config) {
		c.Kafka.Brokers = []string{"k1:9092", "k2:9092"}
		c.Kafka.InstanceID = "i1"
		c.Kafka.Group = "g"
		c.Kafka.SASL = SASLConfig{"PLAIN", "u", "p"}
		c.Topics.Raw = "in"
		c.Kafka.TopicPartitions = 12
		c.Kafka.ReplicationFactor = 3
		c.Stream.MaxBatchRecords = 500
		c.Kafka.GroupProtocol = "consumer"
	})
	require.NoError(t, c.Validate())
	sc, err := c.ToStream()
	require.NoError(t, err)
	assert.Equal(t, []string{"k1:9092", "k2:9092"}, sc.Kafka.Brokers)
	assert.Equal(t, "resolver", sc.Kafka.ClientID)
	assert.Equal(t, "PLAIN", sc.Kafka.SASL.Mechanism)
	assert.Equal(t, "u", sc.Kafka.SASL.User)
	assert.Equal(t, "p", sc.Kafka.SASL.Password)
	assert.Nil(t, sc.Kafka.TLS)
	assert.Equal(t, 10*time.Second, sc.Kafka.SessionTimeout)
	assert.Equal(t, 2*time.Second, sc.Kafka.RetryBackoff)
	assert.Equal(t, "consumer", sc.Kafka.GroupProtocol)
	assert.Equal(t, "in", sc.Topics.Raw)
	assert.Equal(t, "person_distinct_ids", sc.Topics.DistinctIDs)
	assert.Equal(t, "g", sc.Group)
	assert.Equal(t, "g-i1", sc.TransactionalID)
	assert.Equal(t, 12, sc.TopicPartitions)
	assert.Equal(t, 3, sc.ReplicationFactor)
	assert.Equal(t, 500, sc.MaxBatchRecords)
	assert.Equal(t, 1<<20, sc.MaxEventBytes)
	assert.Equal(t, 10000, sc.MaxMergeMove)
	assert.Equal(t, defaultConfig().Billing.ExcludedEvents, sc.ExcludedEvents)
	assert.Equal(t, 30*time.Second, sc.OutboxTrimInterval)
	assert.Equal(t, 2*time.Second, sc.ReadyMaxLag)
	assert.Equal(t, 500*time.Millisecond, sc.LagInterval)
	// What the pipeline checks itself agrees.
	require.NoError(t, sc.Validate())
	assert.Equal(t, sc, sc.WithDefaults(), "every field set, none left to stream's defaults")
}

func TestToStreamTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	ca := filepath.Join(dir, "ca.pem")
	cert := filepath.Join(dir, "cert.pem")
	key := filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(ca, certPEM, 0o600))
	require.NoError(t, os.WriteFile(cert, certPEM, 0o600))
	require.NoError(t, os.WriteFile(key, keyPEM, 0o600))
	garbage := filepath.Join(dir, "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not pem"), 0o600))

	tlsCfg := func(tc TLSConfig) Config {
		return defaultConfigWith(func(c *Config) { c.Kafka.Brokers = []string{"k:9093"}; c.Kafka.TLS = tc })
	}

	sc, err := tlsCfg(TLSConfig{Enabled: true, CAFile: ca, CertFile: cert, KeyFile: key}).ToStream()
	require.NoError(t, err)
	require.NotNil(t, sc.Kafka.TLS)
	assert.NotNil(t, sc.Kafka.TLS.RootCAs)
	assert.Len(t, sc.Kafka.TLS.Certificates, 1)
	assert.False(t, sc.Kafka.TLS.InsecureSkipVerify)

	sc, err = tlsCfg(TLSConfig{Enabled: true, InsecureSkipVerify: true}).ToStream()
	require.NoError(t, err)
	assert.Nil(t, sc.Kafka.TLS.RootCAs, "system roots")
	assert.True(t, sc.Kafka.TLS.InsecureSkipVerify)

	for _, tt := range []struct {
		tc  TLSConfig
		key string
	}{
		{TLSConfig{Enabled: true, CAFile: filepath.Join(dir, "missing.pem")}, "kafka.tls.ca_file"},
		{TLSConfig{Enabled: true, CAFile: garbage}, "kafka.tls.ca_file"},
		{TLSConfig{Enabled: true, CertFile: cert, KeyFile: garbage}, "kafka.tls.cert_file"},
	} {
		_, err := tlsCfg(tt.tc).ToStream()
		var fe *FieldError
		require.True(t, errors.As(err, &fe), "%v", err)
		assert.Equal(t, tt.key, fe.Key)
		assert.Equal(t, exitConfig, exitCode(err))
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "resolver test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(k)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// TestValidateAdminExposure: an admin.addr beyond loopback needs
// admin.token (issue 11: the Dockerfile bound 0.0.0.0 without one, exposing
// /v1/persons). The error names both keys.
func TestValidateAdminExposure(t *testing.T) {
	for _, tc := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:9464", "", true},
		{"127.0.0.2:9464", "", true},
		{"[::1]:9464", "", true},
		{"localhost:9464", "", true},
		{"", "", true}, // no admin server
		{"0.0.0.0:9464", "", false},
		{":9464", "", false},
		{"[::]:9464", "", false},
		{"10.1.2.3:9464", "", false},
		{"[2001:db8::1]:9464", "", false},
		{"resolver-1:9464", "", false},
		{"localhost.example.com:9464", "", false},
		{"0.0.0.0:9464", "s3cret", true},
		{"resolver-1:9464", "s3cret", true},
	} {
		err := defaultConfigWith(func(c *Config) { c.Admin.Addr, c.Admin.Token = tc.addr, tc.token }).Validate()
		if tc.ok {
			assert.NoError(t, err, "%+v", tc)
			continue
		}
		var fe *FieldError
		require.True(t, errors.As(err, &fe), "%+v: %v", tc, err)
		assert.Equal(t, "admin.addr", fe.Key)
		assert.Contains(t, err.Error(), "admin.token")
		assert.Contains(t, err.Error(), `"`+tc.addr+`"`)
		assert.Equal(t, exitConfig, exitCode(err))
	}

	err := defaultConfigWith(func(c *Config) { c.Admin.Token = "two words" }).Validate()
	var fe *FieldError
	require.True(t, errors.As(err, &fe), "%v", err)
	assert.Equal(t, "admin.token", fe.Key)
	assert.NotContains(t, err.Error(), "two words", "the token is not repeated")
}

// TestValidateStateAndRedactKeys: the keys of issue 11's disk and
// redaction work reject their bad values, naming the key (and never
// repeating a secret).
func TestValidateStateAndRedactKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		key  string
	}{
		{"negative floor", func(c *Config) { c.State.MinFreeBytes = -1 }, "state.min_free_bytes"},
		{"negative gc interval", func(c *Config) { c.State.ValueLogGCInterval = -time.Second }, "state.value_log_gc_interval"},
		{"gc ratio 0", func(c *Config) { c.State.ValueLogGCDiscardRatio = 0 }, "state.value_log_gc_discard_ratio"},
		{"gc ratio 1", func(c *Config) { c.State.ValueLogGCDiscardRatio = 1 }, "state.value_log_gc_discard_ratio"},
		{"short redact key", func(c *Config) { c.Log.RedactKey = "short-secret" }, "log.redact_key"},
		{"unknown table compression", func(c *Config) { c.State.Compression = "lz4" }, "state.compression"},
		{"snappy tables (not offered)", func(c *Config) { c.State.Compression = "snappy" }, "state.compression"},
		{"empty table compression", func(c *Config) { c.State.Compression = "" }, "state.compression"},
		{"table compression in capitals", func(c *Config) { c.State.Compression = "ZSTD" }, "state.compression"},
		{"no block size", func(c *Config) { c.State.BlockBytes = 0 }, "state.block_bytes"},
		{"blocks under 1 KiB", func(c *Config) { c.State.BlockBytes = 1023 }, "state.block_bytes"},
		{"blocks over 1 MiB", func(c *Config) { c.State.BlockBytes = 1<<20 + 1 }, "state.block_bytes"},
		{"negative block size", func(c *Config) { c.State.BlockBytes = -4096 }, "state.block_bytes"},
	} {
		err := defaultConfigWith(tc.edit).Validate()
		var fe *FieldError
		require.True(t, errors.As(err, &fe), "%s: %v", tc.name, err)
		assert.Equal(t, tc.key, fe.Key, tc.name)
		assert.NotContains(t, err.Error(), "short-secret", "%s: the key is not repeated", tc.name)
	}
	for name, edit := range map[string]func(*Config){
		"no floor":        func(c *Config) { c.State.MinFreeBytes = 0 },
		"no gc":           func(c *Config) { c.State.ValueLogGCInterval = 0 },
		"redact key":      func(c *Config) { c.Log.RedactKey = "a-secret-of-24-bytes-abc" },
		"random key":      func(c *Config) { c.Log.RedactKey = "" },
		"gc ratio 0.7":    func(c *Config) { c.State.ValueLogGCDiscardRatio = 0.7 },
		"floor of 10 GiB": func(c *Config) { c.State.MinFreeBytes = 10 << 30 },
		"zstd tables":     func(c *Config) { c.State.Compression = "zstd" },
		"16 KiB blocks":   func(c *Config) { c.State.BlockBytes = 16 << 10 },
		"1 MiB blocks":    func(c *Config) { c.State.BlockBytes = 1 << 20 },
	} {
		assert.NoError(t, defaultConfigWith(edit).Validate(), name)
	}
	d := defaultConfig()
	assert.Equal(t, int64(1<<30), d.State.MinFreeBytes)
	assert.Equal(t, 10*time.Minute, d.State.ValueLogGCInterval)
	assert.Equal(t, 0.5, d.State.ValueLogGCDiscardRatio)
	assert.Equal(t, 4096, d.State.BlockBytes)
	assert.Equal(t, 16<<10, defaultConfigWith(func(c *Config) { c.State.BlockBytes = 16 << 10 }).State.storeOptions().BlockBytes, "state.block_bytes reaches the store")
	assert.Empty(t, d.Log.RedactKey)
}

// TestRunRefusesImageAdminWithoutToken: the container image's environment
// (RESOLVER_ADMIN_ADDR=0.0.0.0:9464, see the Dockerfile) without
// RESOLVER_ADMIN_TOKEN stops `resolver run` before anything starts, exit 2,
// naming both keys (issue 11: the image served /v1/persons to the network).
func TestRunRefusesImageAdminWithoutToken(t *testing.T) {
	t.Setenv("RESOLVER_ADMIN_ADDR", "0.0.0.0:9464")
	var stdout, stderr syncBuffer
	code := execute(t.Context(), []string{"--state-dir", t.TempDir(), "run"}, &stdout, &stderr)
	require.Equal(t, exitConfig, code, "stderr:\n%s", stderr.String())
	assert.Contains(t, stderr.String(), `config: admin.addr: "0.0.0.0:9464": is not a loopback address and admin.token is empty`)
}

// TestToStreamNoExcludedEvents: billing.excluded_events set to an empty
// list excludes nothing. It used to reach the pipeline as nil, which the
// pipeline takes for "the default list", so the six default events stayed
// unbilled whatever the file said.
func TestToStreamNoExcludedEvents(t *testing.T) {
	file := writeFile(t, "resolver.yaml", "billing:\n  excluded_events: []\n")
	cfg, _, err := loadConfig(file, nil)
	require.NoError(t, err)
	assert.Empty(t, cfg.Billing.ExcludedEvents)
	sc, err := cfg.ToStream()
	require.NoError(t, err)
	assert.NotNil(t, sc.ExcludedEvents)
	assert.Empty(t, sc.WithDefaults().ExcludedEvents, "the pipeline's list")

	sc, err = defaultConfigWith(func(c *Config) { c.Billing.ExcludedEvents = nil }).ToStream()
	require.NoError(t, err)
	assert.Empty(t, sc.WithDefaults().ExcludedEvents)
}

// TestValidateGCDiscardRatioNaN: state.value_log_gc_discard_ratio: .nan is
// refused at load, by the rule state.ValueLogGC applies (which let NaN
// through before the two shared state.ValidGCDiscardRatio).
func TestValidateGCDiscardRatioNaN(t *testing.T) {
	err := defaultConfigWith(func(c *Config) { c.State.ValueLogGCDiscardRatio = math.NaN() }).Validate()
	assert.EqualError(t, err, "config: state.value_log_gc_discard_ratio: NaN: must be between 0 and 1, exclusive")
}
