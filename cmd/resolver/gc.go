package main

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
)

// defaultGCPercent is the collector's target (GOGC) of a resolver process
// whose environment does not set GOGC. Most of the heap is Badger's
// memtable arenas (83 MB each, two while one is flushed), which hold no
// pointers: a collection does not scan them, so collecting more often
// costs little, while Go's default (100) lets the heap grow to twice what
// is live. Measured in the default bench (BENCHMARKS.md §0, target 4): peak
// RSS 438 MB at 100, 342 MB at 75, 324 MB at 50, with CPU per event within
// the noise at 75 and ~5% more at 50.
const defaultGCPercent = 75

// setGCPercent applies defaultGCPercent unless GOGC is set (to anything,
// "off" included): the operator's setting wins. It returns the percent in
// effect.
func setGCPercent() int {
	if _, ok := os.LookupEnv("GOGC"); ok {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return int(int64(s[0].Value.Uint64())) // GOGC=off: -1, as debug.SetGCPercent has it
	}
	debug.SetGCPercent(defaultGCPercent)
	return defaultGCPercent
}
