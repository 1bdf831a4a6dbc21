//go:build !race

package state

// raceEnabled scales long tests down under the race detector (5–10× slower).
const raceEnabled = false
