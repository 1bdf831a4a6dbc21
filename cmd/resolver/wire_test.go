package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/resolver-dev/resolver/pkg/state"
)

// TestOpenStateLocked: a state dir held by another store is refused with a
// message naming the dir, and the chain still classifies as locked.
func TestOpenStateLocked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "identity")
	log := zaptest.NewLogger(t)
	st, err := openState(dir, defaultConfig().State, log)
	require.NoError(t, err)
	defer st.Close()

	_, err = openState(dir, defaultConfig().State, log)
	require.Error(t, err)
	assert.True(t, state.IsLocked(err), "%v", err)
	assert.Contains(t, err.Error(), "state directory "+dir+" is locked by another process")
	assert.Equal(t, exitFailure, exitCode(err))
}

// firstLogField returns field of the first JSON log line of stderr whose
// msg is msg.
func firstLogField(stderr, msg, field string) (any, bool) {
	sc := bufio.NewScanner(strings.NewReader(stderr))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			v, ok := m[field]
			return v, ok
		}
	}
	return nil, false
}

// TestRunRealPipeline is a smoke test of the real wiring: `resolver run` on
// the embedded broker stamps an event, a second `run` on the same
// state.dir is refused naming the locked dir (exit 1), the first stops
// cleanly on cancel (exit 0), and a restart on the same dirs starts and
// stops cleanly again.
func TestRunRealPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real pipeline")
	}
	dir := t.TempDir()
	cfgFile := writeFile(t, "resolver.yaml", "kafka:\n  session_timeout: 6s\nstream:\n  shutdown_timeout: 20s\n")
	args := []string{"--config", cfgFile, "--state-dir", dir, "--log-format", "json", "run", "--embedded-listen", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}

	start := func() (addr string, stop func() (int, string)) {
		t.Helper()
		var stdout, stderr syncBuffer
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan int, 1)
		go func() { done <- execute(ctx, args, &stdout, &stderr) }()
		wait(t, 30*time.Second, "the pipeline to start", func() bool {
			select {
			case code := <-done:
				t.Fatalf("run exited with %d; stderr:\n%s", code, stderr.String())
			default:
			}
			_, ok := firstLogField(stderr.String(), "pipeline starting", "brokers")
			return ok
		})
		v, _ := firstLogField(stderr.String(), "pipeline starting", "brokers")
		return v.([]any)[0].(string), func() (int, string) {
			cancel()
			select {
			case code := <-done:
				return code, stderr.String()
			case <-time.After(40 * time.Second):
				t.Fatalf("run did not stop; stderr:\n%s", stderr.String())
				return 0, ""
			}
		}
	}

	addr, stop := start()

	sample, err := os.ReadFile("../../pkg/event/testdata/capture-sample.jsonl")
	require.NoError(t, err)
	event := []byte(strings.SplitN(string(sample), "\n", 2)[0])
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.ConsumeTopics("events_person"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "events_raw", Value: event}).FirstErr())
	var stamped []*kgo.Record
	for len(stamped) == 0 && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		stamped = append(stamped, fs.Records()...)
	}
	require.Len(t, stamped, 1, "stamped events")
	cl.Close()

	// A second instance on the same state.dir, using the first one's broker.
	var stderr2 syncBuffer
	code := execute(t.Context(), []string{"--config", cfgFile, "--state-dir", dir, "run", "--brokers", addr, "--admin-addr", "127.0.0.1:0"}, &syncBuffer{}, &stderr2)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, stderr2.String(), "state directory "+filepath.Join(dir, "identity")+" is locked by another process")

	code, stderr := stop()
	require.Equal(t, exitOK, code, "stderr:\n%s", stderr)
	_, ok := firstLogField(stderr, "stopped cleanly", "msg")
	assert.True(t, ok, "stderr:\n%s", stderr)

	_, stop = start()
	code, stderr = stop()
	require.Equal(t, exitOK, code, "restart; stderr:\n%s", stderr)
}
