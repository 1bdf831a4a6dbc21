package state

import (
	"fmt"

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

	// BlockCacheBytes is Badger's cache of decompressed table blocks, which
	// serves the cold path of Find. Zero means 256 MiB; negative means the
	// least Badger reads compressed tables with (minBlockCacheBytes): a
	// store's older tables keep the compression they were written with,
	// whatever Compression says now, and Badger panics opening a compressed
	// table without a block cache.
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

	// Compression is how new table blocks are compressed (state.compression):
	// CompressionNone (the default, also "") or CompressionZSTD (level 1).
	// It applies to tables written from now on: Badger records each
	// table's compression in its manifest, so a store written with one
	// opens with the other, and compactions rewrite it over time. The
	// trade-off (BENCHMARKS.md §0, target 2): ZSTD stores an id in about
	// half the bytes (75 vs 137 with the bench's preload mix at 10M ids),
	// but every read of a block that is not in the block cache
	// decompresses it into the Go heap; uncompressed, Badger reads it in
	// place from the memory-mapped table. Measured: 0.80 against 0.64 of
	// the small state's events/s with 10M ids preloaded, 12–18% less peak
	// RSS in the default bench.
	Compression Compression

	// BlockBytes is the size of the table blocks written from now on
	// (state.block_bytes). Zero means DefaultBlockBytes. Larger blocks
	// compress better — with ZSTD, 16 KiB store the bench's 10M ids in
	// 69.5 bytes each instead of 75.1 — and a cold read decompresses (or,
	// uncompressed, touches) a whole block, so finds cost more: 0.575
	// against 0.635 of the small state's events/s (BENCHMARKS.md §0,
	// target 2). Tables keep the block size they were written with, so it
	// can be changed at any time. At most MaxBlockBytes.
	BlockBytes int

	// Replay opens the store for a replay into an empty state (`resolver
	// rebuild`): Badger compacts no level-0 tables until
	// ReplayLevelZeroTables of them wait, and Store.CompactLevelZero at the
	// replay's end compacts those left into the levels below in one pass.
	// Badger's leveled compactions otherwise rewrite every row several
	// times while the state grows: 46% of a 10M-op replay's CPU
	// (BENCHMARKS.md §0, target 3). The price: a read that reaches the
	// tables checks each level-0 table's Bloom filter, which a replay
	// mostly avoids (its filter and cache answer first). For a store that
	// is written live, leave it off.
	Replay bool
}

// ReplayLevelZeroTables is how many level-0 tables a store opened with
// Options.Replay lets wait before Badger compacts them (all at once):
// 4 GiB of 64 MiB memtables. Writes stall at 16 more.
const ReplayLevelZeroTables = 64

// The default and the bounds of Options.BlockBytes (state.block_bytes);
// the default is Badger's.
const (
	DefaultBlockBytes = 4 << 10
	MinBlockBytes     = 1 << 10
	MaxBlockBytes     = 1 << 20
)

// Compression is the compression of a store's new table blocks.
type Compression string

// The compressions of Options.Compression.
const (
	CompressionZSTD Compression = "zstd"
	CompressionNone Compression = "none"
)

// Compressions lists the valid values of Options.Compression, default
// first.
var Compressions = []Compression{CompressionNone, CompressionZSTD}

// badger returns Badger's compression type for c ("" is none).
func (c Compression) badger() (options.CompressionType, error) {
	switch c {
	case "", CompressionNone:
		return options.None, nil
	case CompressionZSTD:
		return options.ZSTD, nil
	}
	return options.None, fmt.Errorf("state: unknown compression %q (zstd or none)", string(c))
}

// minBlockCacheBytes is the block cache of a negative BlockCacheBytes.
const minBlockCacheBytes = 1 << 20

// badgerOptions maps Options onto Badger's.
func (o Options) badgerOptions(dir string, log *zap.Logger) (badger.Options, error) {
	comp, err := o.Compression.badger()
	if err != nil {
		return badger.Options{}, err
	}
	b := badger.DefaultOptions(dir).
		WithLogger(badgerLogger{log.Named("badger").Sugar()}).
		WithSyncWrites(o.SyncWrites).
		WithDetectConflicts(false).
		WithMetricsEnabled(false).
		WithCompression(comp).
		WithZSTDCompressionLevel(1)
	if o.MemTableBytes > 0 {
		// Values up to the threshold live in the LSM tree (ours are small);
		// Badger requires the threshold to fit into one batch (~15% of a
		// memtable).
		b = b.WithMemTableSize(o.MemTableBytes).WithValueThreshold(min(1<<20, o.MemTableBytes/16))
	}
	switch {
	case o.BlockCacheBytes > 0:
		b = b.WithBlockCacheSize(o.BlockCacheBytes)
	case o.BlockCacheBytes < 0:
		// Badger refuses to open compressed tables without a block cache
		// (it panics: "BlockCacheSize should be set"), and any store may
		// hold some: the least it takes.
		b = b.WithBlockCacheSize(minBlockCacheBytes)
	}
	blockBytes := o.BlockBytes
	if blockBytes == 0 {
		blockBytes = DefaultBlockBytes
	}
	if blockBytes < MinBlockBytes || blockBytes > MaxBlockBytes {
		return badger.Options{}, fmt.Errorf("state: block size %d bytes outside [%d, %d]", o.BlockBytes, MinBlockBytes, MaxBlockBytes)
	}
	b = b.WithBlockSize(blockBytes)
	if o.NumCompactors > 0 {
		b = b.WithNumCompactors(max(o.NumCompactors, 2))
	}
	if o.Replay {
		b = b.WithNumLevelZeroTables(ReplayLevelZeroTables).WithNumLevelZeroTablesStall(ReplayLevelZeroTables + 16)
	}
	return b, nil
}
