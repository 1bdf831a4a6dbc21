package state

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeFree makes a guard read its free space from *free, counting reads.
func fakeFree(g *diskGuard, free *atomic.Uint64, reads *atomic.Int64) {
	g.free = func(string) (uint64, error) {
		reads.Add(1)
		return free.Load(), nil
	}
}

// TestDiskGuard: the floor, the message, and the caching of readings.
func TestDiskGuard(t *testing.T) {
	const floor = 100 << 20
	g := &diskGuard{dir: "/var/lib/resolver/identity", floor: floor}
	var free atomic.Uint64
	var reads atomic.Int64
	fakeFree(g, &free, &reads)

	free.Store(1 << 30) // well above the floor: one reading serves a second
	for range 100 {
		must(t, g.check())
	}
	if n := reads.Load(); n != 1 {
		t.Fatalf("%d readings for 100 checks well above the floor, want 1", n)
	}

	free.Store(floor + 1<<20) // near the floor: every check reads
	must(t, g.refresh())
	reads.Store(0)
	for range 10 {
		must(t, g.check())
	}
	if n := reads.Load(); n != 10 {
		t.Fatalf("%d readings for 10 checks near the floor, want 10", n)
	}

	free.Store(floor - 1)
	err := g.check()
	var de *DiskFullError
	if !errors.As(err, &de) || !IsDiskFull(err) || !errors.Is(err, ErrDiskFull) {
		t.Fatalf("below the floor: %v, want a *DiskFullError", err)
	}
	if de.Free != floor-1 || de.Floor != floor || de.Dir != g.dir {
		t.Fatalf("error fields %+v", de)
	}
	for _, want := range []string{g.dir, "104857599 bytes free", "floor of 104857600", "state.min_free_bytes", "SIGBUS", "restart"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err.Error(), want)
		}
	}

	g.free = func(string) (uint64, error) { return 0, errors.New("statfs: bad") }
	if err := g.refresh(); err == nil || IsDiskFull(err) || !strings.Contains(err.Error(), g.dir) {
		t.Fatalf("failed reading: %v", err)
	}

	var none *diskGuard
	must(t, none.check())
	must(t, none.refresh())
	if IsDiskFull(errors.New("other")) || IsDiskFull(nil) {
		t.Fatal("IsDiskFull too eager")
	}
}

// TestOpenBelowFloor: Open refuses a directory whose filesystem has less
// free space than the floor, and leaves it unlocked.
func TestOpenBelowFloor(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(t)
	o.MinFreeBytes = 1 << 62 // more than any disk
	_, err := Open(dir, o)
	if !IsDiskFull(err) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Open below the floor: %v", err)
	}
	o.MinFreeBytes = 1 << 20
	s, err := Open(dir, o)
	must(t, err)
	must(t, s.DiskHealth())
	if free, ok := s.DiskFree(); !ok || free < 1<<20 {
		t.Fatalf("DiskFree = %d, %v", free, ok)
	}
	must(t, s.Close())
	if err := s.DiskHealth(); !errors.Is(err, ErrClosed) {
		t.Fatalf("DiskHealth after Close: %v", err)
	}
}

// TestWritesStopBelowFloor: once free space drops below the floor, every
// write of the store fails with a *DiskFullError and writes nothing, and
// DiskHealth says so; once space is back, writes go on.
func TestWritesStopBelowFloor(t *testing.T) {
	o := testOptions(t)
	o.MinFreeBytes = 1 << 20
	s, _ := openTest(t, o)
	var free atomic.Uint64
	var reads atomic.Int64
	free.Store(1 << 30)
	fakeFree(s.disk, &free, &reads)
	update(t, s, func(tx Tx) error { return tx.SetApplied(0, 1) })

	free.Store(1 << 19)
	if err := s.DiskHealth(); !IsDiskFull(err) { // the watcher's reading; a write's check may trust the last one for a second
		t.Fatalf("DiskHealth below the floor: %v", err)
	}
	err := s.Update(func(tx Tx) error { return tx.SetApplied(0, 2) })
	if !IsDiskFull(err) {
		t.Fatalf("Update below the floor: %v", err)
	}
	if err := s.ApplyBilling([]BillingDelta{{Team: "1", Month: "2026-11", Class: "identified", Count: 1}}, map[int32]int64{0: 1}); !IsDiskFull(err) {
		t.Fatalf("ApplyBilling below the floor: %v", err)
	}
	if err := s.Update(func(Tx) error { return nil }); !IsDiskFull(err) {
		t.Fatalf("empty Update below the floor: %v", err)
	}
	if _, err := s.ValueLogGC(DefaultGCDiscardRatio); !IsDiskFull(err) {
		t.Fatalf("ValueLogGC below the floor: %v", err)
	}
	offs, err := s.AppliedOffsets()
	must(t, err)
	if offs[0] != 1 {
		t.Fatalf("applied offset %d after a refused write, want 1", offs[0])
	}

	free.Store(1 << 30)
	must(t, s.DiskHealth())
	update(t, s, func(tx Tx) error { return tx.SetApplied(0, 2) })
}

// TestValueLogGC: GC runs over a store whose values live in the value log,
// repeatedly and alongside writes; it is a no-op in memory; a bad ratio is
// an error.
func TestValueLogGC(t *testing.T) {
	o := testOptions(t) // 4 MiB memtables: values over 256 KiB go to the value log
	s, _ := openTest(t, o)
	big := bytes.Repeat([]byte("v"), 300<<10)
	for i := range 20 {
		must(t, s.eng.update(func(w kvWriter) error { return w.set([]byte("x/big"), append(big, byte(i))) }))
	}
	for range 3 {
		res, err := s.ValueLogGC(DefaultGCDiscardRatio)
		must(t, err)
		if res.Rewrites < 0 || res.Reclaimed < 0 {
			t.Fatalf("GC result %+v", res)
		}
	}
	for _, r := range []float64{0, 1, -0.5, math.NaN()} {
		if _, err := s.ValueLogGC(r); err == nil {
			t.Fatalf("ratio %v accepted", r) // NaN was, before ValidGCDiscardRatio
		}
	}
	if res, err := NewMemory().ValueLogGC(DefaultGCDiscardRatio); err != nil || res != (GCResult{}) {
		t.Fatalf("memory GC: %+v, %v", res, err)
	}
}

// BenchmarkDiskCheck measures the free-space check before a write: cached
// (well above the floor) and fresh (a statfs, as near the floor).
func BenchmarkDiskCheck(b *testing.B) {
	dir := b.TempDir()
	b.Run("cached", func(b *testing.B) {
		g := newDiskGuard(dir, 1)
		b.ReportAllocs()
		for b.Loop() {
			if err := g.check(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("statfs", func(b *testing.B) {
		g := newDiskGuard(dir, 1)
		b.ReportAllocs()
		for b.Loop() {
			if err := g.refresh(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
