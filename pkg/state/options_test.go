package state

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/resolver-dev/resolver/pkg/unionfind"

	"go.uber.org/zap/zaptest"
)

// TestOpenWithoutBlockCache pins a panic: a negative BlockCacheBytes
// ("disables it") with compressed tables made Badger panic in Open
// ("BlockCacheSize should be set").
func TestOpenWithoutBlockCache(t *testing.T) {
	for _, c := range Compressions {
		s, err := Open(t.TempDir(), Options{BlockCacheBytes: -1, Compression: c, Logger: zaptest.NewLogger(t)})
		if err != nil {
			t.Fatalf("compression %s: %v", c, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// fingerprintOfOps is the fingerprint of a store that applied ops with
// the test options: what a store written any other way must match.
func fingerprintOfOps(t *testing.T, ops []unionfind.Op) string {
	t.Helper()
	s, _ := openTest(t, testOptions(t))
	applyInChunks(t, s, ops)
	return fingerprint(t, s)
}

// TestCompressionSwitch pins what state.compression promises: a store
// written with one compression opens and reads with another, each table
// keeps the compression it was written with (Badger's manifest records
// it), and the state is that of the same ops written under one.
func TestCompressionSwitch(t *testing.T) {
	ops := compressibleOps(3000)
	want := fingerprintOfOps(t, ops)
	for _, order := range [][]Compression{
		{CompressionZSTD, CompressionNone, CompressionZSTD},
		{CompressionNone, CompressionZSTD, CompressionNone},
	} {
		t.Run(fmt.Sprint(order), func(t *testing.T) {
			dir := t.TempDir()
			open := func(c Compression) *Store {
				o := testOptions(t)
				o.Compression = c
				s, err := Open(dir, o)
				if err != nil {
					t.Fatalf("open with %s: %v", c, err)
				}
				return s
			}
			seen := map[uint64]bool{}
			// newTables returns the ratio of on-disk to uncompressed
			// bytes of the tables that appeared since the last call.
			newTables := func(s *Store) float64 {
				var disk, raw float64
				for _, ti := range s.db.Tables() {
					if !seen[ti.ID] {
						seen[ti.ID] = true
						disk += float64(ti.OnDiskSize)
						raw += float64(ti.UncompressedSize)
					}
				}
				if raw == 0 {
					t.Fatalf("no new table was written; tables: %+v", s.db.Tables())
				}
				return disk / raw
			}
			checkRatio := func(c Compression, r float64) {
				t.Helper()
				if compressed := c != CompressionNone; compressed != (r < 0.7) {
					t.Fatalf("tables written with %s: on-disk/uncompressed %.2f", c, r)
				}
			}
			// Each third of the ops under one compression, the store
			// closed in between (Close flushes the memtable into a table).
			third := len(ops) / 3
			s := open(order[0])
			applyInChunks(t, s, ops[:third])
			for i, c := range order {
				must(t, s.Close())
				s = open(Compressions[i%len(Compressions)]) // reads whatever it finds
				checkRatio(c, newTables(s))
				if i+1 < len(order) {
					must(t, s.Close())
					s = open(order[i+1])
					applyInChunks(t, s, ops[(i+1)*third:min((i+2)*third, len(ops))])
				}
			}
			defer s.Close()
			if got := fingerprint(t, s); got != want {
				t.Fatal("a store written under two compressions differs from one written under one")
			}
			for _, id := range []string{"user-000000-of-a-compressible-name", "user-002999-of-a-compressible-name"} {
				if _, explicit, err := s.Find("1", id); err != nil || !explicit {
					t.Fatalf("Find %s: explicit %v, %v", id, explicit, err)
				}
			}
		})
	}
	if _, err := Open(t.TempDir(), Options{Compression: "snappy"}); err == nil || !strings.Contains(err.Error(), `"snappy"`) {
		t.Fatalf("Open with an unknown compression: %v", err)
	}
}

// applyInChunks applies ops in Updates that fit testOptions' memtable.
func applyInChunks(t *testing.T, s *Store, ops []unionfind.Op) {
	t.Helper()
	for i := 0; i < len(ops); i += 200 {
		applyOps(t, s, ops[i:min(i+200, len(ops))])
	}
}

// compressibleOps are n identifies of ids that compress well, each with a
// property: enough keys for tables of a few pages.
func compressibleOps(n int) []unionfind.Op {
	ops := make([]unionfind.Op, n)
	for i := range ops {
		ops[i] = unionfind.Op{
			Kind: unionfind.OpEvent, Team: "1", DistinctID: fmt.Sprintf("user-%06d-of-a-compressible-name", i), Timestamp: int64(i + 1),
			Merge: &unionfind.Merge{Other: fmt.Sprintf("anon-%06d-of-a-compressible-name", i), Guarded: true},
			Set:   []unionfind.KV{{Key: "plan", Value: json.RawMessage(`"free"`)}},
		}
	}
	return ops
}

// TestBlockSizeSwitch pins what state.block_bytes promises: tables written
// with one block size open and read with another (each table's index
// records its blocks), larger blocks make a table of the same rows
// smaller with ZSTD, the state is that of the same ops written under one
// size, and a size out of range is refused by Open.
func TestBlockSizeSwitch(t *testing.T) {
	ops := compressibleOps(3000)
	want := fingerprintOfOps(t, ops)
	dir := t.TempDir()
	open := func(blockBytes int) *Store {
		o := testOptions(t)
		o.Compression, o.BlockBytes = CompressionZSTD, blockBytes
		s, err := Open(dir, o)
		if err != nil {
			t.Fatalf("open with %d-byte blocks: %v", blockBytes, err)
		}
		return s
	}
	seen := map[uint64]bool{}
	type tables struct{ disk, raw, index, keys float64 }
	newTables := func(s *Store) (n tables) { // the tables new since the last call
		for _, ti := range s.db.Tables() {
			if !seen[ti.ID] {
				seen[ti.ID] = true
				n.disk += float64(ti.OnDiskSize)
				n.raw += float64(ti.UncompressedSize)
				n.index += float64(ti.IndexSz)
				n.keys += float64(ti.KeyCount)
			}
		}
		if n.keys == 0 {
			t.Fatalf("no new tables: %+v", s.db.Tables())
		}
		return n
	}
	half := len(ops) / 2
	s := open(1 << 10)
	applyInChunks(t, s, ops[:half])
	must(t, s.Close())
	s = open(64 << 10)
	small := newTables(s)
	applyInChunks(t, s, ops[half:])
	must(t, s.Close())
	s = open(0) // Badger's 4 KiB, reading both
	defer s.Close()
	big := newTables(s)
	// The block index has an entry per block: 64 times fewer blocks (5.8
	// against 1.0 bytes per key measured; 2.1 both without the option).
	if si, bi := small.index/small.keys, big.index/big.keys; si < 4*bi {
		t.Fatalf("index bytes per key: %.2f with 1 KiB blocks, %.2f with 64 KiB", si, bi)
	}
	if sr, br := small.disk/small.raw, big.disk/big.raw; br >= sr {
		t.Fatalf("64 KiB blocks compress to %.3f of the rows, 1 KiB blocks to %.3f", br, sr)
	}
	if got := fingerprint(t, s); got != want {
		t.Fatal("a store written with two block sizes differs from one written with one")
	}
	for _, b := range []int{-1, MinBlockBytes - 1, MaxBlockBytes + 1} {
		o := testOptions(t)
		o.BlockBytes = b
		if s, err := Open(t.TempDir(), o); err == nil {
			s.Close()
			t.Errorf("Open with %d-byte blocks: no error", b)
		}
	}
}
