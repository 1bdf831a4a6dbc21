package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/internal/metrics"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// opsCLI executes the command line in-process and returns its exit code,
// stdout and stderr.
func opsCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := execute(t.Context(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestBuildFrom: the link-time values win; else the build info's module
// version and VCS revision ("-dirty" when modified); else unknown.
func TestBuildFrom(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}
	clean := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "def456"}, {Key: "vcs.modified", Value: "false"}}}
	for _, tt := range []struct {
		name      string
		ldV, ldC  string
		bi        *debug.BuildInfo
		want      metrics.BuildInfo
		goVersion string
	}{
		{"ldflags", "1.4.0", "fff", vcs, metrics.BuildInfo{Version: "1.4.0", Commit: "fff", GoVersion: "go1.26.8"}, ""},
		{"build info, dirty", "", "", vcs, metrics.BuildInfo{Version: "v1.2.3", Commit: "abc123-dirty", GoVersion: "go1.26.8"}, ""},
		{"build info, clean", "", "", clean, metrics.BuildInfo{Version: "(devel)", Commit: "def456", GoVersion: "go1.26.8"}, ""},
		{"ldflags version only", "2.0.0", "", clean, metrics.BuildInfo{Version: "2.0.0", Commit: "def456", GoVersion: "go1.26.8"}, ""},
		{"nothing", "", "", nil, metrics.BuildInfo{Version: "unknown", Commit: "unknown", GoVersion: runtime.Version()}, ""},
		{"no vcs", "", "", &debug.BuildInfo{}, metrics.BuildInfo{Version: "unknown", Commit: "unknown", GoVersion: runtime.Version()}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, buildFrom(tt.ldV, tt.ldC, tt.bi))
		})
	}
}

// TestVersionCommands: `--version` prints one line, `version` three (or
// JSON), both the same build; a bad --format is a usage error.
func TestVersionCommands(t *testing.T) {
	b := currentBuild()
	code, out, _ := opsCLI(t, "--version")
	require.Equal(t, exitOK, code)
	assert.Equal(t, versionLine(b)+"\n", out)
	assert.True(t, strings.HasPrefix(out, "resolver "))

	code, out, _ = opsCLI(t, "version")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "version:    "+b.Version+"\n")
	assert.Contains(t, out, "commit:     "+b.Commit+"\n")
	assert.Contains(t, out, "go version: "+runtime.Version()+"\n")

	code, out, _ = opsCLI(t, "version", "--format", "json")
	require.Equal(t, exitOK, code)
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, map[string]string{"version": b.Version, "commit": b.Commit, "goversion": b.GoVersion}, got)

	code, _, errOut := opsCLI(t, "version", "--format", "xml")
	assert.Equal(t, exitConfig, code)
	assert.Contains(t, errOut, `--format "xml"`)
}

// TestDialAddr: a listen address with an unspecified host is asked on
// loopback; any other is asked as it is.
func TestDialAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:9464":   "127.0.0.1:9464",
		":9464":          "127.0.0.1:9464",
		"[::]:9464":      "[::1]:9464",
		"127.0.0.1:9464": "127.0.0.1:9464",
		"resolver:9464":  "resolver:9464",
		"10.0.0.5:80":    "10.0.0.5:80",
		"garbage":        "garbage",
	} {
		assert.Equal(t, want, dialAddr(in), in)
	}
}

