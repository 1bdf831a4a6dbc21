package stream

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/state"
)

// BenchmarkRebuildReplay replays n identity_log records (mergeWorkload:
// logins that make persons, every third op an alias that merges two of
// them) into a fresh Badger replica the way Rebuild's applier does, one
// poll of at most the replay poll size at a time, and reports ops/s. The
// records are in memory: this measures the applier and the state, not the
// broker's fetch (`resolver rebuild` prints the end-to-end ops/s).
//
// RESOLVER_REPLAY_OPS sets n (50,000 by default); from 1M on, each run logs
// its ops/s per million ops, to show how replay slows as the state grows:
//
//	RESOLVER_REPLAY_OPS=10000000 go test -run XXX -bench 'BenchmarkRebuildReplay/.*/sorted' -benchtime 1x -timeout 2h -v ./pkg/stream/
func BenchmarkRebuildReplay(b *testing.B) {
	n := 50_000
	if v, err := strconv.Atoi(os.Getenv("RESOLVER_REPLAY_OPS")); err == nil && v > 0 {
		n = v
	}
	recs := mergeWorkload(b, n)
	// live: the applier as a running instance has it (applierBatch, every
	// outbox row); replay: as Rebuild sets it up (replayMode), with the
	// group's offsets committed past every source.
	// replay/none: into a store whose tables are written uncompressed
	// (state.compression: none), which spares the memtable flushes ZSTD.
	b.Run(fmt.Sprintf("ops=%d/live", n), func(b *testing.B) { benchReplayOpts(b, recs, replayOpts{comp: state.CompressionZSTD}) })
	b.Run(fmt.Sprintf("ops=%d/replay", n), func(b *testing.B) {
		benchReplayOpts(b, recs, replayOpts{replay: true, comp: state.CompressionZSTD})
	})
	b.Run(fmt.Sprintf("ops=%d/replay/none", n), func(b *testing.B) {
		benchReplayOpts(b, recs, replayOpts{replay: true, comp: state.CompressionNone})
	})
	// pipelined: replay/none with pipelined commits
	// (state.Store.SetPipelined); filtered: pipelined with the replay
	// filter (state.Store.SetReplayFilter); sorted: as Rebuild runs it
	// now, filtered with sorted commits (state.Store.SetSortedCommits).
	b.Run(fmt.Sprintf("ops=%d/pipelined", n), func(b *testing.B) {
		benchReplayOpts(b, recs, replayOpts{replay: true, comp: state.CompressionNone, pipelined: true})
	})
	b.Run(fmt.Sprintf("ops=%d/filtered", n), func(b *testing.B) {
		benchReplayOpts(b, recs, replayOpts{replay: true, comp: state.CompressionNone, pipelined: true, filter: true})
	})
	b.Run(fmt.Sprintf("ops=%d/sorted", n), func(b *testing.B) {
		benchReplayOpts(b, recs, replayOpts{replay: true, comp: state.CompressionNone, pipelined: true, filter: true, sorted: true})
	})
	b.Run(fmt.Sprintf("ops=%d/deferred", n), func(b *testing.B) {
		benchReplayOpts(b, recs, replayOpts{replay: true, comp: state.CompressionNone, pipelined: true, filter: true, sorted: true, deferred: true})
	})
	// lsm: deferred, into a store opened with state.Options.Replay (level 0
	// compacted once, at the end: Store.CompactLevelZero), as Rebuild runs
	// it now; lsm-direct: the same without the deferred index.
	b.Run(fmt.Sprintf("ops=%d/lsm", n), func(b *testing.B) {
		benchReplayOpts(b, recs, replayOpts{replay: true, comp: state.CompressionNone, pipelined: true, filter: true, sorted: true, deferred: true, lsm: true})
	})
	b.Run(fmt.Sprintf("ops=%d/lsm-direct", n), func(b *testing.B) {
		benchReplayOpts(b, recs, replayOpts{replay: true, comp: state.CompressionNone, pipelined: true, filter: true, sorted: true, lsm: true})
	})
}

