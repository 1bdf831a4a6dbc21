package state

import (
	"testing"

	"go.uber.org/zap/zaptest"
)

// TestOpenWithoutBlockCache pins a panic: a negative BlockCacheBytes
// ("disables it") with compressed tables made Badger panic in Open
// ("BlockCacheSize should be set").
func TestOpenWithoutBlockCache(t *testing.T) {
	for _, noCompression := range []bool{false, true} {
		s, err := Open(t.TempDir(), Options{BlockCacheBytes: -1, NoCompression: noCompression, Logger: zaptest.NewLogger(t)})
		if err != nil {
			t.Fatalf("NoCompression %v: %v", noCompression, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
