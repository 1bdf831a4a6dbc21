package state

import (
	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"go.uber.org/zap"
)

// DefaultCacheBytes is the default bound of the read-through cache.
const DefaultCacheBytes = 64 << 20

// Options configure Open. The zero value is ready to use.
type Options struct {
	// CacheBytes bounds the memory of the read-through cache in front of
	// Badger for Find (approximate bytes). Zero means DefaultCacheBytes
	// (64 MiB); negative disables the cache.
	CacheBytes int64

	// Logger receives Badger's log under the name "badger". Nil means
	// zap.NewNop().
	Logger *zap.Logger

	// SyncWrites fsyncs every commit. Default false: a commit survives a
	// process crash (Badger's write-ahead log is written before Commit
	// returns) but the last commits may be lost to an OS crash, in which
	// case the applier resumes from the older AppliedOffsets and replays —
	// the identity log, not Badger, is the source of truth.
	SyncWrites bool

	// MemTableBytes is the size of one Badger memtable. It also bounds one
	// Update: a transaction may hold about 15% of it before Update returns
	// an IsTxnTooBig error. Zero means 64 MiB.
	MemTableBytes int64

	// BlockCacheBytes is Badger's cache of table blocks, which serves the
	// cold path of Find. Zero means 256 MiB; negative disables it with
	// NoCompression, and is minBlockCacheBytes otherwise (Badger needs a
	// block cache to read compressed tables).
	BlockCacheBytes int64

	// NumCompactors is the number of Badger compaction goroutines (at
	// least 2). Zero means 4.
	NumCompactors int

	// MinFreeBytes is the floor of free space on the filesystem of the
	// store's directory: below it Open and every write fail with a
	// *DiskFullError instead of letting Badger's memory-mapped writes run
	// out of space (SIGBUS; see disk.go). Zero, the default, disables the
	// check (tools, tests); `resolver run` sets state.min_free_bytes
	// (default 1 GiB).
	MinFreeBytes uint64

	// NoCompression stores Badger's tables uncompressed. Default: ZSTD
	// level 1, which stores a distinct_id in 68 bytes instead of 166 after
	// a full compaction (BenchmarkDiskPerID, 1M UUIDv7 ids, 4 per person) —
	// ids are mostly hex, keys repeat team prefixes — and measured no
	// slower for cold Find.
	NoCompression bool
}

// minBlockCacheBytes is the block cache of a negative BlockCacheBytes on
// compressed tables.
const minBlockCacheBytes = 1 << 20

// badgerOptions maps Options onto Badger's.
func (o Options) badgerOptions(dir string, log *zap.Logger) badger.Options {
	b := badger.DefaultOptions(dir).
		WithLogger(badgerLogger{log.Named("badger").Sugar()}).
		WithSyncWrites(o.SyncWrites).
		WithDetectConflicts(false).
		WithMetricsEnabled(false).
		WithCompression(options.ZSTD).
		WithZSTDCompressionLevel(1)
	if o.NoCompression {
		b = b.WithCompression(options.None)
	}
	if o.MemTableBytes > 0 {
		// Values up to the threshold live in the LSM tree (ours are small);
		// Badger requires the threshold to fit into one batch (~15% of a
		// memtable).
		b = b.WithMemTableSize(o.MemTableBytes).WithValueThreshold(min(1<<20, o.MemTableBytes/16))
	}
	switch {
	case o.BlockCacheBytes > 0:
		b = b.WithBlockCacheSize(o.BlockCacheBytes)
	case o.BlockCacheBytes < 0 && o.NoCompression:
		b = b.WithBlockCacheSize(0)
	case o.BlockCacheBytes < 0:
		// Badger refuses to open compressed tables without a block cache
		// (it panics: "BlockCacheSize should be set"): the least it takes.
		b = b.WithBlockCacheSize(minBlockCacheBytes)
	}
	if o.NumCompactors > 0 {
		b = b.WithNumCompactors(max(o.NumCompactors, 2))
	}
	return b
}
