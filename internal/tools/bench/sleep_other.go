//go:build !linux

package bench

import "time"

// sleepExact is time.Sleep where nanosleep(2) is not called directly.
func sleepExact(d time.Duration) { time.Sleep(d) }
