package ssmwire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/portforward"
	"github.com/ssmwire/ssmwire/session"
	"github.com/ssmwire/ssmwire/shell"
)

// TerminateWait bounds how long [Session.Terminate] waits for the service's channel_closed after asking for
// the end: the request (a flag on the data channel or the TerminateSession API) must reach the agent before
// the websocket is closed, and a session whose agent never answers must still end.
const TerminateWait = 3 * time.Second

// terminateTimeout bounds the end of a session made while cleaning up after a failure or cancellation, when
// the caller's context may already be done.
const terminateTimeout = 10 * time.Second

// ExitError reports that a remote command exited with a non-zero status. Only documents of session type
// NonInteractiveCommands with separateOutputStream set report an exit status (AWS's documents do not, docs/protocol.md §6.1);
// other sessions end with a nil error whatever the command's status.
type ExitError struct{ Code int }

func (e *ExitError) Error() string {
	return fmt.Sprintf("remote command exited with status %d", e.Code)
}

// Session is one started Session Manager session, from [Client.StartSession] or [Client.Attach]. It owns
// the data channel and its whole life: waiting for the end ([Session.Wait], [Session.Done], [Session.Err]),
// the remote exit status ([*ExitError]), and ending it properly from this side ([Session.Terminate],
// [Session.Close]). What runs over it is chosen by the document: [Session.Shell] carries shells and
// commands, [Session.Forwarder] port forwarding; [Session.Channel] hands out the data channel itself for
// anything else. Its methods are safe for concurrent use.
type Session struct {
	ch     *session.Channel
	target string
	ssm    session.SSMClient // nil: Terminate cannot call the API
	log    *slog.Logger

	mu  sync.Mutex
	hs  *session.Handshake     // once Ready returned it
	fwd *portforward.Forwarder // once Forwarder made it

	ending   atomic.Bool // Terminate or Close was called
	termOnce sync.Once
	termErr  error
}

// ID returns the session ID.
func (s *Session) ID() string { return s.ch.ID() }

// Target returns the session's target, as given to StartSession or Attach.
func (s *Session) Target() string { return s.target }

// Channel returns the session's data channel, for session types this package does not carry itself. The
// Session still owns it: end it with [Session.Terminate] or [Session.Close].
func (s *Session) Channel() *session.Channel { return s.ch }

