//go:build linux || darwin

package state

import "syscall"

const statfsSupported = true

// freeBytes is the space of dir's filesystem available to this process
// (f_bavail: without the blocks reserved for root, which a root process
// could still use, so the floor errs on the safe side).
func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil // sizes are non-negative
}
