//go:build unix

package cli

import (
	"os"
	"syscall"
)

// sigWinch is the signal of a terminal resize.
var sigWinch os.Signal = syscall.SIGWINCH
