package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIsTerminal pins the bug of issue 13: isTerminal, which picks the
// console log format and the rebuild progress bar, said true for
// /dev/null (it tested for a character device, which /dev/null is), so a
// resolver whose stderr went to /dev/null logged in the console format.
// It now asks the terminal driver (golang.org/x/term).
func TestIsTerminal(t *testing.T) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer devNull.Close()
	assert.False(t, isTerminal(devNull), "/dev/null is a character device, not a terminal")

	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	assert.False(t, isTerminal(w), "a pipe")

	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	require.NoError(t, err)
	defer f.Close()
	assert.False(t, isTerminal(f), "a regular file")

	assert.False(t, isTerminal(&bytes.Buffer{}), "not a file at all")

	// A pseudo-terminal's master side answers the terminal ioctl.
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	require.NoError(t, err)
	defer ptmx.Close()
	assert.True(t, isTerminal(ptmx), "/dev/ptmx")
}
