//go:build unix

package bench

import (
	"os"
	"syscall"
	"time"
)

// cpuTime is the user and system CPU time an exited process used.
func cpuTime(st *os.ProcessState) time.Duration {
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return 0
}
