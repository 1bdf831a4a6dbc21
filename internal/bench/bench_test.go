package bench

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// The pipeline next to the limit as go test benchmarks. One op is one turn
// of benchEvents() records through a fresh group and fresh topics (and, for
// the pipeline, a fresh state directory) on an embedded broker in this
// process; the timer runs only during the throughput window, so ns/op is the
// window and allocs/op the allocations of the whole process in it, the
// broker's included. Run:
//
//	go test -run x -bench . -benchtime 3x -count 5 ./internal/bench/
//	RESOLVER_BENCH_EVENTS=300000 go test -run x -bench . -benchtime 3x ./internal/bench/
//
// "resolver bench" makes the same comparison interleaved, with CPU, RSS and
// latency; prefer it for ratios.

// benchEvents is the number of records per turn: RESOLVER_BENCH_EVENTS,
// default 20,000.
func benchEvents() int {
	if n, err := strconv.Atoi(os.Getenv("RESOLVER_BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 20_000
}

func BenchmarkPassthrough(b *testing.B) { benchmarkTurns(b, Limit) }

func BenchmarkPipeline(b *testing.B) { benchmarkTurns(b, Resolver) }

func benchmarkTurns(b *testing.B, kind Kind) {
	events := benchEvents()
	r, _, release, err := newRunner(Config{Events: events, Pairs: 1, LatencyEvents: -1, Log: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	defer release()
	r.window = func(open bool) {
		if open {
			b.StartTimer()
		} else {
			b.StopTimer()
		}
	}
	b.ReportAllocs()
	b.StopTimer()
	var window, cpu time.Duration
	for i := 0; i < b.N; i++ {
		t, err := r.turn(context.Background(), kind, i+1, events, false, false)
		if err != nil {
			b.Fatal(err)
		}
		window += t.Window
		cpu += t.CPU
	}
	total := float64(b.N * events)
	b.ReportMetric(total/window.Seconds(), "events/s")
	b.ReportMetric(cpu.Seconds()/total*1e6, "cpu-s/M")
}

// TestRun runs a tiny comparison end to end: both kinds, the latency
// phase, the report.
func TestRun(t *testing.T) {
	events := 3000
	if testing.Short() {
		events = 1000
	}
	rep, err := Run(context.Background(), Config{
		Events:        events,
		Pairs:         1,
		WarmupEvents:  100,
		LatencyEvents: 200,
		LatencyRate:   2000,
		Log:           zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Progress:      testWriter{t},
		StateDir:      t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Turns) != 2 || rep.Turns[0].Kind != Limit || rep.Turns[1].Kind != Resolver {
		t.Fatalf("turns: %+v", rep.Turns)
	}
	for _, turn := range rep.Turns {
		if turn.Events != events || turn.Window <= 0 || turn.EventsPerSec() <= 0 {
			t.Errorf("%s: %d events in %v", turn.Kind, turn.Events, turn.Window)
		}
		if turn.LatencyExpected == 0 || turn.LatencySamples != turn.LatencyExpected {
			t.Errorf("%s: %d of %d probes seen", turn.Kind, turn.LatencySamples, turn.LatencyExpected)
		}
		if turn.LatencyP50 <= 0 || turn.LatencyP99 < turn.LatencyP50 {
			t.Errorf("%s: latency p50 %v p99 %v", turn.Kind, turn.LatencyP50, turn.LatencyP99)
		}
		if turn.CPU <= 0 || !turn.CPUOK {
			t.Errorf("%s: cpu %v", turn.Kind, turn.CPU)
		}
	}
	if rep.Turns[1].OpsLogged == 0 {
		t.Error("the resolver turn logged no identity ops")
	}
	// The resolver turn's replica: its rows by kind, per op it holds.
	rows := map[string]int64{}
	for _, k := range rep.Turns[1].Rows {
		rows[k.Tag] = k.Rows
	}
	if r := rep.Turns[1]; r.RowsOps < r.OpsLogged || rows["d/"] == 0 || rows["p/"] == 0 || rows["a/"] == 0 {
		t.Errorf("replica rows %v for %d ops (%d in the window)", rows, r.RowsOps, r.OpsLogged)
	}
	if len(rep.Turns[0].Rows) != 0 {
		t.Errorf("the limit turn reports replica rows: %v", rep.Turns[0].Rows)
	}
	if len(rep.Ratios()) != 1 || rep.MedianRatio() <= 0 {
		t.Errorf("ratios %v", rep.Ratios())
	}
	if rep.IdentityShare < 0.02 || rep.IdentityShare > 0.1 {
		t.Errorf("identity share of the default stream %.4f, want about 5%%", rep.IdentityShare)
	}
	var out strings.Builder
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	for _, want := range []string{"embedded kfake in this process", "resolver/limit events/s per pair", "limit", "resolver",
		"resolver replica after pair 1's turn: ", " ops; per op ", "d/ "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