// TestHealth: `resolver health` exits 0 with "ok" on 200, 1 with the
// answer's reason on anything else or no answer, sends admin.token, asks
// /healthz with --live, and prints a hostile answer on one bounded line.
func TestHealth(t *testing.T) {
	var gotAuth, gotPath string
	status, body := http.StatusOK, `{"status":"ready","lag_seconds":0}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath = r.Header.Get("Authorization"), r.URL.Path
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	for _, tt := range []struct {
		name       string
		status     int
		body       string
		args       []string
		env        map[string]string
		code       int
		out, err   string
		path, auth string
	}{
		{name: "ready", status: 200, body: `{"status":"ready","lag_seconds":0.1}`,
			code: exitOK, out: "ok: GET /readyz: 200 ready", path: "/readyz"},
		{name: "not ready", status: 503, body: `{"status":"not_ready","reason":"replica 3.2s behind identity_log"}`,
			code: exitFailure, err: "resolver: not ready: GET /readyz: 503 not_ready: replica 3.2s behind identity_log\n", path: "/readyz"},
		{name: "stopping", status: 503, body: `{"status":"stopping"}`,
			code: exitFailure, err: "not ready: GET /readyz: 503 stopping", path: "/readyz"},
		{name: "live", status: 200, body: `{"status":"ok"}`, args: []string{"--live"},
			code: exitOK, out: "ok: GET /healthz: 200 ok", path: "/healthz"},
		{name: "live fails", status: 500, body: "boom\nsecond line", args: []string{"--live"},
			code: exitFailure, err: "unhealthy: GET /healthz: 500 boom\n", path: "/healthz"},
		{name: "token sent", status: 200, body: `{"status":"ready"}`, env: map[string]string{"RESOLVER_ADMIN_TOKEN": "s3cret"},
			code: exitOK, out: "ok:", path: "/readyz", auth: "Bearer s3cret"},
		{name: "token wrong", status: 401, body: `{"error":"missing or wrong bearer token"}`,
			code: exitFailure, err: "unhealthy (admin.token missing or wrong): GET /readyz: 401 missing or wrong bearer token", path: "/readyz"},
		{name: "huge body", status: 503, body: strings.Repeat("é", 1<<20),
			code: exitFailure, err: "not ready: GET /readyz: 503 éé", path: "/readyz"},
		{name: "hostile body", status: 503, body: `{"status":"x` + strings.Repeat("\x1b[31m\u202e", 200) + `"}`,
			code: exitFailure, err: "not ready: GET /readyz: 503 {\"status\":\"x\uFFFD[31m\u202e", path: "/readyz"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			status, body, gotAuth, gotPath = tt.status, tt.body, "", ""
			code, out, errOut := opsCLI(t, append([]string{"health", "--admin", addr}, tt.args...)...)
			assert.Equal(t, tt.code, code, "stdout %q stderr %q", out, errOut)
			if tt.out != "" {
				assert.Contains(t, out, tt.out)
				assert.Equal(t, 1, strings.Count(out, "\n"), "one line")
			}
			if tt.err != "" {
				assert.Contains(t, errOut, tt.err)
				assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
				assert.LessOrEqual(t, len(errOut), maxReasonBytes+100)
				assert.NotContains(t, errOut, "\x1b")
			}
			assert.Equal(t, tt.path, gotPath)
			assert.Equal(t, tt.auth, gotAuth)
		})
	}

	t.Run("nothing listens", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		free := l.Addr().String()
		require.NoError(t, l.Close())
		code, _, errOut := opsCLI(t, "health", "--admin", free)
		assert.Equal(t, exitFailure, code)
		assert.Contains(t, errOut, "resolver: unhealthy: GET http://"+free+"/readyz:")
	})
	t.Run("the configured address", func(t *testing.T) {
		t.Setenv("RESOLVER_ADMIN_ADDR", addr)
		status, body = 200, `{"status":"ready"}`
		code, out, _ := opsCLI(t, "health")
		assert.Equal(t, exitOK, code)
		assert.Contains(t, out, "ok: GET /readyz")
	})
	for _, tt := range []struct {
		name string
		args []string
		env  string
		err  string
	}{
		{"admin off", []string{"--config", writeFile(t, "off.yaml", "admin:\n  addr: \"\"\n")}, "", "admin.addr is empty"},
		{"bad address", []string{"--admin", "nohost"}, "127.0.0.1:9464", `--admin "nohost"`},
		{"port 0", []string{"--admin", "127.0.0.1:0"}, "127.0.0.1:9464", `--admin "127.0.0.1:0"`},
		{"bad timeout", []string{"--admin", addr, "--timeout", "0s"}, "127.0.0.1:9464", "--timeout 0s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("RESOLVER_ADMIN_ADDR", tt.env)
			}
			code, _, errOut := opsCLI(t, append([]string{"health"}, tt.args...)...)
			assert.Equal(t, exitConfig, code, errOut)
			assert.Contains(t, errOut, tt.err)
		})
	}
}

// TestConfigValidate: OK (exit 0) for a valid configuration; every error,
// each naming its key and value, and exit 1 otherwise — including what
// only reading the files it names finds (teams.file).
func TestConfigValidate(t *testing.T) {
	code, out, _ := opsCLI(t, "config", "validate")
	assert.Equal(t, exitOK, code)
	assert.True(t, strings.HasPrefix(out, "OK: 65 keys valid (0 from the file, 0 from the environment, 0 from flags"), out)

	file := writeFile(t, "r.yaml", "kafka:\n  topic_partitions: 4\noutput:\n  compression: gzip\n")
	t.Setenv("RESOLVER_TOPICS_PREFIX", "prod_")
	code, out, _ = opsCLI(t, "--config", file, "--log-level", "warn", "config", "validate")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "OK: 65 keys valid (2 from the file, 1 from the environment, 1 from flags")

	for _, tt := range []struct {
		name string
		file string
		env  map[string]string
		want []string
	}{
		{"values", "kafka:\n  topic_partitions: 0\n  compression: brotli\noutput:\n  compression: \"\"\n", map[string]string{"RESOLVER_TOPICS_PREFIX": "a/b"},
			[]string{`config: kafka.topic_partitions: 0: must be at least 1`, `config: kafka.compression: "brotli": must be one of`,
				`config: output.compression: "": must be one of none, snappy, lz4, zstd, gzip`, `config: topics.prefix: "a/b": has '/'`}},
		{"unknown key", "output:\n  codec: gzip\n", nil, []string{"output.codec: unknown key"}},
		{"missing teams file", "teams:\n  file: /nonexistent/teams.yaml\n", nil, []string{"teams.file", "/nonexistent/teams.yaml"}},
		{"secret not shown", "identity:\n  master_key: not-hex-secret\n", nil, []string{"identity.master_key"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, out, errOut := opsCLI(t, "--config", writeFile(t, "r.yaml", tt.file), "config", "validate")
			assert.Equal(t, exitFailure, code)
			assert.Empty(t, out)
			for _, w := range tt.want {
				assert.Contains(t, errOut, w)
			}
			assert.NotContains(t, errOut, "not-hex-secret")
			for _, line := range strings.Split(strings.TrimSpace(errOut), "\n") {
				assert.True(t, strings.HasPrefix(line, "resolver: "), "one error a line: %q", line)
			}
		})
	}
	t.Run("stray environment", func(t *testing.T) {
		t.Setenv("RESOLVER_OUTPUT_CODEC", "gzip")
		code, _, errOut := opsCLI(t, "config", "validate")
		assert.Equal(t, exitOK, code)
		assert.Contains(t, errOut, "warning: environment variable RESOLVER_OUTPUT_CODEC names no config key")
	})
}

// TestConfigPrint: every key once, in the file's order, with its source
// (default < file < env < flag), secrets masked; the YAML loads back as
// the same configuration; JSON is a list of {key, value, source}.
func TestConfigPrint(t *testing.T) {
	file := writeFile(t, "r.yaml", "kafka:\n  topic_partitions: 4\n  sasl:\n    password: filepass\n"+
		"output:\n  compression: zstd\nadmin:\n  token: filetoken\n"+
		"billing:\n  tiers:\n    anonymous:\n      - {up_to: 10, unit_price: \"0\"}\n      - {unit_price: \"0.5\"}\n")
	t.Setenv("RESOLVER_KAFKA_TOPIC_PARTITIONS", "6")
	t.Setenv("RESOLVER_IDENTITY_MASTER_KEY", strings.Repeat("ab", 32))
	t.Setenv("RESOLVER_TOPICS_PREFIX", "dev.")
	t.Setenv("RESOLVER_STATE_DIR", "/env/state")

	code, out, errOut := opsCLI(t, "--config", file, "--state-dir", "/flag/state", "config", "print", "--format", "json")
	require.Equal(t, exitOK, code, errOut)
	var entries []configEntry
	require.NoError(t, json.Unmarshal([]byte(out), &entries))
	got := map[string]configEntry{}
	var keys []string
	for _, e := range entries {
		_, dup := got[e.Key]
		require.False(t, dup, "%s twice", e.Key)
		got[e.Key] = e
		keys = append(keys, e.Key)
	}
	assert.Len(t, entries, len(flatten(defaultConfig())))
	assert.Equal(t, "kafka.brokers", keys[0], "the file's order")
	for key, want := range map[string]configEntry{
		"kafka.client_id":        {Value: "resolver", Source: "default"},
		"kafka.topic_partitions": {Value: 6.0, Source: "env"},
		"output.compression":     {Value: "zstd", Source: "file"},
		"topics.prefix":          {Value: "dev.", Source: "env"},
		"topics.raw":             {Value: "events_raw", Source: "default"},
		"state.dir":              {Value: "/flag/state", Source: "flag"},
		"kafka.session_timeout":  {Value: "10s", Source: "default"},
		"kafka.sasl.password":    {Value: masked, Source: "file"},
		"admin.token":            {Value: masked, Source: "file"},
		"identity.master_key":    {Value: masked, Source: "env"},
		"log.redact_key":         {Value: "", Source: "default"},
	} {
		assert.Equal(t, want.Value, got[key].Value, key)
		assert.Equal(t, want.Source, got[key].Source, key)
	}
	assert.Equal(t, "file", got["billing.tiers.anonymous"].Source)
	assert.Equal(t, "default", got["billing.tiers.identified"].Source)
	for _, secret := range []string{"filepass", "filetoken", strings.Repeat("ab", 32)} {
		assert.NotContains(t, out, secret)
	}

	// YAML: the same keys, sources as comments, and it is a config file.
	code, yml, errOut := opsCLI(t, "--config", file, "config", "print")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, yml, "kafka:\n  brokers: []  # default\n  embedded:\n    listen: \"127.0.0.1:9092\"  # default\n")
	assert.Contains(t, yml, "\noutput:\n")
	assert.Contains(t, yml, "  compression: \"zstd\"  # file\n")
	assert.Contains(t, yml, `  anonymous: [{"up_to":10,"unit_price":"0.00"},{"unit_price":"0.50"}]  # file`)
	want, _, err := loadConfig(file, nil) // with the environment
	require.NoError(t, err)
	want.Kafka.SASL.Password, want.Admin.Token, want.Identity.MasterKey = "", "", ""
	for _, k := range []string{"RESOLVER_KAFKA_TOPIC_PARTITIONS", "RESOLVER_IDENTITY_MASTER_KEY", "RESOLVER_TOPICS_PREFIX", "RESOLVER_STATE_DIR"} {
		t.Setenv(k, "") // empty: unset, for viper
	}
	printed := strings.NewReplacer(`"`+masked+`"`, `""`).Replace(yml) // secrets left out
	reread, _, err := loadConfig(writeFile(t, "printed.yaml", printed), nil)
	require.NoError(t, err, "%s", printed)
	assert.Equal(t, want, reread)

	// An invalid configuration is printed, then its errors; exit 1.
	code, out, errOut = opsCLI(t, "--config", writeFile(t, "bad.yaml", "kafka:\n  topic_partitions: 0\n"), "config", "print")
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, out, "topic_partitions: 0  # file")
	assert.Contains(t, errOut, "config: kafka.topic_partitions: 0: must be at least 1")

	code, _, errOut = opsCLI(t, "config", "print", "--format", "toml")
	assert.Equal(t, exitConfig, code)
	assert.Contains(t, errOut, `--format "toml"`)
	code, _, errOut = opsCLI(t, "config", "frobnicate")
	assert.Equal(t, exitConfig, code)
	assert.Contains(t, errOut, `unknown command "frobnicate"`)
}

