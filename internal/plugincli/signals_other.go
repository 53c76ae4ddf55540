//go:build !unix

package plugincli

import (
	"os"
	"syscall"
)

var (
	controlSignals            = []os.Signal{os.Interrupt}
	endSignals                = []os.Signal{syscall.SIGTERM}
	portStopSignals           = []os.Signal{os.Interrupt, syscall.SIGTERM}
	winchSignal     os.Signal = nil
)

func controlByte(sig os.Signal) (byte, bool) {
	if sig == os.Interrupt {
		return 0x03, true
	}
	return 0, false
}
