//go:build !unix

package bench

import (
	"os"
	"time"
)

// cpuTime is the CPU time an exited process used, as far as os.ProcessState tells it.
func cpuTime(st *os.ProcessState) time.Duration { return st.UserTime() + st.SystemTime() }