// TestTopicsPrefix: topics.prefix goes in front of every topic name the
// pipeline gets; a prefix outside Kafka's characters, or too long for the
// longest name, is one error naming topics.prefix (not one per topic).
func TestTopicsPrefix(t *testing.T) {
	cfg := defaultConfig()
	cfg.Topics.Prefix = "prod_"
	require.NoError(t, cfg.Validate())
	st := cfg.streamConfig().Topics
	for i, name := range st.All() {
		assert.Equal(t, "prod_"+stream.DefaultTopics().All()[i], name)
	}
	assert.Equal(t, "prod_events_raw", cfg.streamTopics().Raw)

	long := strings.Repeat("p", maxTopicNameBytes-len("person_distinct_ids"))
	for _, tt := range []struct {
		prefix string
		ok     bool
		reason string
	}{
		{"", true, ""},
		{"a.b-c_9", true, ""},
		{long, true, ""},
		{long + "x", false, "over Kafka's 249"},
		{"a b", false, "has ' '"},
		{"ü", false, "has 'ü'"},
		{"a\x00", false, `has '\x00'`},
		{"a/", false, "has '/'"},
	} {
		cfg := defaultConfig()
		cfg.Topics.Prefix = tt.prefix
		err := cfg.Validate()
		if tt.ok {
			assert.NoError(t, err, "%q", tt.prefix)
			continue
		}
		require.Error(t, err, "%q", tt.prefix)
		assert.Equal(t, 1, strings.Count(err.Error(), "\n")+1, "one error: %v", err)
		assert.Contains(t, err.Error(), "config: topics.prefix: ")
		assert.Contains(t, err.Error(), tt.reason)
	}

	// A prefixed name that clashes is the pipeline's error, naming the key.
	cfg = defaultConfig()
	cfg.Topics.Prefix = "x"
	cfg.Topics.Person = "events_raw"
	assert.ErrorContains(t, cfg.Validate(), `config: topics.person: "xevents_raw": same topic as topics.raw`)
}

