package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/internal/broker"
	"github.com/resolver-dev/resolver/internal/gen"
)

// execCLI runs the command line in-process and returns the exit code,
// stdout and stderr.
func execCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	code := execute(t.Context(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestGenFile: the same flags and seed give the same file, byte for byte,
// and it is exactly what internal/gen writes for the equivalent config, in
// which a share of 0 on the command line is gen.None.
func TestGenFile(t *testing.T) {
	dir := t.TempDir()
	args := func(out string, seed string) []string {
		return []string{"gen", "--log-level", "warn", "--users", "40", "--seed", seed, "--identify-share", "0.7",
			"--malformed-rate", "0", "--reset-on-logout=false", "--start", "2026-01-02T03:04:05Z", "--out", out}
	}
	a, b, c := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl"), filepath.Join(dir, "c.jsonl")
	for _, f := range []string{a, b} {
		code, _, stderr := execCLI(t, args(f, "7")...)
		require.Equal(t, exitOK, code, stderr)
		assert.Contains(t, stderr, "records to "+f)
		assert.Contains(t, stderr, "records/s")
	}
	code, _, stderr := execCLI(t, args(c, "8")...)
	require.Equal(t, exitOK, code, stderr)
	fa, fb, fc := readFile(t, a), readFile(t, b), readFile(t, c)
	assert.Equal(t, fa, fb, "same seed, same stream")
	assert.NotEqual(t, fa, fc, "another seed, another stream")

	cfg := gen.DefaultConfig()
	cfg.Users, cfg.Seed, cfg.IdentifyShare, cfg.MalformedRate = 40, 7, 0.7, gen.None
	cfg.ResetOnLogout, cfg.Start = gen.Off, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var want bytes.Buffer
	n, err := gen.WriteJSONLines(&want, gen.New(cfg))
	require.NoError(t, err)
	assert.Equal(t, want.String(), fa)
	assert.Equal(t, n, strings.Count(fa, "\n"))
	assert.NotContains(t, fa, `"event":{`) // sanity: values, one per line
}

// TestGenStdoutRecords: --out - writes to stdout, --records stops early,
// progress stays on stderr.
func TestGenStdoutRecords(t *testing.T) {
	code, stdout, stderr := execCLI(t, "gen", "--log-level", "warn", "--records", "25", "--out", "-")
	require.Equal(t, exitOK, code, stderr)
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	require.Len(t, lines, 25)
	g := gen.New(gen.DefaultConfig())
	for i, l := range lines {
		r, _ := g.Next()
		assert.Equal(t, string(r.Value), l, "record %d", i)
	}
	assert.Contains(t, stderr, "gen: 25 records to -")
}

func TestGenBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--identify-share", "1.5"},
		{"--users", "0"},
		{"--start", "yesterday"},
		{"--pad-bytes", "-1"},
		{"--records", "-3"},
	} {
		code, _, stderr := execCLI(t, append([]string{"gen", "--out", "-"}, args...)...)
		assert.Equal(t, exitConfig, code, "%v: %s", args, stderr)
		assert.Contains(t, stderr, args[0], "%v", args)
	}
}

// TestGenToBroker produces into a broker: the topic is created with
// kafka.topic_partitions partitions, every record arrives keyed
// token:distinct_id, in generation order per key.
func TestGenToBroker(t *testing.T) {
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	defer b.Close()
	addr := b.Addrs()[0]
	code, _, stderr := execCLI(t, "gen", "--log-level", "warn", "--brokers", addr, "--topic", "raw_in",
		"--users", "30", "--records", "500", "--seed", "3")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stderr, "gen: 500 records to raw_in at ["+addr+"]")
	assert.Equal(t, 8, listTopics(t, addr)["raw_in"])

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("raw_in"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	cfg := gen.DefaultConfig()
	cfg.Users, cfg.Seed = 30, 3
	g := gen.New(cfg)
	want := map[string][]string{} // key → values in order
	for range 500 {
		r, _ := g.Next()
		want[string(r.Key)] = append(want[string(r.Key)], string(r.Value))
	}
	got := map[string][]string{}
	n := 0
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for n < 500 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			got[string(r.Key)] = append(got[string(r.Key)], string(r.Value))
			n++
		})
	}
	assert.Equal(t, want, got)
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return string(b)
}
