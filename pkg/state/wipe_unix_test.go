//go:build unix

package state

import "testing"

// TestLockName: wipe.go keeps the file lock_unix.go locks.
func TestLockName(t *testing.T) {
	if lockName != lockFile {
		t.Fatalf("wipe.go lockName %q, lock_unix.go lockFile %q", lockName, lockFile)
	}
}
