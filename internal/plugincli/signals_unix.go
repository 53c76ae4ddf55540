//go:build unix

package plugincli

import (
	"os"
	"syscall"
)

// controlSignals are forwarded to the remote side as bytes in shell sessions, as the official plugin does
// (protocol.md §6.1): SIGINT 0x03, SIGQUIT 0x1C, SIGTSTP 0x1A.
var controlSignals = []os.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTSTP}

// endSignals end a shell session locally: the terminal is restored and the session terminated.
var endSignals = []os.Signal{syscall.SIGTERM, syscall.SIGHUP}

// portStopSignals stop a port forwarding session (protocol.md §6.3, §6.4).
var portStopSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGTSTP}

// winchSignal reports terminal size changes; nil where there is none.
var winchSignal os.Signal = syscall.SIGWINCH

func controlByte(sig os.Signal) (byte, bool) {
	switch sig {
	case syscall.SIGINT:
		return 0x03, true
	case syscall.SIGQUIT:
		return 0x1C, true
	case syscall.SIGTSTP:
		return 0x1A, true
	}
	return 0, false
}
