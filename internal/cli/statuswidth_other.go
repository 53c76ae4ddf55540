//go:build !unix

package cli

import "os"

// sigWinch is nil: no resize signal here; the next periodic redraw takes the new width.
var sigWinch os.Signal
