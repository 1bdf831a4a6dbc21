package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/resolver-dev/resolver/internal/broker"
	"github.com/resolver-dev/resolver/internal/gen"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// makeState writes a small replica into <stateDir>/identity, as a stopped
// instance leaves it: a merged person with properties, applied offsets and
// billing totals.
func makeState(t *testing.T, stateDir string) {
	t.Helper()
	st, err := state.Open(filepath.Join(stateDir, "identity"), state.Options{})
	require.NoError(t, err)
	defer st.Close()
	kv := func(k, v string) []unionfind.KV { return []unionfind.KV{{Key: k, Value: json.RawMessage(v)}} }
	ops := []unionfind.Op{
		{Kind: unionfind.OpEvent, Team: "1", DistinctID: "anon-1", Timestamp: 1764000000000, Set: kv("plan", `"free"`)},
		{Kind: unionfind.OpEvent, Team: "1", DistinctID: "user-1", Timestamp: 1764000001000, Merge: &unionfind.Merge{Other: "anon-1", Guarded: true}, Set: kv("email", `"a@example.com"`)},
	}
	var g unionfind.Graph
	require.NoError(t, st.Update(func(tx state.Tx) error {
		for i := range ops {
			if _, err := g.Apply(tx, &ops[i]); err != nil {
				return err
			}
		}
		return tx.SetApplied(0, 2)
	}))
	require.NoError(t, st.ApplyBilling([]state.BillingDelta{{Team: "1", Month: "2025-11", Class: "identified", Count: 2}}, map[int32]int64{0: 2}))
}

// runCLI runs the command line in-process and returns its exit code, stdout
// and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	code := execute(t.Context(), append([]string{"--log-format", "json"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func summaryOf(t *testing.T, out string) stateSummary {
	t.Helper()
	var s stateSummary
	require.NoError(t, json.Unmarshal([]byte(out), &s), "stdout: %s", out)
	return s
}

