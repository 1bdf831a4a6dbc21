package state

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// Benchmarks of the targets. Run:
//
//	go test -run x -bench . -benchmem -count 3 ./pkg/state/
//	RESOLVER_BENCH_IDS=10000000 go test -run x -bench 'Cold|Disk' -benchmem -count 1 -timeout 30m ./pkg/state/
//
// The stores are built once per process by a bulk loader that writes the
// same keys and values the graph would (bulkLoad), and shared between
// benchmarks; TestMain closes them.

const benchTeam = "2"

// benchIDs is the number of distinct_ids of the cold and disk benchmarks:
// RESOLVER_BENCH_IDS, default 1M (the 10M takes minutes to load and
// compact).
func benchIDs() int { return envInt("RESOLVER_BENCH_IDS", 1_000_000) }

// fixture is a bulk-loaded Badger store in a temp dir, shared by benchmarks.
type fixture struct {
	s        *Store
	dir      string
	ids      []string // shuffled
	sstBytes int64    // LSM tables after a full compaction
	dirBytes int64    // everything in the directory after it
}

var (
	fixturesMu sync.Mutex
	fixtures   = map[string]*fixture{}
)

// closeFixtures is called by TestMain after the run, before the leak check.
func closeFixtures() {
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	for k, f := range fixtures {
		f.s.Close()
		os.RemoveAll(f.dir)
		delete(fixtures, k)
	}
}

// benchDID makes realistic anonymous distinct_ids: UUIDv7 strings, whose
// first 48 bits are a millisecond clock (so ids made close in time share a
// prefix) and the rest random.
func benchDID(r *rand.Rand, i int) string {
	var b [16]byte
	ms := uint64(1_780_000_000_000 + i/8) // ~8 new ids per millisecond
	binary.BigEndian.PutUint64(b[:8], ms<<16|uint64(r.Uint32()&0x0fff)|0x7000)
	binary.BigEndian.PutUint64(b[8:], r.Uint64()&^(3<<62)|1<<63)
	var id unionfind.PersonID
	copy(id[:], b[:])
	return id.String()
}

// loadFixture returns the shared store with n ids, loading it on first use:
// bulk load, close (flushing memtables), reopen, Flatten (full compaction),
// measure the directory.
func loadFixture(b *testing.B, n, perPerson int) *fixture {
	b.Helper()
	key := fmt.Sprint(n, "/", perPerson)
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	if f, ok := fixtures[key]; ok {
		return f
	}
	dir, err := os.MkdirTemp("", "state-bench-")
	if err != nil {
		b.Fatal(err)
	}
	o := Options{CacheBytes: 1 << 30, Compression: Compression(os.Getenv("RESOLVER_BENCH_COMPRESSION"))}
	s, err := Open(dir, o)
	if err != nil {
		b.Fatal(err)
	}
	ids := bulkLoad(b, s, n, perPerson)
	must2(b, s.Close())
	if s, err = Open(dir, o); err != nil {
		b.Fatal(err)
	}
	must2(b, s.db.Flatten(2))
	f := &fixture{s: s, dir: dir, ids: ids}
	f.sstBytes, f.dirBytes = dirSizes(b, dir)
	rand.New(rand.NewPCG(9, 9)).Shuffle(len(f.ids), func(i, j int) { f.ids[i], f.ids[j] = f.ids[j], f.ids[i] })
	fixtures[key] = f
	return f
}

// bulkLoad writes n distinct_ids in persons of perPerson ids each, exactly as
// the graph would store them after each person's first id absorbed the
// others by $identify: d/ mapping (version 0 for the person's own id, 1 for
// the absorbed), m/ membership, p/ person with two properties. It returns
// the ids.
func bulkLoad(b *testing.B, s *Store, n, perPerson int) []string {
	b.Helper()
	r := rand.New(rand.NewPCG(uint64(n), uint64(perPerson)))
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	ids := make([]string, n)
	var pid unionfind.PersonID
	for i := range n {
		did := benchDID(r, i)
		ids[i] = did
		first := i%perPerson == 0
		if first {
			pid = unionfind.ImplicitPersonID(benchTeam, did)
			size := min(perPerson, n-i)
			p := unionfind.Person{ID: pid, CreatedAt: 1_780_000_000_000 + int64(i), Identified: size > 1, Version: uint64(size - 1), Size: uint64(size),
				Props: []unionfind.Property{
					{Key: "email", Value: json.RawMessage(fmt.Sprintf(`"user%d@example.com"`, i)), Time: 1_780_000_000_000 + int64(i)},
					{Key: "plan", Value: json.RawMessage(`"free"`), Time: 1_780_000_000_000 + int64(i)},
				}}
			must2(b, wb.Set(personKey(nil, benchTeam, pid), encodePersonValue(&p, personMeta{})))
		}
		v := uint64(1)
		if first {
			v = 0
		}
		must2(b, wb.Set(mappingKey(nil, benchTeam, did), appendMapping(nil, benchTeam, did, unionfind.Mapping{PersonID: pid, Version: v})))
		must2(b, wb.Set(memberKey(nil, benchTeam, pid, did), nil))
	}
	must2(b, wb.Flush())
	return ids
}