// settle (RESOLVER_REPLAY_SETTLE=1) adds to each timed run what the
// replay left for later: the store reopened as `resolver run` opens it and
// its compactions run to the end (state.Store.Compact). A replay that
// leaves its tables spread over levels Badger has yet to compact is not
// done when it closes; the next open pays the rest.
var settle = os.Getenv("RESOLVER_REPLAY_SETTLE") != ""

// settleStore reopens the store in dir, compacts it and closes it.
func settleStore(b *testing.B, dir string, comp state.Compression) {
	b.Helper()
	start := time.Now()
	st, err := state.Open(dir, state.Options{Compression: comp})
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Compact(); err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("settled in %s", time.Since(start).Round(time.Millisecond))
}

// replayOpts is how benchReplayOpts sets up the applier and the store.
type replayOpts struct {
	replay    bool // Rebuild's replayMode
	comp      state.Compression
	pipelined bool // state.Store.SetPipelined
	filter    bool // state.Store.SetReplayFilter
	sorted    bool // state.Store.SetSortedCommits
	deferred  bool // state.Store.SetDeferredIndex
	lsm       bool // state.Options.Replay, and Store.CompactLevelZero at the end
}

func benchReplayOpts(b *testing.B, recs []*kgo.Record, o replayOpts) {
	n := len(recs)
	b.ReportAllocs()
	var (
		cpu         time.Duration
		rows, bytes int64 // of the last run
	)
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		st, err := state.Open(dir, state.Options{Compression: o.comp, Replay: o.lsm})
		if err != nil {
			b.Fatal(err)
		}
		a := newApplier(Config{Topics: DefaultTopics()}, st, zap.NewNop(), endsAt(map[int32]int64{0: int64(n)}))
		if o.replay {
			a.replayMode(map[topicPartition]int64{{DefaultTopics().Raw, 0}: int64(n)})
		}
		if err := st.SetPipelined(o.pipelined); err != nil {
			b.Fatal(err)
		}
		if err := st.SetReplayFilter(o.filter); err != nil {
			b.Fatal(err)
		}
		if err := st.SetSortedCommits(o.sorted); err != nil {
			b.Fatal(err)
		}
		if err := st.SetDeferredIndex(o.deferred); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c0 := processCPU()
		lap, lapCPU, lapAt := time.Now(), c0, 0
		for i := 0; i < n; i += a.pollMax() {
			if err := a.apply(context.Background(), recs[i:min(i+a.pollMax(), n)]); err != nil {
				b.Fatal(err)
			}
			if done := min(i+a.pollMax(), n); done-lapAt >= 1_000_000 {
				now, cpuNow := time.Now(), processCPU()
				b.Logf("ops %d–%d: %.0f ops/s, %.1f cpu-µs/op", lapAt, done,
					float64(done-lapAt)/now.Sub(lap).Seconds(), float64((cpuNow-lapCPU).Microseconds())/float64(done-lapAt))
				lap, lapCPU, lapAt = now, cpuNow, done
			}
		}
		if o.lsm {
			if err := st.CompactLevelZero(); err != nil {
				b.Fatal(err)
			}
		}
		if err := st.SetSortedCommits(false); err != nil { // every commit has landed
			b.Fatal(err)
		}
		if err := st.Sync(); err != nil { // the last commit has landed
			b.Fatal(err)
		}
		// What the replay left in the state, per op: rows and their key
		// and value bytes (deterministic, unlike the timings).
		b.StopTimer()
		c1 := processCPU()
		rows, bytes, _ = rowTotals(b, st)
		c0 += processCPU() - c1
		b.StartTimer()
		// Timed: a rebuild is done once its store is closed (Badger
		// flushes its memtables).
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		if settle {
			settleStore(b, dir, o.comp)
		}
		cpu += processCPU() - c0
	}
	b.ReportMetric(float64(rows)/float64(n), "rows/op")
	b.ReportMetric(float64(bytes)/float64(n), "row-B/op")
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*n), "cpu-µs/op")
	b.ReportMetric(0, "ns/op")
}

// processCPU is the CPU time (user and system) of the process so far: on a
// shared machine it is steadier than wall time, and it counts Badger's
// background writes and flushes too.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
