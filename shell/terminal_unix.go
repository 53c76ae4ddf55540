//go:build unix

package shell

import (
	"context"
	"io"
	"os"
	"syscall"
)

// controlSignals are caught when Stdin is not a terminal (Config.ControlSignals) and sent as bytes, as the
// official plugin does (docs/protocol.md §6.1): SIGINT 0x03, SIGQUIT 0x1C, SIGTSTP 0x1A.
var controlSignals = []os.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTSTP}

// endSignals end the session while Run owns the terminal: it is restored and the session ended.
var endSignals = []os.Signal{syscall.SIGTERM, syscall.SIGHUP}

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

// watchSize calls send now and after every SIGWINCH until ctx is done.
func watchSize(ctx context.Context, sig signals, send func()) {
	send()
	winch := make(chan os.Signal, 1)
	sig.notify(winch, syscall.SIGWINCH)
	go func() {
		defer sig.stop(winch)
		for {
			select {
			case <-winch:
				send()
			case <-ctx.Done():
				return
			}
		}
	}()
}

// enableVirtualTerminal is for Windows consoles; Unix terminals interpret escape sequences already.
func enableVirtualTerminal(io.Writer) func() { return nil }
