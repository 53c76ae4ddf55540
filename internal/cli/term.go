package cli

import (
	"context"
	"io"
	"os"
	"sync"

	"golang.org/x/term"

	"github.com/ssmwire/ssmwire/shell"
)

// terminal is standard input when it is a terminal, in raw mode for an interactive shell.
type terminal struct {
	in, out *os.File
	once    sync.Once
	state   *term.State
}

// openTerminal puts stdin in raw mode when it is a terminal and returns a handle to restore it; it returns
// nil (whose methods do nothing) for anything else, such as a pipe or a test's buffer.
func openTerminal(stdin io.Reader, stdout io.Writer) *terminal {
	in, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return nil
	}
	state, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return nil
	}
	t := &terminal{in: in, state: state}
	if out, ok := stdout.(*os.File); ok && term.IsTerminal(int(out.Fd())) {
		t.out = out
	}
	return t
}

// restore leaves raw mode; it may be called more than once.
func (t *terminal) restore() {
	if t == nil {
		return
	}
	t.once.Do(func() { term.Restore(int(t.in.Fd()), t.state) })
}

// size returns the terminal's current size, or nil when unknown.
func (t *terminal) size() *shell.Size {
	if t == nil {
		return nil
	}
	f := t.out
	if f == nil {
		f = t.in
	}
	w, h, err := term.GetSize(int(f.Fd()))
	if err != nil || w <= 0 || h <= 0 {
		return nil
	}
	return &shell.Size{Cols: uint32(w), Rows: uint32(h)}
}

// resizes delivers the terminal's size after each window change until ctx ends.
func (t *terminal) resizes(ctx context.Context) <-chan shell.Size {
	if t == nil {
		return nil
	}
	ch := make(chan shell.Size, 1)
	sig, stop := windowChanges()
	go func() {
		defer stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
				if s := t.size(); s != nil {
					select {
					case ch <- *s:
					default: // the shell package has not taken the previous size yet; a newer one follows
					}
				}
			}
		}
	}()
	return ch
}

// isTerminal reports whether w is a terminal, for status lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
