package state

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Why a floor of free space: Badger writes its write-ahead log (the
// memtable's .mem file), its value log (.vlog) and every new table (.sst)
// through memory-mapped files that it first extends with ftruncate, which
// allocates no blocks. When the filesystem has no block left for a page the
// process writes into, the kernel answers the write with SIGBUS, which a Go
// program cannot recover from: the instance dies inside Badger (memmove in
// logFile.writeEntry for the memtable WAL, the path every commit takes;
// badger#1682, #1801), not with an error. So the store refuses to write
// while the free space of its filesystem is below a floor
// (Options.MinFreeBytes), and the instance stops with a DiskFullError
// before Badger can fault.
//
// The floor must cover what Badger writes without asking: the rest of the
// current memtable's WAL, the flush of full memtables to level-0 tables
// (up to MemTableBytes each, 64 MiB by default, and again at Close) and
// compactions, which write a level's new tables before deleting the old
// ones. 1 GiB (the resolver's default) covers the defaults; a replica of
// many GiB wants more.

// diskRecheck is how long a free-space reading is trusted while the free
// space is well above the floor; within lowMargin of the floor every write
// reads it afresh (BenchmarkDiskCheck: 0.12 µs cached, 2.8 µs a statfs,
// against a Badger commit of tens of µs or more).
const (
	diskRecheck = time.Second
	lowMargin   = 64 << 20
)

// DiskFullError is returned by every write of a Store (and by DiskHealth)
// once the free space of the filesystem holding its directory has dropped
// below the floor (Options.MinFreeBytes). Nothing of the refused write was
// written. Classify with IsDiskFull.
type DiskFullError struct {
	Dir   string // the store's directory
	Free  uint64 // bytes available to the process on its filesystem
	Floor uint64 // Options.MinFreeBytes
}

func (e *DiskFullError) Error() string {
	return fmt.Sprintf("state: disk almost full: %d bytes free on the filesystem of %s, below the floor of %d bytes (state.min_free_bytes):"+
		" writes to the replica stop here, before Badger's memory-mapped files could fault (SIGBUS)."+
		" Free space on that filesystem or move state.dir to a larger one, then restart: nothing committed is lost, the instance resumes from its committed offsets",
		e.Free, e.Dir, e.Floor)
}

// Is makes errors.Is(err, ErrDiskFull) true for any *DiskFullError.
func (e *DiskFullError) Is(target error) bool { return target == ErrDiskFull }

// diskGuard watches the free space of a directory's filesystem against a
// floor. Safe for concurrent use.
type diskGuard struct {
	dir   string
	floor uint64
	free  func(dir string) (uint64, error) // statfs; replaced in tests

	mu   sync.Mutex   // serialises reads of the filesystem
	at   atomic.Int64 // Unix nanoseconds of the last reading; 0: none
	last atomic.Uint64
}

// newDiskGuard returns the guard of dir, or nil when floor is 0 or the
// platform cannot tell free space (no guard: writes are not checked).
func newDiskGuard(dir string, floor uint64) *diskGuard {
	if floor == 0 || !statfsSupported {
		return nil
	}
	return &diskGuard{dir: dir, floor: floor, free: freeBytes}
}

// check is the cheap test before a write: the cached reading while it is
// fresh and well above the floor, else a new one. A nil guard passes.
func (g *diskGuard) check() error {
	if g == nil {
		return nil
	}
	at := g.at.Load()
	if free := g.last.Load(); at != 0 && time.Since(time.Unix(0, at)) < diskRecheck && free >= g.floor+lowMargin {
		return nil
	}
	return g.refresh()
}

// refresh reads the free space now and judges it.
func (g *diskGuard) refresh() error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	free, err := g.free(g.dir)
	if err != nil {
		g.at.Store(0)
		return fmt.Errorf("state: free space of the filesystem of %s: %w", g.dir, err)
	}
	g.last.Store(free)
	g.at.Store(time.Now().UnixNano())
	if free < g.floor {
		return &DiskFullError{Dir: g.dir, Free: free, Floor: g.floor}
	}
	return nil
}

// DiskHealth reads the free space of the store's filesystem now and returns
// a *DiskFullError (IsDiskFull) when it is below the floor
// (Options.MinFreeBytes), an error when it cannot be read, and nil
// otherwise — always nil without a floor, for a Memory store and on
// platforms without statfs. Once it fails every write fails too, so an
// instance should report itself not ready and stop. Safe from any
// goroutine; cheap enough to call every second.
func (s *Store) DiskHealth() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.disk.refresh()
}

// DiskFree returns the bytes free on the store's filesystem as last read
// (by a write's check or DiskHealth), and false when there is no reading:
// no floor, a Memory store, or nothing read yet.
func (s *Store) DiskFree() (uint64, bool) {
	if s.disk == nil || s.disk.at.Load() == 0 {
		return 0, false
	}
	return s.disk.last.Load(), true
}
