//go:build !unix

package bench

import (
	"os"
	"time"
)

// processCPU is the CPU time an exited process used, as far as os.ProcessState tells it.
func processCPU(st *os.ProcessState) time.Duration { return st.UserTime() + st.SystemTime() }

// cpuTime is this process's CPU time so far: unknown here, reported as 0.
func cpuTime() time.Duration { return 0 }
