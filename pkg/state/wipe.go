package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// lockName is the lock file Open keeps in a state directory (lockFile in
// lock_unix.go; repeated here because that file is built on unix only, and
// checked equal by a test there).
const lockName = "resolver.lock"

// Wipe deletes the state in dir — identity state, offsets, outbox, billing
// view: everything Open keeps there — so that the next Open starts empty,
// as before a rebuild. It takes dir's lock first and holds it while
// deleting, so it refuses a directory that a running instance (or an open
// Store) holds, with an error for which IsLocked is true. The lock file
// itself is kept. A directory that does not exist is left so; it is not an
// error.
//
// Wipe works on the files, not through Badger, so it also clears a state
// Badger can no longer open.
func Wipe(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	lock, err := lockDir(dir)
	if err != nil {
		return err
	}
	return errors.Join(removeContents(dir), lock.release())
}

// CheckUnlocked returns an error for which IsLocked is true if a running
// instance (or an open Store) holds dir, and nil if nothing does or dir does
// not exist. It changes nothing; the answer may be stale by the time the
// caller acts on it, so it is for refusing early with a clear message, not
// for mutual exclusion (Open and Wipe lock).
func CheckUnlocked(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	lock, err := lockDir(dir)
	if err != nil {
		return err
	}
	return lock.release()
}

// removeContents deletes everything in dir but the lock file.
func removeContents(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("state: wipe %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.Name() == lockName {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("state: wipe %s: %w", dir, err)
		}
	}
	return nil
}

// removeLockFile deletes the lock file of a directory no Store holds.
func removeLockFile(dir string) error {
	err := os.Remove(filepath.Join(dir, lockName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("state: remove lock file of %s: %w", dir, err)
	}
	return nil
}
