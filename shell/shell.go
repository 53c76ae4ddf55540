package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"

	"github.com/ssmwire/ssmwire/session"
)

// Config configures [Run]. A nil *Config means no input, discarded output and no terminal size.
type Config struct {
	// Stdin is sent to the remote side as it arrives. Nil sends nothing. End of input does not end the
	// session (see the package documentation).
	Stdin io.Reader
	// Stdout receives the session's output (PayloadType Output); Stderr its StdErr stream, which only
	// NonInteractiveCommands sessions with separated output streams use. Nil discards.
	Stdout, Stderr io.Writer

	// Resize delivers terminal sizes to send to the agent, for example from a SIGWINCH handler. A size equal
	// to the last one sent is skipped. Nil: no resizes.
	Resize <-chan Size
	// InitialSize is sent as soon as the session is ready, when non-nil.
	InitialSize *Size

	// Terminal makes Run own the local terminal when Stdin is one (an *os.File on a terminal, a console on
	// Windows): it is put in raw mode, so control keys travel as bytes, and restored exactly once on every way
	// out (return, a panic in Run's goroutine or the goroutines it starts, SIGTERM and SIGHUP, which also end
	// the session); its size is sent at the start and after every change (SIGWINCH; polled on Windows) unless
	// InitialSize or Resize are set; and the escape sequences "~." (end the session), "~?" (list the escapes)
	// and "~~" (send one "~") are recognised after a newline and at the start, as OpenSSH does. With Stdin not
	// a terminal, Terminal changes nothing but the size, read from Stdout when that is a terminal.
	Terminal bool
	// NoEscapes turns the escape sequences off.
	NoEscapes bool
	// ControlSignals makes Run catch SIGINT, SIGQUIT and SIGTSTP and send them as the bytes 0x03, 0x1C and
	// 0x1A, as the official plugin does (on a raw terminal the keys send those bytes themselves; this covers
	// pipes and signals from elsewhere), and end the session on SIGTERM and SIGHUP. Without it those signals
	// keep their usual effect on the process.
	ControlSignals bool
	// End ends the session for "~." and for the signals that end it. Nil: the data channel is closed.
	// [ssmwire.Session.Shell] sets it to the session's Terminate.
	End func(ctx context.Context) error
	// Notify and StopNotify stand for signal.Notify and signal.Stop; tests replace them. Nil: the real ones.
	Notify     func(c chan<- os.Signal, sig ...os.Signal)
	StopNotify func(c chan<- os.Signal)

	// Logger receives debug records. Nil discards them.
	Logger *slog.Logger
}

// ErrSignal is returned (wrapped, with the signal) when a signal ended the session while Run owned the
// terminal or caught signals (Config.Terminal, Config.ControlSignals).
var ErrSignal = errors.New("shell: ended by a signal")

// Size is a terminal size in character cells.
type Size struct{ Cols, Rows uint32 }

// readBufSize is the size of one stdin read. The session splits larger writes into messages of its
// MaxPayload, so this only bounds how much is taken from Stdin at once.
const readBufSize = 32 << 10

