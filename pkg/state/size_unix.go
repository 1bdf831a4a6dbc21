//go:build unix

package state

import (
	"io/fs"
	"syscall"
)

// allocated is the disk space a file occupies: its allocated 512-byte
// blocks (st_blocks), which for a sparse file is less than its length.
func allocated(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return info.Size()
}
