//go:build !unix && !windows

package shell

import "io"

// enableVirtualTerminal does nothing where consoles need no switch for escape sequences.
func enableVirtualTerminal(io.Writer) func() { return nil }
