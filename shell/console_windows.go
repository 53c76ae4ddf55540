//go:build windows

package shell

import (
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/windows"
)

// endSignals end the session while Run owns the terminal: Go delivers closing the console window, logging
// off and shutting down as SIGTERM.
var endSignals = []os.Signal{syscall.SIGTERM}

// enableVirtualTerminal makes a Windows console interpret the VT escape sequences the remote shell sends
// (colours, cursor movement) and returns a function that restores the console's mode; nil when out is not
// a console.
func enableVirtualTerminal(out io.Writer) func() {
	fd, ok := terminalFd(out)
	if !ok {
		return nil
	}
	h := windows.Handle(fd)
	var mode uint32
	if windows.GetConsoleMode(h, &mode) != nil {
		return nil
	}
	if windows.SetConsoleMode(h, mode|windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING|windows.DISABLE_NEWLINE_AUTO_RETURN) != nil {
		return nil
	}
	return func() { windows.SetConsoleMode(h, mode) }
}
