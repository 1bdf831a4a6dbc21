package state

import (
	"errors"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

var (
	// ErrLocked is returned by Open when another process (or another Open
	// in this process) holds the state directory. The error wrapping it
	// names the directory. Classify with IsLocked.
	ErrLocked = errors.New("state: directory is locked by another process")

	// ErrTxnTooBig is returned by Update when the writes of one fn do not
	// fit into one Badger transaction. Nothing was written; the caller
	// should retry with a smaller batch (halve it). Classify with
	// IsTxnTooBig.
	ErrTxnTooBig = errors.New("state: transaction too big")

	// ErrReadOnly is returned by the write methods of a Tx handed out by
	// View.
	ErrReadOnly = errors.New("state: write in a read-only transaction")

	// ErrCorrupt is returned when a stored key or value does not decode:
	// an unknown encoding version, a truncated value, properties out of
	// order. It means the store was written by something else, or damaged;
	// rebuild it from the identity log.
	ErrCorrupt = errors.New("state: corrupt record")

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
