package shell

import (
	"context"
	"io"
	"os"
	"sync"

	"golang.org/x/term"
)

// FallbackSize is the size sent when a terminal's size cannot be read, as the official plugin does.
var FallbackSize = Size{Cols: 300, Rows: 100}

// fder is implemented by *os.File.
type fder interface{ Fd() uintptr }

// terminalFd returns x's file descriptor (a console handle on Windows) when x is a terminal.
func terminalFd(x any) (int, bool) {
	f, ok := x.(fder)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// IsTerminal reports whether r (or w: anything with an Fd method) is a terminal.
func IsTerminal(x any) bool {
	_, ok := terminalFd(x)
	return ok
}

// terminal is the local terminal Run owns while a session runs: stdin in raw mode, restored exactly once.
// A nil *terminal is valid and does nothing, so callers need not check whether stdin was a terminal.
type terminal struct {
	fd      int
	state   *term.State
	sizeOf  []any  // where the size is read: stdout first, then stdin
	console func() // undoes console output settings (Windows); nil elsewhere
	once    sync.Once
}

// openTerminal puts in in raw mode when it is a terminal: no echo, no line editing and no signals from the
// keyboard, so Ctrl-C, Ctrl-\ and Ctrl-Z reach the remote side as the bytes 0x03, 0x1C and 0x1A. It returns
// nil (and no error) when in is not a terminal.
func openTerminal(in io.Reader, out io.Writer) (*terminal, error) {
	fd, ok := terminalFd(in)
	if !ok {
		return nil, nil
	}
	st, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	return &terminal{fd: fd, state: st, sizeOf: []any{out, in}, console: enableVirtualTerminal(out)}, nil
}

// restore puts the terminal back as it was. It is idempotent and safe from any goroutine.
func (t *terminal) restore() {
	if t == nil {
		return
	}
	t.once.Do(func() {
		_ = term.Restore(t.fd, t.state)
		if t.console != nil {
			t.console()
		}
	})
}

// guard restores the terminal when the goroutine it is deferred in panics, then lets the panic continue.
// Run defers it at the top of every goroutine it starts while the terminal is raw.
func (t *terminal) guard() {
	if p := recover(); p != nil {
		t.restore()
		panic(p)
	}
}

// sizeOf reads the size of the first of xs that is a terminal.
func sizeOf(xs ...any) (Size, bool) {
	for _, x := range xs {
		if fd, ok := terminalFd(x); ok {
			if w, h, err := term.GetSize(fd); err == nil && w > 0 && h > 0 {
				return Size{Cols: uint32(w), Rows: uint32(h)}, true
			}
		}
	}
	return Size{}, false
}

// sizes sends the terminal's size on a channel whenever it changes, until ctx is done: on SIGWINCH where
// there is one, else by polling (Windows consoles have no such signal). Only the newest size is kept.
func sizes(ctx context.Context, sig signals, xs ...any) <-chan Size {
	ch := make(chan Size, 1)
	send := func() {
		sz, ok := sizeOf(xs...)
		if !ok {
			return
		}
		select { // keep only the newest size
		case <-ch:
		default:
		}
		ch <- sz
	}
	watchSize(ctx, sig, send)
	return ch
}

// signals are signal.Notify and signal.Stop, replaceable in tests.
type signals struct {
	notify func(c chan<- os.Signal, sig ...os.Signal)
	stop   func(c chan<- os.Signal)
}
