//go:build unix

package bench

import (
	"os"
	"syscall"
	"time"
)

// processCPU is the user and system CPU time an exited process used.
func processCPU(st *os.ProcessState) time.Duration {
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return 0
}

// cpuTime is this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
