package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tinyBench are the flags of a bench run small enough for go test.
var tinyBench = []string{"bench", "--log-level", "warn", "--events", "1500", "--pairs", "1", "--warmup=false",
	"--partitions", "4", "--latency-events", "100", "--latency-rate", "1000"}

// TestBenchCommand runs `resolver bench` in-process on a tiny input and
// checks the report: both kinds, the ratio, the in-process broker named as
// such, and an identity share mapped onto the generator.
func TestBenchCommand(t *testing.T) {
	args := append(append([]string{}, tinyBench...), "--identity-share", "0.2", "--state-dir", t.TempDir())
	code, stdout, stderr := execCLI(t, args...)
	require.Equal(t, exitOK, code, stderr)
	for _, want := range []string{
		"embedded kfake in this process (process CPU and RSS include the broker)",
		"1500 events per turn", "4 partitions",
		"resolver/limit events/s per pair:",
		"100/100",
	} {
		assert.Contains(t, stdout, want)
	}
	assert.Regexp(t, regexp.MustCompile(`(?m)^\s+1\s+limit\s+\d+`), stdout)
	assert.Regexp(t, regexp.MustCompile(`(?m)^\s+1\s+resolver\s+\d+`), stdout)
	m := regexp.MustCompile(`identity:\s+([0-9.]+)% of the window's events`).FindStringSubmatch(stdout)
	require.NotNil(t, m, stdout)
	assert.InDelta(t, 20, atof(t, m[1]), 4, "measured identity share")
	assert.Contains(t, stderr, "pair 1/1: resolver")
}

func TestBenchBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--instances", "4"},
		{"--identity-share", "0.9"},
		{"--pairs", "0"},
		{"--brokers", "nohost"},
		{"--preload-ids", "-1"},
		{"--preload-ids", "2000000000"},
		{"--tail-share", "0.95"},
		{"--tail-share", "-0.1"},
		{"--tail-share", "NaN"},
	} {
		code, _, stderr := execCLI(t, append([]string{"bench"}, args...)...)
		assert.Equal(t, exitConfig, code, "%v: %s", args, stderr)
		assert.Contains(t, stderr, args[0], "%v", args)
	}
}

// TestBenchBrokerProcessAndProfiles runs the binary with the broker in a
// child process (its CPU reported apart) and both profiles.
func TestBenchBrokerProcessAndProfiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a broker process")
	}
	bin := resolverBinary(t)
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "mem.prof")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	args := append(append([]string{}, tinyBench...), "--broker-process", "--cpuprofile", cpu, "--memprofile", mem)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "RESOLVER_STATE_DIR="+dir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	s := string(out)
	assert.Contains(t, s, "embedded kfake in a child process (measured apart)")
	assert.Contains(t, s, "broker cpu-s/M")
	assert.Contains(t, s, "resolver*")
	for _, f := range []string{cpu, mem} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.Greater(t, len(b), 2, f)
		assert.Equal(t, []byte{0x1f, 0x8b}, b[:2], "%s is a gzipped pprof profile", f)
	}
	// Regression: the allocation profile was written after the sampling
	// rate went back to 0, so pprof did not scale its samples and a
	// window's megabytes showed as kilobytes.
	top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-sample_index=alloc_space", "-top", bin, mem).CombinedOutput()
	require.NoError(t, err, "%s", top)
	m := regexp.MustCompile(`of ([0-9.]+)(kB|MB|GB) total`).FindStringSubmatch(string(top))
	require.NotNil(t, m, "%s", top)
	total := atof(t, m[1]) * map[string]float64{"kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[m[2]]
	assert.Greater(t, total, float64(1<<20), "the window allocates megabytes:\n%s", top)
	assert.Contains(t, string(top), "pkg/event", "decoding allocates in the window")
}

func atof(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return f
}

// TestBenchPreload runs `resolver bench --preload-ids` in-process on a tiny
// input: a preloaded turn per pair, the preload's line (ids, bytes per id)
// and tail line, and the preloaded/resolver ratio.
func TestBenchPreload(t *testing.T) {
	args := append(append([]string{}, tinyBench...), "--preload-ids", "5000", "--tail-share", "0.3", "--state-dir", t.TempDir())
	code, stdout, stderr := execCLI(t, args...)
	require.Equal(t, exitOK, code, stderr)
	assert.Regexp(t, regexp.MustCompile(`(?m)^preload:\s+500\d distinct ids, \d+ people \(\d+ identified\), \d+ records`), stdout)
	assert.Regexp(t, regexp.MustCompile(`(?m)^\s+1\s+preloaded\s+\d+`), stdout)
	assert.Contains(t, stdout, "preloaded/resolver events/s per pair:")
	m := regexp.MustCompile(`tail:\s+([0-9.]+)% of the window's events`).FindStringSubmatch(stdout)
	require.NotNil(t, m, stdout)
	assert.InDelta(t, 30, atof(t, m[1]), 6, "tail share")
}
