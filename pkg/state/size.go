package state

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// DiskSize returns the bytes of disk the store's files occupy in its
// directory: the Badger tables, value logs, memtables and manifest. It is
// zero for a Memory store.
//
// It counts allocated blocks where the platform says (Unix), not file
// lengths: Badger preallocates its value log (2 GiB) and memtables
// (128 MiB) as sparse files, whose length says nothing about the data. On
// other platforms it falls back to the lengths. Badger's own Size is
// refreshed only every minute and only with Badger metrics on (they are
// off), so this walks the directory, which holds a few dozen files: cheap
// enough for every metrics scrape.
func (s *Store) DiskSize() (int64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	if s.db == nil {
		return 0, nil
	}
	var n int64
	err := filepath.WalkDir(s.dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed by a compaction meanwhile
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		n += allocated(info)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("state: size of %s: %w", s.dir, err)
	}
	return n, nil
}
