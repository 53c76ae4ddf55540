//go:build unix

package cli

import (
	"os"
	"os/signal"
	"syscall"
)

// windowChanges returns a channel of SIGWINCH notifications and a function that stops them.
func windowChanges() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	return ch, func() { signal.Stop(ch) }
}
