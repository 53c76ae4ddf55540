//go:build unix

package plugincli

import (
	"os"
	"syscall"
)

// portStopSignals stop a port forwarding session (docs/protocol.md §6.3, §6.4). Shell sessions leave signals to
// package shell.
var portStopSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGTSTP}
