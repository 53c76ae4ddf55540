//go:build !race

package cli

// raceEnabled reports that the race detector is on.
const raceEnabled = false
