package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// DefaultGCDiscardRatio is the discard ratio Badger recommends for value log
// GC: a value log file is rewritten when at least half of it is garbage,
// which bounds the value log's write amplification to 2.
const DefaultGCDiscardRatio = 0.5

// ValidGCDiscardRatio reports whether r is a discard ratio ValueLogGC
// takes: 0 < r < 1 (NaN is not). It is the rule of
// state.value_log_gc_discard_ratio, which cmd/resolver checks with it.
func ValidGCDiscardRatio(r float64) bool { return r > 0 && r < 1 }

// maxGCRewrites bounds the files one ValueLogGC rewrites, so that a call
// ends even if writers keep creating garbage.
const maxGCRewrites = 64

// GCResult is what one ValueLogGC did.
type GCResult struct {
	// Rewrites is the number of value log files rewritten (each rewrite
	// drops a file's garbage and may delete the file).
	Rewrites int
	// Reclaimed is how many bytes of disk the value log files occupied
	// less after the GC than before (allocated blocks; zero if they grew).
	Reclaimed int64
}

// ValueLogGC garbage-collects Badger's value log: RunValueLogGC with
// discardRatio (0 < ratio < 1; DefaultGCDiscardRatio), repeated until it
// finds no file worth rewriting. Values over Badger's value threshold live
// in the value log and stay on disk, after they are overwritten or deleted,
// until a GC rewrites their file; without GC the value log only grows.
//
// It is a no-op for a Memory store, and returns nil if Badger rejects it
// (another GC runs, or the store is closing). It refuses to start below the
// free-space floor (a rewrite writes before it frees): a *DiskFullError. It
// never runs concurrently with Snapshot. Safe from any goroutine, while
// the pipeline writes.
func (s *Store) ValueLogGC(discardRatio float64) (GCResult, error) {
	if s.closed.Load() {
		return GCResult{}, ErrClosed
	}
	if s.db == nil {
		return GCResult{}, nil
	}
	if !ValidGCDiscardRatio(discardRatio) {
		return GCResult{}, fmt.Errorf("state: value log GC: discard ratio %v is not between 0 and 1", discardRatio)
	}
	s.maint.Lock()
	defer s.maint.Unlock()
	if err := s.disk.check(); err != nil {
		return GCResult{}, err
	}
	before, err := s.valueLogBytes()
	if err != nil {
		return GCResult{}, err
	}
	var res GCResult
	for res.Rewrites < maxGCRewrites {
		err := s.db.RunValueLogGC(discardRatio)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			break
		}
		if err != nil {
			return res, fmt.Errorf("state: value log GC in %s: %w", s.dir, err)
		}
		res.Rewrites++
	}
	after, err := s.valueLogBytes()
	if err != nil {
		return res, err
	}
	res.Reclaimed = max(before-after, 0)
	return res, nil
}

// valueLogBytes is the disk space of the value log files (allocated
// blocks: Badger preallocates them as sparse files).
func (s *Store) valueLogBytes() (int64, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, fmt.Errorf("state: list %s: %w", s.dir, err)
	}
	var n int64
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".vlog") {
			continue
		}
		info, err := os.Stat(filepath.Join(s.dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted by the GC meanwhile
		}
		if err != nil {
			return 0, fmt.Errorf("state: size of %s: %w", e.Name(), err)
		}
		n += allocated(info)
	}
	return n, nil
}
