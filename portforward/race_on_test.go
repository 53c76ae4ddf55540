//go:build race

package portforward

const raceEnabled = true