// Run runs a shell or command session on s until it ends or ctx is done. It waits for s to be ready,
// sends cfg.InitialSize, pumps cfg.Stdin to the session and the session's output to cfg.Stdout and
// cfg.Stderr, and returns once the session has ended and its output is written.
//
// Run returns nil once the session has ended and its output is written: how it ended (an exit code, an error)
// is the owner's verdict, read from s ([session.Channel.ExitCode], [session.Channel.Err]; ssmwire's
// Session.Wait). Otherwise it returns ctx's error when ctx ended first, an error wrapping [ErrSignal] when a
// signal ended the session, or the error that stopped the session before it was ready. Run does not close s;
// the caller does.
func Run(ctx context.Context, s *session.Channel, cfg *Config) error {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.Stdout == nil {
		c.Stdout = io.Discard
	}
	if c.Stderr == nil {
		c.Stderr = io.Discard
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sig := signals{notify: c.Notify, stop: c.StopNotify}
	if sig.notify == nil {
		sig.notify = signal.Notify
	}
	if sig.stop == nil {
		sig.stop = signal.Stop
	}

	// The terminal is raw from here to Run's return, whatever way it takes.
	var tty *terminal
	if c.Terminal {
		var err error
		if tty, err = openTerminal(c.Stdin, c.Stdout); err != nil {
			log.Warn("shell: cannot put the terminal in raw mode", "err", err)
		}
	}
	defer tty.restore()

	hs, err := s.Ready(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	log.Debug("shell: session ready", "session", s.ID(), "type", hs.SessionType, "agent", hs.AgentVersion)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// out guards the caller's writers: once Run has returned nothing more is written to them, even by the
	// stderr relay, which cannot be interrupted while it waits for the session.
	out := &guard{}
	defer out.stop()

	stdoutDone := make(chan struct{})
	go func() {
		defer close(stdoutDone)
		defer tty.guard()
		relay(out, c.Stdout, func(p []byte) (int, error) { return s.ReadContext(ctx, p) })
	}()
	stderrDone := make(chan struct{})
	go func() {
		defer close(stderrDone)
		defer tty.guard()
		relay(out, c.Stderr, s.Stderr().Read)
	}()

	sz := &sizer{s: s, log: log}
	if c.InitialSize != nil {
		sz.send(ctx, *c.InitialSize)
	}
	resize := c.Resize
	if c.Terminal && c.InitialSize == nil && resize == nil {
		if size, ok := sizeOf(c.Stdout, c.Stdin); ok {
			// The first size goes before any input: a remote shell that reads typed-ahead input (the agent
			// starts reading a pty 1 s after the start, so there often is some) must know its size already.
			sz.send(ctx, size)
			resize = sizes(ctx, sig, c.Stdout, c.Stdin)
		}
	}
	if resize != nil {
		go func() {
			defer tty.guard()
			sz.loop(ctx, resize)
		}()
	}

	endReq := make(chan struct{}, 1)
	stdin := c.Stdin
	if tty != nil && !c.NoEscapes {
		stdin = newEscapeReader(stdin, out.writer(c.Stderr), func() {
			select {
			case endReq <- struct{}{}:
			default:
			}
		})
	}
	if stdin != nil {
		go func() {
			defer tty.guard()
			pumpStdin(ctx, s, stdin, log)
		}()
	}

	// One channel for the signals Run catches: control signals become bytes, the others end the session.
	var caught []os.Signal
	forward := c.ControlSignals
	if forward {
		caught = append(caught, controlSignals...)
	}
	if tty != nil || c.ControlSignals {
		caught = append(caught, endSignals...)
	}
	var sigs chan os.Signal
	if len(caught) > 0 { // signal.Notify with no signals would catch them all
		sigs = make(chan os.Signal, 4)
		sig.notify(sigs, caught...)
		defer sig.stop(sigs)
	}

	end := func() {
		if c.End == nil {
			s.Close()
			return
		}
		if err := c.End(context.WithoutCancel(ctx)); err != nil {
			log.Debug("shell: ending the session failed", "err", err)
		}
	}
	for stdoutDone != nil || stderrDone != nil {
		select {
		case <-stdoutDone:
			stdoutDone = nil
		case <-stderrDone:
			stderrDone = nil
		case <-endReq:
			log.Debug("shell: ~. typed: ending the session")
			endReq = nil
			end()
		case sg := <-sigs:
			if b, ok := controlByte(sg); ok && forward {
				go func() {
					if _, err := s.WriteContext(ctx, []byte{b}); err != nil {
						log.Debug("shell: forwarding a signal failed", "signal", sg, "err", err)
					}
				}()
				continue
			}
			log.Debug("shell: ending the session on a signal", "signal", sg)
			tty.restore()
			end()
			return fmt.Errorf("%w: %v", ErrSignal, sg)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Both streams hit their end, so the session is over; make sure Err is settled.
	select {
	case <-s.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// guard serializes writes to the caller's writers and drops them once Run has returned.
type guard struct {
	mu      sync.Mutex
	stopped bool
}

func (g *guard) write(w io.Writer, p []byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return errStopped
	}
	_, err := w.Write(p)
	return err
}

// writer returns w guarded by g.
func (g *guard) writer(w io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		if err := g.write(w, p); err != nil {
			return 0, err
		}
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (g *guard) stop() {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
}

var errStopped = errors.New("shell: run returned")

// relay copies from read to w until read fails (io.EOF or the session's error). A failing w stops the
// copying of output but keeps reading, so that the session's end is still observed.
func relay(g *guard, w io.Writer, read func([]byte) (int, error)) {
	buf := make([]byte, readBufSize)
	for {
		n, err := read(buf)
		if n > 0 && w != io.Discard {
			if werr := g.write(w, buf[:n]); werr != nil {
				w = io.Discard
			}
		}
		if err != nil {
			return
		}
	}
}

// pumpStdin sends r's data to the session as it arrives, until r ends or fails or ctx is done.
func pumpStdin(ctx context.Context, s *session.Channel, r io.Reader, log *slog.Logger) {
	buf := make([]byte, readBufSize)
	for {
		n, err := r.Read(buf)
		if ctx.Err() != nil {
			return
		}
		if n > 0 {
			if _, werr := s.WriteContext(ctx, buf[:n]); werr != nil {
				log.Debug("shell: stdin: send failed", "err", werr)
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				log.Debug("shell: stdin: end of input; the session continues until the remote side ends it")
			} else {
				log.Debug("shell: stdin: read failed", "err", err)
			}
			return
		}
	}
}

// sizer sends terminal sizes, skipping repeats of the last one sent.
type sizer struct {
	s    *session.Channel
	log  *slog.Logger
	mu   sync.Mutex
	last Size
	sent bool
}

func (z *sizer) send(ctx context.Context, sz Size) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.sent && sz == z.last {
		return
	}
	if err := z.s.SendSize(ctx, sz.Cols, sz.Rows); err != nil {
		z.log.Debug("shell: send size failed", "err", err)
		return
	}
	z.last, z.sent = sz, true
}

func (z *sizer) loop(ctx context.Context, ch <-chan Size) {
	for {
		select {
		case sz, ok := <-ch:
			if !ok {
				return
			}
			z.send(ctx, sz)
		case <-ctx.Done():
			return
		case <-z.s.Done():
			return
		}
	}
}
