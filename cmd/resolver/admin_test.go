package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// httpGet returns the status and body of a GET, with an optional bearer
// token.
func httpGet(t *testing.T, url, token string) (int, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func mustGet(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	code, body, err := httpGet(t, url, token)
	require.NoError(t, err, url)
	return code, body
}

// scrape parses /metrics with the Prometheus text parser.
func scrape(t *testing.T, base, token string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := mustGet(t, base+"/metrics", token)
	require.Equal(t, http.StatusOK, code, "%s", body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err)
	return mfs
}

// sample is the value of the series of a family whose labels include
// want (a histogram's sample count); ok is false without such a series.
func sample(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf, ok := mfs[name]
	if !ok {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		match := true
		for k, v := range want {
			found := false
			for _, lp := range m.GetLabel() {
				found = found || (lp.GetName() == k && lp.GetValue() == v)
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func labels(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// adminAddr waits for the "admin listening" line and returns its address.
func adminAddr(t *testing.T, logs *observer.ObservedLogs) string {
	t.Helper()
	var addr string
	wait(t, 10*time.Second, "admin listening", func() bool {
		e := logs.FilterMessage("admin listening").All()
		if len(e) == 0 {
			return false
		}
		addr, _ = e[0].ContextMap()["addr"].(string)
		return true
	})
	return addr
}

// probingStore is a fake store whose Close first asks the admin server how
// it is doing: it must still serve while the state closes (shutdown step
// 2), and say it is stopping.
type probingStore struct {
	stateStore
	probe func()
}

func (s probingStore) Close() error {
	s.probe()
	return s.stateStore.Close()
}

// TestRunAdminServer: `resolver run` serves the admin endpoints on
// admin.addr while the pipeline runs, keeps /healthz and /metrics up
// through the shutdown (with /readyz saying 503), and stops the server
// last, before returning.
func TestRunAdminServer(t *testing.T) {
	f := newFakeBackend()
	c := testCLI(t, f)
	core, logs := observer.New(zapcore.InfoLevel)
	var (
		mu                   sync.Mutex
		addr                 string
		healthAtClose, ready int
	)
	c.openState = func(dir string, sc StateConfig, log *zap.Logger) (stateStore, error) {
		st, err := f.open(dir, sc, log)
		if err != nil {
			return nil, err
		}
		return probingStore{st, func() {
			mu.Lock()
			defer mu.Unlock()
			healthAtClose, _, _ = httpGet(t, "http://"+addr+"/healthz", "")
			ready, _, _ = httpGet(t, "http://"+addr+"/readyz", "")
		}}, nil
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.runResolver(ctx, testConfig(t), zap.New(core)) }()
	<-f.started
	mu.Lock()
	addr = adminAddr(t, logs)
	mu.Unlock()
	base := "http://" + addr

	code, _ := mustGet(t, base+"/healthz", "")
	assert.Equal(t, http.StatusOK, code)
	code, body := mustGet(t, base+"/readyz", "")
	assert.Equal(t, http.StatusOK, code, "the fake pipeline has no readiness: ready; %s", body)
	mfs := scrape(t, base, "")
	for _, name := range []string{"resolver_transactions_total", "resolver_identity_ops_total", "go_goroutines"} {
		assert.Contains(t, mfs, name)
	}
	code, body = mustGet(t, base+"/v1/persons?team=1&distinct_id=a", "")
	assert.Equal(t, http.StatusServiceUnavailable, code, "the fake store has no lookups: %s", body)
	code, _ = mustGet(t, base+"/v1/persons?team=1", "")
	assert.Equal(t, http.StatusBadRequest, code)

	f.mu.Lock()
	assert.NotNil(t, f.cfg.Observer, "the pipeline reports to the metrics")
	assert.False(t, f.cfg.LogIDs, "log.redact is on by default")
	f.mu.Unlock()

	cancel()
	require.NoError(t, <-done)
	mu.Lock()
	assert.Equal(t, http.StatusOK, healthAtClose, "admin server down before the state closed")
	assert.Equal(t, http.StatusServiceUnavailable, ready, "/readyz during shutdown")
	mu.Unlock()
	_, _, err := httpGet(t, base+"/healthz", "")
	assert.Error(t, err, "admin server still up after run returned")
	assert.Equal(t, []string{"open state identity", "build pipeline", "pipeline running", "pipeline stopped", "close state"}, f.Events())
}

// TestRunAdminAddrInUse: an admin.addr that cannot be bound fails the
// start, naming the key, after closing what was opened (exit 1).
func TestRunAdminAddrInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	f := newFakeBackend()
	c := testCLI(t, f)
	cfg := testConfig(t)
	cfg.Admin.Addr = l.Addr().String()
	err = c.runResolver(t.Context(), cfg, zap.NewNop())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "admin.addr")
	assert.Equal(t, exitFailure, exitCode(err))
	assert.Equal(t, []string{"open state identity", "build pipeline", "close state"}, f.Events())
}

// TestRunAdminOff: with admin.addr empty nothing listens and the pipeline
// gets no observer; log.redact false reaches the pipeline as LogIDs.
func TestRunAdminOff(t *testing.T) {
	f := newFakeBackend()
	c := testCLI(t, f)
	cfg := testConfig(t)
	cfg.Admin.Addr = ""
	cfg.Log.Redact = false
	core, logs := observer.New(zapcore.InfoLevel)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.runResolver(ctx, cfg, zap.New(core)) }()
	<-f.started
	cancel()
	require.NoError(t, <-done)
	assert.Zero(t, logs.FilterMessage("admin listening").Len())
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Nil(t, f.cfg.Observer)
	assert.True(t, f.cfg.LogIDs, "log.redact: false prints ids")
}

// TestRunAdminRealPipeline drives traffic through the real pipeline on the
// embedded broker and checks, through the admin server, that the metrics
// named in issue 7 move, that the team label stops at
// admin.metrics_team_cap, and that lookups and billing answer from the
// running instance, behind the token.
func TestRunAdminRealPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real pipeline")
	}
	const token = "t0ken"
	run := startRealRun(t, "kafka:\n  session_timeout: 6s\nstream:\n  shutdown_timeout: 20s\n"+
		"admin:\n  token: "+token+"\n  metrics_team_cap: 1\n")
	base, broker, stderr := run.base, run.broker, run.stderr
	ctx := t.Context()
	code, body := mustGet(t, base+"/metrics", "")
	require.Equal(t, http.StatusUnauthorized, code, "%s", body)
	code, _ = mustGet(t, base+"/healthz", "")
	require.Equal(t, http.StatusOK, code)
	wait(t, 60*time.Second, "/readyz", func() bool {
		code, _, err := httpGet(t, base+"/readyz", token)
		return err == nil && code == http.StatusOK
	})

	now := time.Now().UTC()
	ts := func(s int) string { return now.Add(time.Duration(s-60) * time.Second).Format(time.RFC3339) }
	ev := func(n int, team int, name, did, props string) string {
		return fmt.Sprintf(`{"uuid":"00000000-0000-4000-8000-%012d","event":%q,"distinct_id":%q,"team_id":%d,"timestamp":%q,"properties":%s}`,
			n, name, did, team, ts(n), props)
	}
	team1 := []string{
		ev(1, 1, "$pageview", "anon-1", `{"$process_person_profile":false}`),
		ev(2, 1, "$identify", "user-1", `{"$anon_distinct_id":"anon-1","$set":{"email":"a@example.com"}}`),
		ev(3, 1, "$pageview", "user-1", `{}`),
		// A second user claims the same anonymous id: refused.
		ev(4, 1, "$identify", "user-2", `{"$anon_distinct_id":"anon-1"}`),
		`not json`,
		strings.Replace(ev(6, 1, "$pageview", "anon-2", `{"$process_person_profile":false}`), ts(6), "2099-01-01T00:00:00Z", 1),
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.DefaultProduceTopic("events_raw"))
	require.NoError(t, err)
	defer cl.Close()
	produce := func(evs []string) {
		var recs []*kgo.Record
		for _, e := range evs {
			recs = append(recs, &kgo.Record{Key: []byte("1:k"), Value: []byte(e)}) // one partition: in order
		}
		require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
	}
	var mfs map[string]*dto.MetricFamily
	waitConsumed := func(n float64) {
		wait(t, 60*time.Second, fmt.Sprintf("%v records consumed", n), func() bool {
			mfs = scrape(t, base, token)
			v, _ := sample(mfs, "resolver_events_consumed_total", nil)
			return v >= n
		})
		// One scrape is not a snapshot: it may have read the stamped
		// counters before the batch and the consumed one after it (a CI
		// failure). The batch counts consumed last, so the next scrape
		// has the batch's other counters.
		mfs = scrape(t, base, token)
	}
	produce(team1)
	waitConsumed(6)

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"resolver_events_consumed_total", nil, 6},
		{"resolver_events_stamped_total", labels("team", "1", "class", "anonymous"), 2},
		{"resolver_events_stamped_total", labels("team", "1", "class", "identified"), 3},
		{"resolver_events_dead_lettered_total", labels("reason", "invalid_json"), 1},
		{"resolver_ingestion_warnings_total", labels("type", unionfind.WarnAlreadyIdentified), 1},
		{"resolver_ingestion_warnings_total", labels("type", "timestamp_in_future"), 1},
		{"resolver_identity_merges_total", nil, 1},
		{"resolver_identity_merge_refusals_total", labels("type", unionfind.WarnAlreadyIdentified), 1},
		{"resolver_identity_ops_total", labels("result", "applied"), 2}, // the two $identify events
		{"resolver_metrics_team_labels", nil, 1},
	} {
		v, ok := sample(mfs, c.name, c.labels)
		assert.True(t, ok, "%s%v missing", c.name, c.labels)
		assert.Equal(t, c.want, v, "%s%v", c.name, c.labels)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"resolver_transactions_total", labels("outcome", "committed")},
		{"resolver_batch_duration_seconds", nil},
		{"resolver_transaction_duration_seconds", labels("outcome", "committed")},
		{"resolver_state_disk_bytes", nil},
		{"resolver_state_cache_misses_total", nil},
	} {
		v, ok := sample(mfs, c.name, c.labels)
		assert.True(t, ok, "%s%v missing", c.name, c.labels)
		assert.Positive(t, v, "%s%v", c.name, c.labels)
	}
	// Every op is applied once; a batch aborted and redone (a worker of
	// the instance joining the group after another took the partitions:
	// stream.workers is 2) logs its ops again, which the applier skips.
	// The logged count is the batches' that got as far as counting: at
	// least the committed one's two, at most what the applier saw.
	logged, _ := sample(mfs, "resolver_identity_ops_logged_total", nil)
	skipped, _ := sample(mfs, "resolver_identity_ops_total", labels("result", "skipped"))
	assert.GreaterOrEqual(t, logged, 2.0, "ops logged %v, skipped %v", logged, skipped)
	assert.LessOrEqual(t, logged, 2+skipped, "ops logged %v, skipped %v", logged, skipped)
	ratio, ok := sample(mfs, "resolver_state_cache_hit_ratio", nil)
	assert.True(t, ok)
	assert.True(t, ratio >= 0 && ratio <= 1, "ratio %v", ratio)
	wait(t, 30*time.Second, "the lag gauges", func() bool {
		mfs = scrape(t, base, token)
		off, ok1 := sample(mfs, "resolver_applier_lag_offsets", nil)
		sec, ok2 := sample(mfs, "resolver_applier_lag_seconds", nil)
		return ok1 && ok2 && off == 0 && sec == 0
	})

	// A second team, beyond the cap of 1: counted as "other".
	produce([]string{ev(7, 2, "$pageview", "x", `{"$process_person_profile":false}`)})
	waitConsumed(7)
	v, _ := sample(mfs, "resolver_events_stamped_total", labels("team", "other", "class", "anonymous"))
	assert.Equal(t, 1.0, v)
	_, ok = sample(mfs, "resolver_events_stamped_total", labels("team", "2"))
	assert.False(t, ok, "team 2 has a label beyond the cap")

	// Lookups and billing from the running instance.
	code, body = mustGet(t, base+"/v1/persons?team=1&distinct_id=user-1", token)
	require.Equal(t, http.StatusOK, code, "%s", body)
	var pv state.PersonView
	require.NoError(t, json.Unmarshal(body, &pv))
	assert.Equal(t, unionfind.ImplicitPersonID("1", "anon-1").String(), pv.PersonID)
	assert.True(t, pv.IsIdentified)
	assert.Len(t, pv.DistinctIDs, 2)
	code, body = mustGet(t, base+"/v1/persons?team=1&distinct_id=anon-2", token)
	assert.Equal(t, http.StatusNotFound, code, "%s", body)
	code, body = mustGet(t, base+"/v1/persons?team=1", token)
	assert.Equal(t, http.StatusBadRequest, code, "%s", body)
	wait(t, 30*time.Second, "billing view", func() bool {
		code, body = mustGet(t, base+"/v1/billing?team=1", token)
		var r struct {
			Statements []struct {
				Identified struct{ Events int64 }
				Anonymous  struct{ Events int64 }
			}
		}
		return code == http.StatusOK && json.Unmarshal(body, &r) == nil && len(r.Statements) > 0 &&
			r.Statements[0].Identified.Events == 3
	})
	code, body = mustGet(t, base+"/v1/billing?month=2026-13", token)
	assert.Equal(t, http.StatusBadRequest, code, "%s", body)

	run.stop(t)
	for _, id := range []string{"anon-1", "user-1", "user-2", "a@example.com"} {
		assert.NotContains(t, stderr.String(), id, "a distinct id or property value in the log")
	}
}
