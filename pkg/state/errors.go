package state

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

var (
	// ErrKeyTooLarge is returned by a write whose key is longer than
	// MaxKeyBytes. Nothing was written by that call. The error names the
	// key's length and tag, never the key (it holds ids). Classify with
	// IsInvalidWrite.
	ErrKeyTooLarge = errors.New("state: key too large")

	// ErrValueTooLarge is returned by a write whose value is longer than
	// MaxValueBytes. Nothing was written by that call. Classify with
	// IsInvalidWrite.
	ErrValueTooLarge = errors.New("state: value too large")

	// ErrLocked is returned by Open when another process (or another Open
	// in this process) holds the state directory. The error wrapping it
	// names the directory. Classify with IsLocked.
	ErrLocked = errors.New("state: directory is locked by another process")

	// ErrTxnTooBig is returned by Update when the writes of one fn do not
	// fit into one Badger transaction. Nothing was written; the caller
	// should retry with a smaller batch (halve it). Classify with
	// IsTxnTooBig.
	ErrTxnTooBig = errors.New("state: transaction too big")

	// ErrUnsorted is returned by a BulkLoader's write out of its stream's
	// order (see BulkLoader). Nothing of that record was written.
	ErrUnsorted = errors.New("state: bulk load records out of order")

	// ErrReadOnly is returned by the write methods of a Tx handed out by
	// View.
	ErrReadOnly = errors.New("state: write in a read-only transaction")

	// ErrCorrupt is returned when a stored key or value does not decode:
	// an unknown encoding version, a truncated value, properties out of
	// order. It means the store was written by something else, or damaged;
	// rebuild it from the identity log.
	ErrCorrupt = errors.New("state: corrupt record")

	// ErrUnfinishedReplay is matched by the error of Open for a store whose
	// replay used sorted commits (Store.SetSortedCommits) and stopped
	// without ending them cleanly: a crash, or a commit that failed. A
	// sorted commit is several Badger transactions, so part of a batch may
	// be missing. Make the state again with resolver rebuild.
	ErrUnfinishedReplay = errors.New("state: a replay with sorted commits did not finish")

	// ErrClosed is returned by every method of a Store after Close.
	ErrClosed = errors.New("state: store is closed")

	// ErrDiskFull is matched (errors.Is) by every *DiskFullError: the free
	// space of the store's filesystem is below Options.MinFreeBytes and the
	// store refuses writes. It is local to one instance: stop it, free
	// space, restart. Classify with IsDiskFull.
	ErrDiskFull = errors.New("state: disk almost full")
)

// IsDiskFull reports whether err says the store's filesystem is below its
// free-space floor (see DiskFullError).
func IsDiskFull(err error) bool {
	return errors.Is(err, ErrDiskFull)
}

// IsLocked reports whether err says the state directory is held by another
// process (see ErrLocked).
func IsLocked(err error) bool {
	return errors.Is(err, ErrLocked)
}

// IsTxnTooBig reports whether err says an Update did not fit into one
// transaction and should be retried with a smaller batch.
func IsTxnTooBig(err error) bool {
	return errors.Is(err, ErrTxnTooBig) || errors.Is(err, badger.ErrTxnTooBig)
}

// isBadgerLockErr recognises Badger's own directory-lock failure. Badger
// builds that error with y.Wrapf, which formats the cause with %+v and
// drops the chain, so the message is all there is to classify. It is only a
// fallback: Open takes its own lock first (lock.go) and reports ErrLocked
// from that, so this matters only when a non-resolver program (the badger
// CLI, say) holds the directory.
func isBadgerLockErr(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Cannot acquire directory lock")
}

// MaxKeyBytes is the longest key a Store writes: Badger's own limit (it
// refuses keys over 65,000 bytes). Both engines enforce it, so a write is
// refused the same way whichever engine is under the Store.
const MaxKeyBytes = 65000

// MaxValueBytes is the longest value a Store writes (64 MiB). Badger accepts
// values up to its value-log file size (1 GiB by default); the Store's own,
// smaller bound is what every replica and both engines enforce alike.
const MaxValueBytes = 64 << 20

// IsInvalidWrite reports whether err says a write was refused for what it
// would write — a key or value over the bounds above, or a key Badger
// reserves — rather than for the state of the disk or the database. The
// same write is refused the same way on every replica, so the caller may
// treat it as a property of its input (the applier rejects the op).
func IsInvalidWrite(err error) bool {
	return errors.Is(err, ErrKeyTooLarge) || errors.Is(err, ErrValueTooLarge) ||
		errors.Is(err, badger.ErrEmptyKey) || errors.Is(err, badger.ErrInvalidKey)
}

// checkWrite refuses a key or value beyond the Store's bounds; both engines
// call it first in set.
func checkWrite(key, val []byte) error {
	switch {
	case len(key) > MaxKeyBytes:
		return fmt.Errorf("%w: %d bytes under tag %q, at most %d", ErrKeyTooLarge, len(key), keyTag(key), MaxKeyBytes)
	case len(val) > MaxValueBytes:
		return fmt.Errorf("%w: %d bytes under tag %q, at most %d", ErrValueTooLarge, len(val), keyTag(key), MaxValueBytes)
	}
	return nil
}

// keyTag is the tag of a key (keys.go): its bytes up to and including the
// first '/', at most 4.
func keyTag(key []byte) string {
	for i := 0; i < len(key) && i < 4; i++ {
		if key[i] == '/' {
			return string(key[:i+1])
		}
	}
	return ""
}
