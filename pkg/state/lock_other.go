//go:build !unix

package state

// dirLock is a no-op where flock is unavailable; Badger's own directory
// lock still protects the directory (reported via isBadgerLockErr).
type dirLock struct{}

func lockDir(string) (*dirLock, error) { return &dirLock{}, nil }

func (*dirLock) release() error { return nil }
