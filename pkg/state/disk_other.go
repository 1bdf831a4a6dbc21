//go:build !(linux || darwin)

package state

import "errors"

// Without statfs there is no floor: Options.MinFreeBytes is ignored.
const statfsSupported = false

func freeBytes(string) (uint64, error) {
	return 0, errors.New("free space is not known on this platform")
}
