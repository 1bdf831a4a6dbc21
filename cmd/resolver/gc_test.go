package main

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestGCPercent: without GOGC the process runs at defaultGCPercent; with
// GOGC set (a number, or off) the runtime's value from it is kept.
func TestGCPercent(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })

	t.Setenv("GOGC", "") // restored after the test
	os.Unsetenv("GOGC")
	assert.Equal(t, defaultGCPercent, setGCPercent())
	assert.Equal(t, defaultGCPercent, debug.SetGCPercent(defaultGCPercent), "the runtime's value")

	t.Setenv("GOGC", "200")
	debug.SetGCPercent(200) // what the runtime read from GOGC=200 at start
	assert.Equal(t, 200, setGCPercent())
	assert.Equal(t, 200, debug.SetGCPercent(200), "an operator's GOGC is kept")

	t.Setenv("GOGC", "off")
	debug.SetGCPercent(-1)
	assert.Equal(t, -1, setGCPercent())
	assert.Equal(t, -1, debug.SetGCPercent(-1), "GOGC=off is kept")
}
