package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const defaultsFile = "../../configs/resolver.yaml"

// testFlags is a flag set like the commands': some flags bound to keys.
func testFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.StringSlice("brokers", nil, "")
	bindFlag(fs, "brokers", "kafka.brokers")
	fs.String("state-dir", "", "")
	bindFlag(fs, "state-dir", "state.dir")
	fs.Int("partitions", 0, "")
	bindFlag(fs, "partitions", "kafka.topic_partitions")
	fs.String("listen", "", "")
	bindFlag(fs, "listen", "kafka.embedded.listen")
	fs.String("unbound", "", "")
	require.NoError(t, fs.Parse(args))
	return fs
}

// TestLoadOrder: defaults < file < environment < flags, key by key.
func TestLoadOrder(t *testing.T) {
	file := writeFile(t, "resolver.yaml", `
kafka:
  brokers: [file:9092]
  topic_partitions: 4
  embedded:
    listen: 127.0.0.1:1111
state:
  dir: /file/state
log:
  level: warn
`)
	tests := []struct {
		name       string
		file       string
		env        map[string]string
		flags      []string
		brokers    []string
		partitions int
		listen     string
		dir        string
		level      string
	}{
		{name: "defaults",
			brokers: []string{}, partitions: 8, listen: "127.0.0.1:9092", dir: "./data", level: "info"},
		{name: "file over defaults", file: file,
			brokers: []string{"file:9092"}, partitions: 4, listen: "127.0.0.1:1111", dir: "/file/state", level: "warn"},
		{name: "env over file", file: file,
			env: map[string]string{
				"RESOLVER_KAFKA_BROKERS":          "env:9092",
				"RESOLVER_KAFKA_TOPIC_PARTITIONS": "5",
				"RESOLVER_KAFKA_EMBEDDED_LISTEN":  "127.0.0.1:2222",
				"RESOLVER_STATE_DIR":              "/env/state",
			},
			brokers: []string{"env:9092"}, partitions: 5, listen: "127.0.0.1:2222", dir: "/env/state", level: "warn"},
		{name: "env over defaults",
			env:     map[string]string{"RESOLVER_LOG_LEVEL": "debug"},
			brokers: []string{}, partitions: 8, listen: "127.0.0.1:9092", dir: "./data", level: "debug"},
		{name: "flags over env", file: file,
			env: map[string]string{
				"RESOLVER_KAFKA_BROKERS":          "env:9092",
				"RESOLVER_KAFKA_TOPIC_PARTITIONS": "5",
				"RESOLVER_STATE_DIR":              "/env/state",
			},
			flags:   []string{"--brokers", "flag1:9092,flag2:9092", "--partitions", "6", "--state-dir", "/flag/state"},
			brokers: []string{"flag1:9092", "flag2:9092"}, partitions: 6, listen: "127.0.0.1:1111", dir: "/flag/state", level: "warn"},
		{name: "flags over file, env absent", file: file,
			flags:   []string{"--listen", "127.0.0.1:0"},
			brokers: []string{"file:9092"}, partitions: 4, listen: "127.0.0.1:0", dir: "/file/state", level: "warn"},
		{name: "a flag left unset does not override", file: file,
			env:     map[string]string{"RESOLVER_STATE_DIR": "/env/state"},
			flags:   []string{"--unbound", "x"},
			brokers: []string{"file:9092"}, partitions: 4, listen: "127.0.0.1:1111", dir: "/env/state", level: "warn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, _, err := loadConfig(tt.file, testFlags(t, tt.flags...))
			require.NoError(t, err)
			assert.Equal(t, tt.brokers, cfg.Kafka.Brokers)
			assert.Equal(t, tt.partitions, cfg.Kafka.TopicPartitions)
			assert.Equal(t, tt.listen, cfg.Kafka.Embedded.Listen)
			assert.Equal(t, tt.dir, cfg.State.Dir)
			assert.Equal(t, tt.level, cfg.Log.Level)
		})
	}
}

// TestLoadEnvLists: lists in the environment are comma-separated, spaces
// around entries ignored.
func TestLoadEnvLists(t *testing.T) {
	tests := []struct {
		env  string
		want []string
	}{
		{"127.0.0.1:19092", []string{"127.0.0.1:19092"}},
		{"a:1,b:2,c:3", []string{"a:1", "b:2", "c:3"}},
		{"a:1, b:2", []string{"a:1", "b:2"}},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv("RESOLVER_KAFKA_BROKERS", tt.env)
			t.Setenv("RESOLVER_BILLING_EXCLUDED_EVENTS", "$pageleave,survey sent")
			cfg, _, err := loadConfig("", nil)
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg.Kafka.Brokers)
			assert.Equal(t, []string{"$pageleave", "survey sent"}, cfg.Billing.ExcludedEvents)
		})
	}
}

