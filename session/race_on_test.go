//go:build race

package session

// raceEnabled reports a -race build, whose sync.Pool drops items on purpose, so allocation counts mean
// nothing there; scripts/test runs the allocation tests again without -race.
const raceEnabled = true