// TestOutputCompressionConfig: output.compression reaches the pipeline
// apart from kafka.compression, defaults to none, and is checked.
func TestOutputCompressionConfig(t *testing.T) {
	cfg := defaultConfig()
	assert.Equal(t, "none", cfg.Output.Compression)
	assert.Equal(t, "snappy", cfg.Kafka.Compression)
	for _, c := range stream.Compressions {
		cfg.Output.Compression = c
		require.NoError(t, cfg.Validate(), c)
		sc := cfg.streamConfig()
		assert.Equal(t, c, sc.Kafka.OutputCompression)
		assert.Equal(t, "snappy", sc.Kafka.Compression)
	}
	for _, bad := range []string{"", "SNAPPY", "brotli", "gzip "} {
		cfg.Output.Compression = bad
		assert.ErrorContains(t, cfg.Validate(), "config: output.compression: ", bad)
	}
}

// TestHealthAgainstRun: `resolver health` against a real `resolver run`
// (embedded broker, admin server behind a token): not ready or ok while it
// starts, ok once ready, not able to connect once stopped.
func TestHealthAgainstRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real pipeline")
	}
	const token = "t0ken-health"
	t.Setenv("RESOLVER_ADMIN_TOKEN", token)
	run := startRealRun(t, "")
	addr := strings.TrimPrefix(run.base, "http://")
	code, out, _ := opsCLI(t, "health", "--admin", addr, "--live")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "ok: GET /healthz: 200 ok")
	wait(t, 60*time.Second, "resolver health says ok", func() bool {
		code, _, _ := opsCLI(t, "health", "--admin", addr)
		return code == exitOK
	})
	run.stop(t)
	code, _, errOut := opsCLI(t, "health", "--admin", addr)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errOut, "resolver: unhealthy: GET http://"+addr+"/readyz")
}

