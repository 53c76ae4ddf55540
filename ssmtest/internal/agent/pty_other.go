//go:build !linux

package agent

import (
	"os"

	"github.com/creack/pty"
)

// pollable returns f: elsewhere than on Linux the terminal stays in blocking mode (see pty_linux.go).
func pollable(f *os.File) (*os.File, error) { return f, nil }

// setWinsize sets the terminal's size.
func setWinsize(f *os.File, rows, cols uint16) error {
	return pty.Setsize(f, &pty.Winsize{Rows: rows, Cols: cols})
}