// TestStateCommands runs fingerprint, lookup, snapshot and restore on a
// stopped instance's state dir and checks what they print against the
// store itself; the restored state is the same state.
func TestStateCommands(t *testing.T) {
	dir := t.TempDir()
	makeState(t, dir)
	st, err := state.Open(filepath.Join(dir, "identity"), state.Options{})
	require.NoError(t, err)
	fp, err := st.Fingerprint()
	require.NoError(t, err)
	cd, err := st.ContentDigest()
	require.NoError(t, err)
	wantView, err := st.Lookup("1", "anon-1")
	require.NoError(t, err)
	require.NoError(t, st.Close())
	want := stateSummary{StateDir: filepath.Join(dir, "identity"), Fingerprint: fp, ContentDigest: cd,
		IdentityLog: map[int32]int64{0: 2}, BillingUsage: map[int32]int64{0: 2}}

	code, out, errOut := runCLI(t, "--state-dir", dir, "fingerprint", "--format", "json")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, want, summaryOf(t, out))
	code, out, _ = runCLI(t, "--state-dir", dir, "fingerprint")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "fingerprint     "+fp)
	assert.Contains(t, out, "identity_log    2 (0:2)")
	assert.NotContains(t, out, "lineage index") // only with --rows

	// --rows: the store's own count, in JSON and as a table.
	st, err = state.Open(filepath.Join(dir, "identity"), state.Options{})
	require.NoError(t, err)
	wantRows, err := st.RowStats()
	require.NoError(t, err)
	require.NoError(t, st.Close())
	require.NotEmpty(t, wantRows)
	code, out, errOut = runCLI(t, "--state-dir", dir, "fingerprint", "--rows", "--format", "json")
	require.Equal(t, 0, code, errOut)
	withRows := want
	withRows.Rows = wantRows
	assert.Equal(t, withRows, summaryOf(t, out))
	code, out, _ = runCLI(t, "--state-dir", dir, "fingerprint", "--rows")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "fingerprint     "+fp)
	for _, k := range wantRows {
		assert.Regexp(t, fmt.Sprintf(`%s +%s +%d +%d +%d +[0-9.]+%%`, regexp.QuoteMeta(k.Kind), regexp.QuoteMeta(k.Tag), k.Rows, k.KeyBytes, k.ValueBytes), out)
	}

	code, out, errOut = runCLI(t, "--state-dir", dir, "lookup", "--team", "1", "--distinct-id", "anon-1", "--format", "json")
	require.Equal(t, 0, code, errOut)
	var v state.PersonView
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	assert.Equal(t, wantView, v)
	code, out, _ = runCLI(t, "--state-dir", dir, "lookup", "--team", "1", "--distinct-id", "user-1")
	require.Equal(t, 0, code)
	for _, s := range []string{
		"person_id      " + unionfind.ImplicitPersonID("1", "anon-1").String() + " (explicit)",
		"is_identified  true", "distinct_ids (2)", "  0        anon-1", "  1        user-1",
		`  email  "a@example.com"  2025-11-24T16:00:01.000Z`,
	} {
		assert.Contains(t, out, s)
	}
	code, out, _ = runCLI(t, "--state-dir", dir, "lookup", "--team", "1", "--distinct-id", "stranger")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "(implicit: no stored person claims this distinct_id)")

	snap := filepath.Join(t.TempDir(), "state.snap")
	code, out, errOut = runCLI(t, "--state-dir", dir, "snapshot", "--out", snap, "--format", "json")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, want, summaryOf(t, out))
	code, _, errOut = runCLI(t, "--state-dir", dir, "snapshot", "--out", snap)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, snap+" exists")
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(snap), ".*tmp*"))
	assert.Empty(t, leftovers, "temporary files left beside the snapshot")

	fresh := t.TempDir()
	code, out, errOut = runCLI(t, "--state-dir", fresh, "restore", "--from", snap, "--format", "json")
	require.Equal(t, 0, code, errOut)
	got := summaryOf(t, out)
	want.StateDir = filepath.Join(fresh, "identity")
	assert.Equal(t, want, got)
	code, out, _ = runCLI(t, "--state-dir", fresh, "lookup", "--team", "1", "--distinct-id", "anon-1", "--format", "json")
	require.Equal(t, 0, code)
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	assert.Equal(t, wantView, v, "lookup on the restored state")

	code, _, errOut = runCLI(t, "--state-dir", fresh, "restore", "--from", snap)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "is not empty")
	assert.Contains(t, errOut, "choose a fresh --state-dir")

	garbage := filepath.Join(t.TempDir(), "garbage")
	require.NoError(t, os.WriteFile(garbage, []byte("not a snapshot"), 0o644))
	code, _, errOut = runCLI(t, "--state-dir", t.TempDir(), "restore", "--from", garbage)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "restore "+garbage+" into ")
	assert.Contains(t, errOut, "not a resolver snapshot")

	// The file: a plain-text header, then the compressed backup. Damaged,
	// it is refused naming the file, and the target is left empty.
	data, err := os.ReadFile(snap)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(data), "resolver-snapshot\n{\"format\":2,\"compression\":\"zstd\","), "%.80q", data)
	data[len(data)-20] ^= 0xff
	damaged := filepath.Join(t.TempDir(), "damaged.snap")
	require.NoError(t, os.WriteFile(damaged, data, 0o644))
	target := t.TempDir()
	code, _, errOut = runCLI(t, "--state-dir", target, "restore", "--from", damaged)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "restore "+damaged+" into "+filepath.Join(target, "identity"))
	assert.Contains(t, errOut, "decompress")
	_, err = os.Stat(filepath.Join(target, "identity"))
	assert.True(t, os.IsNotExist(err), "a failed restore left %s behind", filepath.Join(target, "identity"))
}

