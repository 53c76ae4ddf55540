package plugincli

import (
	"io"
	"sync"

	"golang.org/x/term"

	"github.com/ssmwire/ssmwire/shell"
)

// fallbackSize is what the official plugin reports when the terminal size cannot be read.
var fallbackSize = shell.Size{Cols: 300, Rows: 100}

// fder is implemented by *os.File.
type fder interface{ Fd() uintptr }

// terminalFd returns x's file descriptor when x is a terminal.
func terminalFd(x any) (int, bool) {
	f, ok := x.(fder)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// terminalSize reads the size of the first of xs that is a terminal, else returns fallbackSize.
func terminalSize(xs ...any) shell.Size {
	for _, x := range xs {
		if fd, ok := terminalFd(x); ok {
			if w, h, err := term.GetSize(fd); err == nil && w > 0 && h > 0 {
				return shell.Size{Cols: uint32(w), Rows: uint32(h)}
			}
		}
	}
	return fallbackSize
}

// rawTerminal is a terminal put in raw mode, restored exactly once. A nil *rawTerminal is valid and does
// nothing, so callers need not check whether stdin was a terminal.
type rawTerminal struct {
	fd    int
	state *term.State
	once  sync.Once
}

// makeRaw puts stdin in raw mode when it is a terminal: no echo, no line editing, and no signals from the
// keyboard, so Ctrl-C, Ctrl-\ and Ctrl-Z reach the remote side as the bytes 0x03, 0x1C and 0x1A. It returns
// nil (and no error) when stdin is not a terminal.
func makeRaw(stdin io.Reader) (*rawTerminal, error) {
	fd, ok := terminalFd(stdin)
	if !ok {
		return nil, nil
	}
	st, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	return &rawTerminal{fd: fd, state: st}, nil
}

// restore puts the terminal back as it was. It is idempotent and safe from any goroutine.
func (t *rawTerminal) restore() {
	if t == nil {
		return
	}
	t.once.Do(func() { _ = term.Restore(t.fd, t.state) })
}

// guard restores the terminal when the goroutine it is deferred in panics, then lets the panic continue.
// Use as `defer t.guard()` at the top of every goroutine started while the terminal is raw.
func (t *rawTerminal) guard() {
	if p := recover(); p != nil {
		t.restore()
		panic(p)
	}
}
