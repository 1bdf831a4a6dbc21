package state

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Benchmarks of the snapshot file over the benchIDs() fixture (1M UUIDv7
// distinct_ids by default, 4 per person, two properties each, fully
// compacted). Run:
//
//	go test -run x -bench 'Snapshot|Restore' -benchtime 3x -count 1 -timeout 30m ./pkg/state/
//
// file-B is the snapshot's size, sst-B the size of the Badger tables it was
// taken from (the directory's apparent size is dominated by Badger's
// preallocated, sparse value log and means little).

// BenchmarkSnapshot writes the fixture's snapshot to a file, as `resolver
// snapshot` does (header, fingerprint and digest scans, backup, fsync).
func BenchmarkSnapshot(b *testing.B) {
	n := benchIDs()
	f := loadFixture(b, n, 4)
	out := filepath.Join(b.TempDir(), "state.snap")
	var size int64
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		size = writeSnapshotFile(b, f.s, out)
	}
	b.StopTimer()
	reportSnapshot(b, n, size, f.sstBytes, cpu0)
}

// BenchmarkRestore restores the fixture's snapshot into a fresh directory,
// as `resolver restore` does (load, then the fingerprint, digest and offset
// checks).
func BenchmarkRestore(b *testing.B) {
	n := benchIDs()
	f := loadFixture(b, n, 4)
	out := filepath.Join(b.TempDir(), "state.snap")
	size := writeSnapshotFile(b, f.s, out)
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		in, err := os.Open(out)
		must2(b, err)
		dir := filepath.Join(b.TempDir(), "identity")
		s, _, err := Restore(dir, bufio.NewReaderSize(in, 1<<20), Options{})
		must2(b, err)
		must2(b, s.Close())
		must2(b, in.Close())
		b.StopTimer()
		if i == b.N-1 {
			sst, _ := dirSizes(b, dir)
			b.ReportMetric(float64(sst), "restored-sst-B")
		}
		must2(b, os.RemoveAll(dir))
		b.StartTimer()
	}
	b.StopTimer()
	reportSnapshot(b, n, size, f.sstBytes, cpu0)
}

// writeSnapshotFile writes s's snapshot to path, synced, and returns its
// size.
func writeSnapshotFile(b *testing.B, s *Store, path string) int64 {
	b.Helper()
	fh, err := os.Create(path)
	must2(b, err)
	_, err = s.Snapshot(fh)
	must2(b, err)
	must2(b, fh.Sync())
	must2(b, fh.Close())
	info, err := os.Stat(path)
	must2(b, err)
	return info.Size()
}

func reportSnapshot(b *testing.B, ids int, size, sstBytes int64, cpu0 time.Duration) {
	b.ReportMetric(float64(size), "file-B")
	b.ReportMetric(float64(size)/float64(ids), "file-B/id")
	b.ReportMetric(float64(sstBytes), "sst-B")
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// BenchmarkSnapshotCompression compresses the fixture's Badger backup
// (taken once, uncompressed, in memory) at each zstd level: what the choice
// of snapshotLevel trades. ratio is backup bytes per file byte.
func BenchmarkSnapshotCompression(b *testing.B) {
	f := loadFixture(b, benchIDs(), 4)
	var backup bytes.Buffer
	_, err := f.s.db.Backup(&backup, 0)
	must2(b, err)
	for _, level := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression, zstd.SpeedBestCompression} {
		b.Run("level="+level.String(), func(b *testing.B) {
			var n countWriter
			b.SetBytes(int64(backup.Len()))
			cpu0 := cpuTime()
			for range b.N {
				n = 0
				zw, err := zstd.NewWriter(&n, zstd.WithEncoderLevel(level))
				must2(b, err)
				_, err = zw.Write(backup.Bytes())
				must2(b, err)
				must2(b, zw.Close())
			}
			b.ReportMetric(float64(n), "file-B")
			b.ReportMetric(float64(backup.Len())/float64(n), "ratio")
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

// countWriter counts what is written to it.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