// TestStateCommandsRefuse: a state dir held by a running instance, a
// missing state dir and bad command lines are refused with messages that
// say what to do, and the locked state is left alone.
func TestStateCommandsRefuse(t *testing.T) {
	dir := t.TempDir()
	makeState(t, dir)
	held, err := state.Open(filepath.Join(dir, "identity"), state.Options{})
	require.NoError(t, err)
	fp, err := held.Fingerprint()
	require.NoError(t, err)

	for _, args := range [][]string{
		{"fingerprint"},
		{"lookup", "--team", "1", "--distinct-id", "a"},
		{"snapshot", "--out", filepath.Join(t.TempDir(), "s")},
		{"rebuild", "--brokers", "127.0.0.1:1"},
	} {
		code, _, errOut := runCLI(t, append([]string{"--state-dir", dir}, args...)...)
		assert.Equal(t, 1, code, "%v", args)
		assert.Contains(t, errOut, "state directory "+filepath.Join(dir, "identity")+" is locked by another process", "%v", args)
		assert.Contains(t, errOut, "`resolver "+args[0]+"` works on a stopped instance's state", "%v", args)
	}
	got, err := held.Fingerprint()
	require.NoError(t, err)
	assert.Equal(t, fp, got, "state changed under a refused command")
	require.NoError(t, held.Close())

	missing := filepath.Join(t.TempDir(), "nowhere")
	for _, args := range [][]string{{"fingerprint"}, {"lookup", "--team", "1", "--distinct-id", "a"}, {"snapshot", "--out", filepath.Join(t.TempDir(), "s")}} {
		code, _, errOut := runCLI(t, append([]string{"--state-dir", missing}, args...)...)
		assert.Equal(t, 1, code, "%v", args)
		assert.Contains(t, errOut, "no resolver state in "+filepath.Join(missing, "identity"), "%v", args)
		_, err := os.Stat(missing)
		assert.True(t, os.IsNotExist(err), "%v created the state dir", args)
	}

	for _, args := range [][]string{
		{"lookup", "--distinct-id", "a"},
		{"lookup", "--team", "1"},
		{"lookup", "--team", "1", "--distinct-id", "a", "--format", "yaml"},
		{"fingerprint", "--format", "csv"},
		{"snapshot"},
		{"restore"},
		{"rebuild", "--progress-interval", "0s"},
		{"fingerprint", "extra"},
	} {
		code, _, errOut := runCLI(t, append([]string{"--state-dir", dir}, args...)...)
		assert.Equal(t, 2, code, "%v: %s", args, errOut)
	}

	// No brokers and no embedded broker data: nothing to replay from, and
	// nothing is deleted.
	code, _, errOut := runCLI(t, "--state-dir", dir, "rebuild")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "kafka.brokers is empty and there is no embedded broker data in "+filepath.Join(dir, "broker"))
	code, out, _ := runCLI(t, "--state-dir", dir, "fingerprint", "--format", "json")
	require.Equal(t, 0, code)
	assert.Equal(t, fp, summaryOf(t, out).Fingerprint)
}

