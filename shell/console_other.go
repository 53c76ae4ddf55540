//go:build !unix && !windows

package shell

import (
	"io"
	"os"
)

// endSignals end the session while Run owns the terminal; none are known here.
var endSignals = []os.Signal{}

// enableVirtualTerminal does nothing where consoles need no switch for escape sequences.
func enableVirtualTerminal(io.Writer) func() { return nil }