// codecHook records the compression codec of every batch a client fetches,
// by topic (kgo: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
type codecHook struct {
	mu     sync.Mutex
	codecs map[string]map[uint8]int
}

func (h *codecHook) OnFetchBatchRead(_ kgo.BrokerMetadata, topic string, _ int32, m kgo.FetchBatchMetrics) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.codecs == nil {
		h.codecs = map[string]map[uint8]int{}
	}
	if h.codecs[topic] == nil {
		h.codecs[topic] = map[uint8]int{}
	}
	h.codecs[topic][m.CompressionType]++
}

func (h *codecHook) of(topic string) map[uint8]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.codecs[topic])
}

// TestOpsRealRun runs `resolver run` on the embedded broker with
// topics.prefix and output.compression set, and checks on the wire and on
// /metrics: every topic has the prefix; the outputs are written with
// output.compression (gzip) and identity_log with kafka.compression
// (snappy); resolver_build_info, resolver_consumer_lag_records for the
// input's partitions (0 once everything is consumed) and franz-go's client
// metrics are served.
func TestOpsRealRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real pipeline")
	}
	run := startRealRun(t, "kafka:\n  session_timeout: 6s\n  topic_partitions: 2\nstream:\n  shutdown_timeout: 20s\n"+
		"topics:\n  prefix: t16.\noutput:\n  compression: gzip\n")
	base, broker := run.base, run.broker
	ctx := t.Context()
	wait(t, 60*time.Second, "/readyz", func() bool {
		code, _, err := httpGet(t, base+"/readyz", "")
		return err == nil && code == http.StatusOK
	})

	// 20 events of 10 users, with $set properties (identity ops) and
	// repetitive bytes that compress.
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.DefaultProduceTopic("t16.events_raw"))
	require.NoError(t, err)
	defer cl.Close()
	var recs []*kgo.Record
	for i := range 20 {
		did := fmt.Sprintf("user-%d", i%10)
		v := fmt.Sprintf(`{"event":"$pageview","distinct_id":%q,"team_id":1,"properties":{"$set":{"plan":"pro"},"pad":%q}}`,
			did, strings.Repeat("abcdefgh", 64))
		recs = append(recs, &kgo.Record{Key: []byte("1:" + did), Value: []byte(v)})
	}
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())

	var mfs map[string]*dto.MetricFamily
	wait(t, 60*time.Second, "20 records consumed", func() bool {
		mfs = scrape(t, base, "")
		v, _ := sample(mfs, "resolver_events_consumed_total", nil)
		return v >= 20
	})

	// On the wire: the codecs, and the prefix on every topic.
	hook := &codecHook{}
	rd, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.WithHooks(hook), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeTopics("t16.events_person", "t16.persons", "t16.billing_usage", "t16.identity_log"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer rd.Close()
	got := map[string]int{}
	wait(t, 30*time.Second, "the outputs and identity_log read back", func() bool {
		pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer pcancel()
		rd.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got[r.Topic]++ })
		return got["t16.events_person"] >= 20 && got["t16.persons"] > 0 && got["t16.billing_usage"] > 0 && got["t16.identity_log"] > 0
	})
	// Only the codec configured for a topic, or none: a transaction's
	// commit markers are never compressed, and franz-go sends a batch
	// uncompressed when compressing does not make it smaller (one small
	// billing row).
	const none, gzip, snappy = 0, 1, 2
	for _, topic := range []string{"t16.events_person", "t16.persons", "t16.billing_usage"} {
		codecs := hook.of(topic)
		delete(codecs, none)
		assert.Subset(t, []uint8{gzip}, slices.Collect(maps.Keys(codecs)), "%s: output.compression", topic)
	}
	assert.Positive(t, hook.of("t16.events_person")[gzip], "stamped events gzipped")
	assert.Positive(t, hook.of("t16.persons")[gzip], "person rows gzipped")
	codecs := hook.of("t16.identity_log")
	delete(codecs, none)
	assert.Equal(t, []uint8{snappy}, slices.Collect(maps.Keys(codecs)), "identity_log: kafka.compression")
	adm := kadm.NewClient(rd)
	topics, err := adm.ListTopics(ctx)
	require.NoError(t, err)
	for _, name := range topics.Names() {
		assert.True(t, strings.HasPrefix(name, "t16."), "topic %s without topics.prefix", name)
	}
	assert.Len(t, topics.Names(), len(stream.DefaultTopics().All()))

	// On /metrics.
	b := currentBuild()
	v, ok := sample(mfs, "resolver_build_info", labels("version", b.Version, "commit", b.Commit, "goversion", b.GoVersion))
	assert.True(t, ok && v == 1, "resolver_build_info")
	wait(t, 30*time.Second, "consumer lag 0 on the input's partitions", func() bool {
		mfs = scrape(t, base, "")
		mf := mfs["resolver_consumer_lag_records"]
		if mf == nil || len(mf.GetMetric()) == 0 {
			return false
		}
		for _, m := range mf.GetMetric() {
			topic := ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "topic" {
					topic = lp.GetValue()
				}
			}
			if topic != "t16.events_raw" || m.GetGauge().GetValue() != 0 {
				return false
			}
		}
		return true
	})
	// Each worker session has its client's metrics, labelled worker,
	// worker-2, ... (stream.workers: 2): the input's partitions are
	// shared among them, so the stamped events' bytes are their sum.
	produced, ok := workersSum(mfs, "resolver_produce_uncompressed_bytes_total", "t16.events_person")
	require.True(t, ok, "franz-go's client metrics of the worker")
	compressed, _ := workersSum(mfs, "resolver_produce_compressed_bytes_total", "t16.events_person")
	assert.Greater(t, produced, 20*512.0)
	assert.Less(t, compressed, produced/4, "gzip on the repetitive padding")
	for _, role := range []string{"ops", "admin"} {
		assert.Contains(t, clientIDs(mfs), role)
	}

	run.stop(t)
}

// clientIDs lists the client_id label values of franz-go's connection
// metric.
func clientIDs(mfs map[string]*dto.MetricFamily) []string {
	var out []string
	for _, m := range mfs["resolver_connects_total"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "client_id" {
				out = append(out, lp.GetValue())
			}
		}
	}
	return out
}

// workersSum sums a counter of topic over the worker sessions' clients
// (client_id worker, worker-2, ...).
func workersSum(mfs map[string]*dto.MetricFamily, name, topic string) (float64, bool) {
	mf, ok := mfs[name]
	if !ok {
		return 0, false
	}
	sum, found := 0.0, false
	for _, m := range mf.GetMetric() {
		var client, t string
		for _, lp := range m.GetLabel() {
			switch lp.GetName() {
			case "client_id":
				client = lp.GetValue()
			case "topic":
				t = lp.GetValue()
			}
		}
		if t == topic && (client == "worker" || strings.HasPrefix(client, "worker-")) && m.Counter != nil {
			sum += m.Counter.GetValue()
			found = true
		}
	}
	return sum, found
}