// TestRebuildCommand: with the embedded broker's data in state.dir/broker
// and no kafka.brokers, rebuild replays what `run` logged and prints the
// fingerprint the instance had; a cluster without identity_log is refused
// before anything is deleted.
func TestRebuildCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real pipeline")
	}
	dir := t.TempDir()
	cfgFile := writeFile(t, "resolver.yaml", "kafka:\n  session_timeout: 6s\nstream:\n  shutdown_timeout: 20s\n")
	ctx, cancel := context.WithCancel(t.Context())
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, []string{"--config", cfgFile, "--state-dir", dir, "--log-format", "json", "run", "--embedded-listen", "127.0.0.1:0"}, &syncBuffer{}, &stderr)
	}()
	wait(t, 30*time.Second, "ready", func() bool { _, ok := firstLogField(stderr.String(), "ready", "msg"); return ok })
	v, _ := firstLogField(stderr.String(), "pipeline starting", "brokers")
	addr := v.([]any)[0].(string)
	cfg := clusterInput()
	cfg.Users = 15
	produceAndWait(t, addr, generate(cfg))
	time.Sleep(500 * time.Millisecond) // the last ops reach the applier
	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, stderr.String())
	case <-time.After(40 * time.Second):
		t.Fatal("run did not stop")
	}

	code, out, errOut := runCLI(t, "--config", cfgFile, "--state-dir", dir, "fingerprint", "--format", "json")
	require.Equal(t, 0, code, errOut)
	before := summaryOf(t, out)
	require.NotEmpty(t, before.IdentityLog, "the sample logged no identity ops")

	prof := filepath.Join(t.TempDir(), "rebuild.pprof")
	code, out, errOut = runCLI(t, "--config", cfgFile, "--state-dir", dir, "rebuild", "--embedded-listen", "127.0.0.1:0", "--format", "json", "--cpuprofile", prof)
	require.Equal(t, 0, code, errOut)
	after := summaryOf(t, out)
	assert.Equal(t, before, after, "rebuild reproduces the state")
	_, ok := firstLogField(errOut, "rebuild replayed", "records_per_s")
	assert.True(t, ok, "no final progress line on a non-terminal:\n%s", errOut)
	if st, err := os.Stat(prof); assert.NoError(t, err, "--cpuprofile wrote no file") {
		assert.Positive(t, st.Size(), "--cpuprofile wrote an empty file")
	}

	// A --cpuprofile that cannot be created: refused, naming it, before
	// anything is deleted.
	code, _, errOut = runCLI(t, "--config", cfgFile, "--state-dir", dir, "rebuild", "--embedded-listen", "127.0.0.1:0",
		"--cpuprofile", filepath.Join(t.TempDir(), "missing", "dir", "p.pprof"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "--cpuprofile")
	code, out, _ = runCLI(t, "--config", cfgFile, "--state-dir", dir, "fingerprint", "--format", "json")
	require.Equal(t, 0, code)
	assert.Equal(t, before, summaryOf(t, out), "a refused --cpuprofile deleted the state")

	// A cluster without identity_log: refused, nothing deleted.
	other := t.TempDir()
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", DataDir: other})
	require.NoError(t, err)
	defer b.Close()
	code, _, errOut = runCLI(t, "--config", cfgFile, "--state-dir", dir, "rebuild", "--brokers", b.Addrs()[0])
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "has no topic identity_log")
	assert.Contains(t, errOut, "nothing was deleted")
	code, out, _ = runCLI(t, "--config", cfgFile, "--state-dir", dir, "fingerprint", "--format", "json")
	require.Equal(t, 0, code)
	assert.Equal(t, before, summaryOf(t, out))
}

// TestRebuildProgress: the bar's line, and the log lines on a non-terminal
// with records/s and ETA.
func TestRebuildProgress(t *testing.T) {
	p := stream.RebuildProgress{IdentityDone: 300, IdentityTotal: 900, BillingDone: 100, BillingTotal: 100, Elapsed: 2 * time.Second}
	assert.Equal(t, "rebuild [########............]  40%  400/1000 records  200 rec/s  ETA 3s ", progressLine(p, 20))
	rate, eta := rateETA(p)
	assert.InDelta(t, 200, rate, 0.001)
	assert.Equal(t, 3*time.Second, eta)
	assert.Equal(t, float64(100), percent(stream.RebuildProgress{}), "nothing to do is done")

	core, logs := observer.New(zap.InfoLevel)
	r := newRebuildProgress(&syncBuffer{}, zap.New(core), time.Millisecond)
	r.update(p)
	time.Sleep(2 * time.Millisecond)
	r.update(p)
	r.finish(p)
	msgs := []string{}
	for _, e := range logs.All() {
		msgs = append(msgs, e.Message)
	}
	assert.Equal(t, []string{"rebuild progress", "rebuild replayed"}, msgs)
	f := logs.All()[0].ContextMap()
	assert.Equal(t, int64(400), f["records"])
	assert.Equal(t, 200.0, f["records_per_s"])
	assert.Equal(t, 3*time.Second, f["eta"])
}

// produceAndWait produces recs to events_raw at addr and waits until as many
// outputs are committed to events_person and events_dead_letter.
func produceAndWait(t *testing.T, addr string, recs []gen.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("events_raw"),
		kgo.ConsumeTopics("events_person", "events_dead_letter"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()
	batch := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		batch[i] = &kgo.Record{Key: r.Key, Value: r.Value}
	}
	require.NoError(t, cl.ProduceSync(ctx, batch...).FirstErr())
	n := 0
	for n < len(recs) {
		require.NoError(t, ctx.Err(), "%d of %d outputs", n, len(recs))
		n += cl.PollFetches(ctx).NumRecords()
	}
}