func dirSizes(b *testing.B, dir string) (sst, all int64) {
	b.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		all += info.Size()
		if strings.HasSuffix(path, ".sst") {
			sst += info.Size()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return sst, all
}

func must2(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// reportRate reports b.N per second of wall time (unit) and per second of
// the process's CPU time since cpu0 (unit with "/s" → "/cpu-s"). The CPU
// rate is the one to compare when the machine is shared: it does not count
// time this process spent waiting for a core (it does count Badger's and
// the GC's background work).
func reportRate(b *testing.B, unit string, cpu0 time.Duration) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, unit)
	}
	if c := (cpuTime() - cpu0).Seconds(); c > 0 {
		b.ReportMetric(float64(b.N)/c, strings.TrimSuffix(unit, "/s")+"/cpu-s")
	}
}

// cpuTime is the user+system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFindWarm: Find over 1M distinct_ids (4 per person) with every
// mapping and person in the cache. Target ≥ 2M lookups/s on one core.
func BenchmarkFindWarm(b *testing.B) {
	f := loadFixture(b, 1_000_000, 4)
	for _, id := range f.ids { // warm
		if _, _, err := f.s.Find(benchTeam, id); err != nil {
			b.Fatal(err)
		}
	}
	before := f.s.CacheStats()
	ids := f.ids
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := range b.N {
		if _, explicit, err := f.s.Find(benchTeam, ids[i%len(ids)]); err != nil || !explicit {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRate(b, "lookups/s", cpu0)
	if after := f.s.CacheStats(); after.Misses != before.Misses {
		b.Fatalf("warm benchmark missed the cache %d times", after.Misses-before.Misses)
	}
}

// BenchmarkFindCold: Find with no read-through cache, every lookup two
// Badger point reads (mapping, person) in one snapshot, over benchIDs() ids.
// Badger's own block cache (256 MiB) and the OS page cache are as the
// benchmark leaves them. Target ≥ 200k lookups/s at 10M ids.
func BenchmarkFindCold(b *testing.B) {
	f := loadFixture(b, benchIDs(), 4)
	cold := &Store{eng: f.s.eng, db: f.s.db} // same Badger, no cache
	ids := f.ids
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := range b.N {
		if _, explicit, err := cold.Find(benchTeam, ids[i%len(ids)]); err != nil || !explicit {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRate(b, "lookups/s", cpu0)
}

// BenchmarkDiskPerID: bytes on disk per distinct_id after bulk-loading
// benchIDs() ids (4 per person, two properties each) and a full compaction.
// sst-B/id counts the LSM tables (the data); dir-B/id everything in the
// directory, including Badger's preallocated write-ahead log (a constant
// 2×memtable, not per id). Target ≤ 120.
func BenchmarkDiskPerID(b *testing.B) {
	n := benchIDs()
	f := loadFixture(b, n, 4)
	for range b.N {
	}
	b.ReportMetric(float64(f.sstBytes)/float64(n), "sst-B/id")
	b.ReportMetric(float64(f.dirBytes)/float64(n), "dir-B/id")
}

// BenchmarkMergeBatched: $identify of a fresh anonymous id into an existing
// identified person (guarded merge, the common case; the person's entries
// cached, the anonymous id never seen), applied through
// unionfind.Graph, 1000 ops per Update, with the applier's bookkeeping
// (high water, outbox, applied offset) as in production. Target ≥ 100k/s.
func BenchmarkMergeBatched(b *testing.B) {
	const persons = 100_000
	f := loadFixture(b, persons*2, 2) // 100k identified persons of 2 ids
	g := unionfind.Graph{}
	users := make([]string, 0, persons)
	for i := 0; i < len(f.ids) && len(users) < persons; i++ {
		users = append(users, f.ids[i])
	}
	// The person identified into is hot: its events were just stamped, so
	// its mapping and person are in the cache (Find), as in production.
	for i := range min(b.N, len(users)) {
		if _, _, err := f.s.Find(benchTeam, users[i]); err != nil {
			b.Fatal(err)
		}
	}
	mergeRun++
	run := mergeRun
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for done := 0; done < b.N; {
		n := min(1000, b.N-done)
		err := f.s.Update(func(tx Tx) error {
			for i := done; i < done+n; i++ {
				op := unionfind.Op{Kind: unionfind.OpEvent, Team: benchTeam,
					Source:     unionfind.Source{Topic: "events_raw", Partition: 0, Offset: int64(i)},
					DistinctID: users[i%len(users)], Timestamp: 1_790_000_000_000 + int64(i),
					Merge: &unionfind.Merge{Other: fmt.Sprintf("anon-%d-%d", run, i), Guarded: true}}
				res, err := g.Apply(tx, &op)
				if err != nil {
					return err
				}
				if len(res.DistinctIDs) != 1 {
					return fmt.Errorf("op %d: %+v", i, res)
				}
				if err := tx.PutOutbox(op.Source, res); err != nil {
					return err
				}
				if err := tx.SetHighWater(0, op.Source); err != nil {
					return err
				}
			}
			return tx.SetApplied(0, int64(done+n))
		})
		if err != nil {
			b.Fatal(err)
		}
		done += n
	}
	b.StopTimer()
	reportRate(b, "merges/s", cpu0)
}

var mergeRun int // fresh anonymous ids across benchmark invocations

// BenchmarkFindMiss: Find through a Store with a read-through cache of the
// default size in front of benchIDs() ids, looked up uniformly, so nearly
// every lookup misses the cache (the long tail of old ids of a large
// state): two Badger point reads (mapping, person) in one snapshot, the
// blocks from Badger's block cache or decompressed. The read-through cache
// holds about a tenth of them at 1M ids.
func BenchmarkFindMiss(b *testing.B) {
	f := loadFixture(b, benchIDs(), 4)
	s := &Store{eng: f.s.eng, db: f.s.db, cache: newCache(DefaultCacheBytes)}
	ids := f.ids
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := range b.N {
		if _, explicit, err := s.Find(benchTeam, ids[i%len(ids)]); err != nil || !explicit {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRate(b, "lookups/s", cpu0)
	st := s.CacheStats()
	b.ReportMetric(float64(st.Misses)/float64(max(st.Hits+st.Misses, 1)), "cache-miss-ratio")
}

// BenchmarkFindNever: Find of distinct_ids the state has never seen (new
// anonymous devices), over benchIDs() stored ids: a negative point read of
// the mapping, which Badger's per-table bloom filters answer without
// reading a block (and the memtables by a skiplist search).
func BenchmarkFindNever(b *testing.B) {
	f := loadFixture(b, benchIDs(), 4)
	s := &Store{eng: f.s.eng, db: f.s.db, cache: newCache(DefaultCacheBytes)}
	r := rand.New(rand.NewPCG(7, 7))
	never := make([]string, 1<<16)
	for i := range never {
		never[i] = benchDID(r, 1<<40+i) // another time range: never stored
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := range b.N {
		if i%len(never) == 0 && i > 0 {
			s.cache.reset() // every lookup a miss of the read-through cache
		}
		if _, explicit, err := s.Find(benchTeam, never[i%len(never)]); err != nil || explicit {
			b.Fatal(err, explicit)
		}
	}
	b.StopTimer()
	reportRate(b, "lookups/s", cpu0)
}

// BenchmarkReplayCommit: what a replay's commits cost Badger, per write.
// Pipelined Updates of 20,000 new mappings each (a replay's chunk writes
// ~20,000 keys, BenchmarkRebuildReplay in pkg/stream) into a store that
// already holds 300,000, written as one Badger transaction (unsorted: the
// memtable takes them in Go map order) or as a sorted commit
// (SetSortedCommits). The CPU rate counts Badger's writer goroutine, where
// the memtable inserts run; compare the two with benchstat:
//
//	go test -run x -bench ReplayCommit -count 6 ./pkg/state/ | benchstat -col /commit -
func BenchmarkReplayCommit(b *testing.B) {
	for _, sorted := range []bool{false, true} {
		name := "commit=unsorted"
		if sorted {
			name = "commit=sorted"
		}
		b.Run(name, func(b *testing.B) { benchReplayCommit(b, sorted) })
	}
}

func benchReplayCommit(b *testing.B, sorted bool) {
	const chunk = 20_000
	s, err := Open(b.TempDir(), Options{CacheBytes: -1, Compression: CompressionNone})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.SetPipelined(true); err != nil {
		b.Fatal(err)
	}
	if err := s.SetSortedCommits(sorted); err != nil {
		b.Fatal(err)
	}
	next := 0
	put := func(n int) {
		err := s.Update(func(tx Tx) error {
			for range n {
				did := fmt.Sprintf("%016x-%d", uint64(next)*0x9e3779b97f4a7c15, next) // spread over the key space
				next++
				if err := tx.PutMapping(benchTeam, did, unionfind.Mapping{PersonID: unionfind.ImplicitPersonID(benchTeam, did), Version: 1}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for range 300_000 / chunk {
		put(chunk)
	}
	if err := s.Sync(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for done := 0; done < b.N; done += chunk {
		put(min(chunk, b.N-done))
	}
	if err := s.Sync(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	reportRate(b, "writes/s", cpu0)
}

// BenchmarkFinderResolve: a batch's lookups through a Finder, warm cache,
// in runs of one id as a batch's sessions come (run=10), or every id once
// (run=1): what a lookup through the shared cache costs when ids repeat
// (BENCHMARKS.md, target 1: a Finder memo of them, tried and not kept).
func BenchmarkFinderResolve(b *testing.B) {
	f := loadFixture(b, 100_000, 4)
	for _, id := range f.ids { // warm
		if _, _, err := f.s.Find(benchTeam, id); err != nil {
			b.Fatal(err)
		}
	}
	const batch = 2500
	for _, run := range []int{1, 10} {
		b.Run(fmt.Sprintf("run=%d", run), func(b *testing.B) {
			find := f.s.Finder()
			defer find.Close()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%batch == 0 {
					find.Close() // a batch ends
				}
				if _, err := find.Resolve(benchTeam, f.ids[(i/run)%len(f.ids)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