// TestLoadEnvTypes: every kind of value can come from the environment.
func TestLoadEnvTypes(t *testing.T) {
	t.Setenv("RESOLVER_KAFKA_EMBEDDED_SYNC_WRITES", "true")
	t.Setenv("RESOLVER_KAFKA_SESSION_TIMEOUT", "7s")
	t.Setenv("RESOLVER_STATE_CACHE_BYTES", "1024")
	t.Setenv("RESOLVER_ADMIN_ADDR", "127.0.0.1:9999")
	t.Setenv("RESOLVER_ADMIN_TOKEN", "s3cret")
	t.Setenv("RESOLVER_KAFKA_SASL_PASSWORD", "pw")
	cfg, _, err := loadConfig("", nil)
	require.NoError(t, err)
	assert.True(t, cfg.Kafka.Embedded.SyncWrites)
	assert.Equal(t, 7*time.Second, cfg.Kafka.SessionTimeout)
	assert.Equal(t, int64(1024), cfg.State.CacheBytes)
	assert.Equal(t, "127.0.0.1:9999", cfg.Admin.Addr)
	assert.Equal(t, "s3cret", cfg.Admin.Token)
	assert.Equal(t, "pw", cfg.Kafka.SASL.Password)
}

// TestLoadUnknownEnv: RESOLVER_* variables that set no key are reported.
func TestLoadUnknownEnv(t *testing.T) {
	t.Setenv("RESOLVER_KAFKA_BROKER", "typo:9092")
	t.Setenv("RESOLVER_STATE_DIR", t.TempDir())
	_, stray, err := loadConfig("", nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"RESOLVER_KAFKA_BROKER"}, stray)
}

// TestLoadFileErrors: a file that cannot be used is a *configError naming
// the problem (exit 2).
func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "kafka:\n  brokerz: [a:1]\n", "kafka.brokerz: unknown key"},
		{"unknown section", "kafak:\n  brokers: [a:1]\n", "kafak.brokers: unknown key"},
		{"several unknown", "log:\n  levle: info\nadmin:\n  tokn: x\n", "admin.tokn: unknown key; log.levle: unknown key"},
		{"section given a value", "kafka: localhost:9092\n", "kafka: is a section, not a value"},
		{"value given a section", "state:\n  dir:\n    path: /x\n", "state.dir.path: unknown key"},
		{"tiers given a list", "billing:\n  tiers: []\n", "billing.tiers: is a section, not a value"},
		{"unknown field of a tier", "billing:\n  tiers:\n    anonymous:\n      - {upto: 5, unit_price: \"0\"}\n", "upto"},
		{"wrong type", "kafka:\n  topic_partitions: eight\n", "kafka.topic_partitions"},
		{"bad duration", "stream:\n  shutdown_timeout: soon\n", "stream.shutdown_timeout"},
		{"not yaml", "kafka: [\n", "resolver.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, "resolver.yaml", tt.yaml)
			_, _, err := loadConfig(file, nil)
			require.Error(t, err)
			var ce *configError
			require.True(t, errors.As(err, &ce), "%T: %v", err, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, exitConfig, exitCode(err))
		})
	}
}

// TestLoadInvalidValue: values pass Validate whichever layer they come
// from.
func TestLoadInvalidValue(t *testing.T) {
	t.Setenv("RESOLVER_KAFKA_TOPIC_PARTITIONS", "0")
	_, _, err := loadConfig("", nil)
	require.EqualError(t, err, "config: kafka.topic_partitions: 0: must be at least 1")
	var fe *FieldError
	require.True(t, errors.As(err, &fe))
}

// TestDefaultsFileEqualsDefaults: configs/resolver.yaml, loaded alone,
// gives exactly the built-in defaults, so the two cannot drift.
func TestDefaultsFileEqualsDefaults(t *testing.T) {
	cfg, _, err := loadConfig(defaultsFile, nil)
	require.NoError(t, err)
	assert.Equal(t, defaultConfig(), cfg)
}

// TestDefaultsFileHasEveryKey: every key of Config is in
// configs/resolver.yaml (and, by TestLoadFileErrors' unknown-key check, the
// file has no other).
func TestDefaultsFileHasEveryKey(t *testing.T) {
	v := viper.New()
	v.SetConfigFile(defaultsFile)
	require.NoError(t, v.ReadInConfig())
	inFile := v.AllKeys()
	var want []string
	for k := range flatten(defaultConfig()) {
		want = append(want, k)
	}
	slices.Sort(want)
	slices.Sort(inFile)
	assert.Equal(t, want, inFile)
}

