package state

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDiskSize(t *testing.T) {
	st, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	n, err := st.DiskSize()
	require.NoError(t, err)
	assert.Positive(t, n, "a fresh Badger directory has its manifest and memtable")

	require.NoError(t, st.Close())
	_, err = st.DiskSize()
	assert.ErrorIs(t, err, ErrClosed)

	m, err := NewMemory().DiskSize()
	require.NoError(t, err)
	assert.Zero(t, m)
}

// TestDiskSizeCountsBlocks pins that the preallocated, sparse value log and
// memtable of a fresh store do not count in full (2 GiB + 128 MiB of file
// length for a few KiB of data).
func TestDiskSizeCountsBlocks(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("lengths, not blocks, on this platform")
	}
	st, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	defer st.Close()
	n, err := st.DiskSize()
	require.NoError(t, err)
	assert.Less(t, n, int64(64<<20), "sparse files counted by length")
}