// Ready waits until the agent has set the session up (its handshake, docs/protocol.md §5) and returns what it
// announced: session type, properties, agent version, the customer message.
func (s *Session) Ready(ctx context.Context) (*session.Handshake, error) {
	hs, err := s.ch.Ready(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.hs = hs
	s.mu.Unlock()
	return hs, nil
}

// Done is closed when the session has ended, for any reason.
func (s *Session) Done() <-chan struct{} { return s.ch.Done() }

// Err returns why the session ended: nil while it runs and after a clean end, a
// [*session.ChannelClosedError] when the service closed it with a message, or the failure.
func (s *Session) Err() error { return s.ch.Err() }

// ChannelClosedOutput returns the Output of the service's channel_closed message, and whether one ended the
// session (the official plugin prints it as the session's last line).
func (s *Session) ChannelClosedOutput() (string, bool) { return s.ch.ChannelClosedOutput() }

// Wait waits until the session has ended and returns how it ended, like x/crypto/ssh's Session.Wait: nil
// after a clean end (or a remote exit status 0), an [*ExitError] when the agent reported a non-zero exit
// status, a [*session.ChannelClosedError] when the service ended the session with a message, or the failure.
// To stop waiting early, select on [Session.Done] with your own context; to end the session, call
// [Session.Terminate] or [Session.Close], after which Wait returns nil.
func (s *Session) Wait() error {
	<-s.ch.Done()
	return s.result()
}

// result is how the ended session ended, as Wait reports it.
func (s *Session) result() error {
	if code, ok := s.ch.ExitCode(); ok {
		if code != 0 {
			return &ExitError{Code: code}
		}
		return nil
	}
	err := s.ch.Err()
	if err == nil || errors.Is(err, session.ErrClosed) && s.ending.Load() {
		return nil // ended cleanly, or by this side's Terminate or Close
	}
	return fmt.Errorf("ssmwire: session %s: %w", s.ch.ID(), err)
}

// WindowChange tells the agent the terminal's new size, for pty sessions (Standard_Stream,
// InteractiveCommands); like x/crypto/ssh's Session.WindowChange. [Session.Shell] with shell.Config.Terminal
// does this itself.
func (s *Session) WindowChange(ctx context.Context, cols, rows uint32) error {
	return s.ch.SendSize(ctx, cols, rows)
}

// Signal is a signal the remote side can be sent. Session Manager carries no signals, only bytes: the agent
// turns 0x03 and 0x1C into SIGINT and SIGQUIT on a NonInteractiveCommands command, and a pty's line
// discipline does the same for pty sessions (docs/protocol.md §6.1).
type Signal byte

// Signals, as the control bytes the official plugin sends for them.
const (
	SIGINT  Signal = 0x03 // Ctrl-C
	SIGQUIT Signal = 0x1C // Ctrl-\
	SIGTSTP Signal = 0x1A // Ctrl-Z: pty sessions only
)

// Signal sends sig to the remote command or shell, like x/crypto/ssh's Session.Signal.
func (s *Session) Signal(ctx context.Context, sig Signal) error {
	if _, err := s.ch.WriteContext(ctx, []byte{byte(sig)}); err != nil {
		return fmt.Errorf("ssmwire: session %s: signal: %w", s.ch.ID(), err)
	}
	return nil
}

// Shell carries a shell or command session (Standard_Stream, InteractiveCommands, NonInteractiveCommands)
// with cfg until it ends, as [shell.Run] does, and returns Wait's result. With cfg.Terminal the local
// terminal is Run's (raw mode, sizes, escapes); "~." ends the session with [Session.Terminate]. When ctx ends first the session is
// terminated and ctx's error returned. A nil cfg sends no input and discards the output.
func (s *Session) Shell(ctx context.Context, cfg *shell.Config) error {
	var sc shell.Config
	if cfg != nil {
		sc = *cfg
	}
	if sc.Logger == nil {
		sc.Logger = s.log
	}
	if sc.End == nil {
		sc.End = s.Terminate // "~." and the signals that end a session end it properly
	}
	err := shell.Run(ctx, s.ch, &sc)
	switch {
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		s.terminateDetached(ctx)
		return err
	case errors.Is(err, shell.ErrSignal):
		return err
	case err == nil || s.ended():
		return s.result() // the one verdict on how the session ended
	}
	return fmt.Errorf("ssmwire: session %s: %w", s.ch.ID(), err)
}

// Forwarder starts port forwarding over a Port session (see package portforward) and returns it. The
// Session keeps it: [Session.Terminate] ends it with Flag TerminateSession where the agent knows the flag.
// Calling Forwarder again returns the same Forwarder.
func (s *Session) Forwarder(ctx context.Context, cfg *portforward.Config) (*portforward.Forwarder, error) {
	s.mu.Lock()
	f := s.fwd
	s.mu.Unlock()
	if f != nil {
		return f, nil
	}
	if _, err := s.Ready(ctx); err != nil {
		return nil, fmt.Errorf("ssmwire: session %s: %w", s.ch.ID(), err)
	}
	var pc portforward.Config
	if cfg != nil {
		pc = *cfg
	}
	if pc.Logger == nil {
		pc.Logger = s.log
	}
	f, err := portforward.New(ctx, s.ch, &pc)
	if err != nil {
		return nil, fmt.Errorf("ssmwire: session %s: %w", s.ch.ID(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fwd != nil { // a concurrent call won
		f.Close()
		return s.fwd, nil
	}
	s.fwd = f
	return f, nil
}

// Terminate ends the session from this side, the one way ssmwire does it (docs/protocol.md §6.3, §7.4): a port
// session carried by a Forwarder gets Flag TerminateSession when its agent knows the flag (mux mode always;
// otherwise agents newer than 2.3.722.0); any other session, or one whose agent did not close the channel
// within [TerminateWait] after the flag, gets the TerminateSession API. Then Terminate waits, at most
// TerminateWait, for the service's channel_closed, and closes the data channel. A session that already
// ended is only closed. Terminate returns the API call's error, if any; later calls return the same.
func (s *Session) Terminate(ctx context.Context) error {
	s.ending.Store(true)
	s.termOnce.Do(func() { s.termErr = s.terminate(ctx) })
	return s.termErr
}

func (s *Session) terminate(ctx context.Context) error {
	defer s.ch.Close()
	s.mu.Lock()
	f, hs := s.fwd, s.hs
	s.mu.Unlock()
	if f != nil {
		defer f.Close() // stops the mux; a no-op when the flag below already closed it
	}
	if s.ended() {
		var cc *session.ChannelClosedError
		if err := s.ch.Err(); err != nil && !errors.As(err, &cc) && s.ssm != nil {
			// It failed on this side (a lost connection, a broken ciphertext): the service may still hold
			// it. Tell it, but the caller has the better error already.
			id := s.ch.ID()
			if _, err := s.ssm.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: &id}); err != nil {
				s.log.Debug("ssmwire: terminate session", "session", id, "err", err)
			}
		}
		return nil
	}
	if f != nil {
		flag := f.Mode() == portforward.ModeMux || hs != nil && portforward.AgentSupportsTerminateFlag(hs.AgentVersion)
		err := f.Close()
		if flag && err == nil && s.waitEnd(ctx) {
			return nil
		}
		if err != nil {
			s.log.Debug("ssmwire: sending Flag TerminateSession failed", "session", s.ID(), "err", err)
		}
	}
	if s.ssm == nil {
		return nil
	}
	id := s.ch.ID()
	if _, err := s.ssm.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: &id}); err != nil {
		if ae, ok := classify(err, s.target); ok {
			return ae
		}
		return fmt.Errorf("ssmwire: terminate session %s: %w", id, err)
	}
	s.waitEnd(ctx)
	return nil
}

// ended reports whether the session has ended.
func (s *Session) ended() bool {
	select {
	case <-s.ch.Done():
		return true
	default:
		return false
	}
}

// waitEnd waits for the session's end, at most TerminateWait, and reports whether it came.
func (s *Session) waitEnd(ctx context.Context) bool {
	t := time.NewTimer(TerminateWait)
	defer t.Stop()
	select {
	case <-s.ch.Done():
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

// terminateDetached terminates with a context of its own, bounded by terminateTimeout, so that it also runs
// after ctx was cancelled. Failures are only logged: the caller has a better error to return.
func (s *Session) terminateDetached(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), terminateTimeout)
	defer cancel()
	if err := s.Terminate(ctx); err != nil {
		s.log.Warn("ssmwire: terminate session", "session", s.ID(), "err", err)
	}
}

// Close ends the session if it still runs ([Session.Terminate], within terminateTimeout) and releases it:
// every goroutine of the session has returned when Close returns. Close is idempotent.
func (s *Session) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), terminateTimeout)
	defer cancel()
	return s.Terminate(ctx)
}