// TestDefaultsFileComments: every key line of configs/resolver.yaml has a
// comment: on the line itself or directly above it.
func TestDefaultsFileComments(t *testing.T) {
	f, err := os.Open(defaultsFile)
	require.NoError(t, err)
	defer f.Close()
	keyLine := regexp.MustCompile(`^\s*([a-z_]+):\s*(\S.*)?$`)
	prevComment := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		m := keyLine.FindStringSubmatch(line)
		isSection := m != nil && m[2] == ""
		if m != nil && !isSection && !prevComment && !strings.Contains(m[2], "#") {
			t.Errorf("%s:%d: key %s has no comment", defaultsFile, n, m[1])
		}
		prevComment = strings.HasPrefix(trimmed, "#")
	}
	require.NoError(t, sc.Err())
}

func TestFlatten(t *testing.T) {
	keys := flatten(defaultConfig())
	assert.Equal(t, "127.0.0.1:9092", keys["kafka.embedded.listen"])
	assert.Equal(t, 10*time.Second, keys["kafka.session_timeout"])
	assert.Equal(t, false, keys["kafka.tls.insecure_skip_verify"])
	assert.NotContains(t, keys, "kafka")
	assert.NotContains(t, keys, "kafka.embedded")
	assert.Contains(t, keys, "billing.tiers.identified") // a map is a section of its entries
	assert.NotContains(t, keys, "billing.tiers")
	assert.Equal(t, 2*time.Second, keys["readiness.max_lag"])
	assert.Equal(t, "none", keys["state.compression"])
	assert.Len(t, keys, 65) // 46 + identity.master_key, topics.commands, topics.person_merges, topics.identity_keys, kafka.transaction_timeout, output.max_record_bytes, state.min_free_bytes, state.value_log_gc_interval, state.value_log_gc_discard_ratio, log.redact_key, identity.max_person_properties_bytes, teams.file, readiness.max_lag, output.compression, topics.prefix, state.compression, state.block_bytes, input.max_batch_bytes, input.max_compression_ratio
}

func TestEnvName(t *testing.T) {
	assert.Equal(t, "RESOLVER_KAFKA_EMBEDDED_LISTEN", envName("kafka.embedded.listen"))
	assert.Equal(t, "RESOLVER_STATE_DIR", envName("state.dir"))
}

// TestReadmeKeyTable: the README's configuration table names every key
// (`kafka.sasl.*` names a section; `.sync_writes` after
// `kafka.embedded.listen` is kafka.embedded.sync_writes), names no key that
// does not exist, and where a row lists a default in backquotes for each of
// its keys, each is the built-in default. Issue 13: the defaults were
// written out in four places; this keeps the fourth in step.
func TestReadmeKeyTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, table, ok := strings.Cut(string(readme), "\n| key | default | meaning |\n|---|---|---|\n")
	require.True(t, ok, "README.md has no configuration table")
	if end := strings.Index(table, "\n\n"); end >= 0 {
		table = table[:end]
	}
	defaults := flatten(defaultConfig())
	covered := map[string]bool{}
	quoted := regexp.MustCompile("^`([^`]*)`$")
	for _, row := range strings.Split(table, "\n") {
		cols := strings.Split(strings.Trim(row, "|"), " | ")
		require.Len(t, cols, 3, "row %q", row)
		var keys []string
		prefix := ""
		for _, k := range strings.Split(cols[0], ", ") {
			m := quoted.FindStringSubmatch(strings.TrimSpace(k))
			require.NotNil(t, m, "row %q: key %q not in backquotes", row, k)
			key := m[1]
			if strings.HasPrefix(key, ".") {
				key = prefix + key[1:]
			}
			prefix = key[:strings.LastIndexByte(key, '.')+1]
			keys = append(keys, key)
			n := 0
			for dk := range defaults {
				if dk == key || strings.HasPrefix(dk, strings.TrimSuffix(key, "*")) && strings.HasSuffix(key, ".*") ||
					strings.HasPrefix(dk, key+".") {
					covered[dk] = true
					n++
				}
			}
			assert.NotZero(t, n, "README.md names %s, which is no config key", key)
		}
		vals := strings.Split(cols[1], ", ")
		if len(vals) != len(keys) {
			continue
		}
		for i, v := range vals {
			m := quoted.FindStringSubmatch(v)
			if m == nil {
				continue // in words: "64 MiB", "derived", "none"
			}
			def, ok := defaults[keys[i]]
			if !ok {
				continue // a section
			}
			assert.Equal(t, readmeValue(def), m[1], "README.md: default of %s", keys[i])
		}
	}
	for k := range defaults {
		assert.True(t, covered[k], "README.md's configuration table lacks %s", k)
	}
}

// readmeValue is a default as the README writes it: 10m, not 10m0s.
func readmeValue(v any) string {
	switch v := v.(type) {
	case time.Duration:
		s := v.String()
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return s
	case string:
		if v == "" {
			return `""`
		}
		return v
	case []string:
		return "[" + strings.Join(v, ", ") + "]"
	default:
		return fmt.Sprint(v)
	}
}
