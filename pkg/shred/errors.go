package shred

import "errors"

var (
	// ErrOpen is returned by Open for a value that does not open under the
	// key: a wrong key, or a value, key, or op field it is bound to that
	// was changed since it was sealed, or bytes that are no sealed value.
	// The error names the property key and the key id, never a value.
	ErrOpen = errors.New("shred: sealed value does not open")
	// ErrNotSealed is returned by Open for an op whose KeyID is 0.
	ErrNotSealed = errors.New("shred: op is not sealed")
	// ErrSealed is returned by Seal for an op already sealed (KeyID != 0).
	ErrSealed = errors.New("shred: op is already sealed")
	// ErrKeyID is returned by Seal for key id 0, which means "not sealed".
	ErrKeyID = errors.New("shred: key id 0")
	// ErrMasterKey marks a master key that ParseMasterKey refuses. The
	// error says what is wrong with it, never what it is.
	ErrMasterKey = errors.New("shred: invalid master key")
	// ErrErased is returned by Ring.Create for a generation whose keys the
	// ring has seen tombstoned: values sealed under it would be erased on
	// arrival. The caller reads the distinct_id's current generation again.
	ErrErased = errors.New("shred: generation erased")
	// ErrInvalidID is returned by the Ring for a team or distinct_id
	// outside the bounds of unionfind.Op.Validate (a key that could never
	// be asked for).
	ErrInvalidID = errors.New("shred: invalid team or distinct_id")
	// ErrClosed is returned by the Ring's methods after Close.
	ErrClosed = errors.New("shred: ring closed")
	// ErrRingClient is returned by NewRing for a client it cannot use.
	ErrRingClient = errors.New("shred: unusable ring client")
)
