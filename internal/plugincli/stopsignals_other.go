//go:build !unix

package plugincli

import (
	"os"
	"syscall"
)

// portStopSignals stop a port forwarding session (docs/protocol.md §6.3, §6.4): Ctrl-C and Ctrl-Break on Windows.
var portStopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}
