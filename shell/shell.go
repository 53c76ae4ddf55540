package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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

	// Logger receives debug records. Nil discards them.
	Logger *slog.Logger
}

// Size is a terminal size in character cells.
type Size struct{ Cols, Rows uint32 }

// ExitError reports that the remote command exited with a non-zero status. The agent reports it only for
// NonInteractiveCommands sessions with separated output streams (protocol.md §6.1).
type ExitError struct{ Code int }

func (e *ExitError) Error() string {
	return fmt.Sprintf("remote command exited with status %d", e.Code)
}

// readBufSize is the size of one stdin read. The session splits larger writes into messages of its
// MaxPayload, so this only bounds how much is taken from Stdin at once.
const readBufSize = 32 << 10

// Run runs a shell or command session on s until it ends or ctx is done. It waits for s to be ready,
// sends cfg.InitialSize, pumps cfg.Stdin to the session and the session's output to cfg.Stdout and
// cfg.Stderr, and returns once the session has ended and its output is written.
//
// Run returns nil after a clean end, an [*ExitError] when the agent reported a non-zero exit code, the
// session's error when it ended otherwise ([session.Session.Err]), or ctx's error when ctx ended first.
// Run does not close s; the caller does.
func Run(ctx context.Context, s *session.Session, cfg *Config) error {
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
		relay(out, c.Stdout, func(p []byte) (int, error) { return s.ReadContext(ctx, p) })
	}()
	stderrDone := make(chan struct{})
	go func() {
		defer close(stderrDone)
		relay(out, c.Stderr, s.Stderr().Read)
	}()

	sz := &sizer{s: s, log: log}
	if c.InitialSize != nil {
		sz.send(ctx, *c.InitialSize)
	}
	if c.Resize != nil {
		go sz.loop(ctx, c.Resize)
	}
	if c.Stdin != nil {
		go pumpStdin(ctx, s, c.Stdin, log)
	}

	for _, ch := range []chan struct{}{stdoutDone, stderrDone} {
		select {
		case <-ch:
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
	return result(s)
}

// result turns how s ended into Run's error.
func result(s *session.Session) error {
	if code, ok := s.ExitCode(); ok {
		if code != 0 {
			return &ExitError{Code: code}
		}
		return nil
	}
	return s.Err()
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
func pumpStdin(ctx context.Context, s *session.Session, r io.Reader, log *slog.Logger) {
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
	s    *session.Session
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
