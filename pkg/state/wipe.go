package state

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
// Badger can no longer open. It deletes them in an order (wipeOrder) that
// leaves, if it is killed partway, a directory that opens as the state it
// was wiping less its newest transactions, or as an empty one — each
// consistent with its applied offsets, so resolver run can continue from
// it and resolver rebuild can start again.
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

// removeContents deletes everything in dir but the lock file, in
// wipeOrder.
func removeContents(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("state: wipe %s: %w", dir, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Name() != lockName {
			names = append(names, e.Name())
		}
	}
	for _, name := range wipeOrder(names) {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("state: wipe %s: %w", dir, err)
		}
	}
	return nil
}

// wipeOrder orders the files of a Badger directory so that a wipe killed
// after any of them leaves a directory that opens as a consistent state —
// the one wiped, less its newest transactions — or as an empty one, never
// as part of the state with the offsets of all of it:
//
//  1. the memtables' write-ahead logs (NNNNN.mem), newest first: they hold
//     the transactions not yet in a table, in order, so removing the
//     newest ones first drops a suffix of the transactions (a store killed
//     before its last writes were flushed looks the same);
//  2. the MANIFEST: without it Badger opens an empty store, and deletes the
//     tables no manifest names;
//  3. everything else.
//
// In name order — what it was — the tables went first, and a wipe killed
// among them left a MANIFEST naming tables that were gone: a directory
// Badger refuses ("file does not exist for table N"); one killed among the
// .mem files, oldest first, left newer transactions without older ones.
func wipeOrder(names []string) []string {
	rank := func(name string) (int, int64) {
		if fid, ok := strings.CutSuffix(name, ".mem"); ok {
			n, err := strconv.ParseInt(fid, 10, 64)
			if err == nil {
				return 0, -n // newest first
			}
		}
		if name == "MANIFEST" {
			return 1, 0
		}
		return 2, 0
	}
	out := slices.Clone(names)
	slices.SortStableFunc(out, func(a, b string) int {
		ra, fa := rank(a)
		rb, fb := rank(b)
		return cmp.Or(cmp.Compare(ra, rb), cmp.Compare(fa, fb), strings.Compare(a, b))
	})
	return out
}
