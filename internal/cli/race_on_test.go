//go:build race

package cli

// raceEnabled reports that the race detector is on: it slows goroutines unevenly, so tests that count what
// scheduling decides allow more slack.
const raceEnabled = true
