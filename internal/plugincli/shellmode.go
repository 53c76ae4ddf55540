package plugincli

import (
	"context"
	"errors"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/shell"
)

// runShell runs a Standard_Stream, InteractiveCommands or NonInteractiveCommands session on the terminal
// (or the pipes) the plugin was given, and returns the exit status. The terminal is package shell's: raw
// mode restored on every way out, sizes, escapes; without one, SIGINT, SIGQUIT and SIGTSTP are sent as
// 0x03, 0x1C and 0x1A, as the official plugin does. SIGTERM and SIGHUP end the session.
func (r *runner) runShell(ctx context.Context, s *ssmwire.Session, hs *ssmwire.Handshake) int {
	stdin := r.stdin
	tty := shell.IsTerminal(r.stdin)
	if hs.SessionType == ssmwire.SessionTypeNonInteractiveCommands && !tty {
		// The agent gives the command no stdin and only scans input for 0x03/0x1C (package shell's
		// documentation): piped data would be dropped there, and a stray 0x03 in it would interrupt the
		// command. Signals are still forwarded.
		stdin = nil
	}
	cfg := &shell.Config{
		Stdin:          stdin,
		Stdout:         r.stdout.w, // nothing else writes during the session; shell reads the size from it
		Stderr:         r.stderr,
		Terminal:       true,
		ControlSignals: true,
		Notify:         r.notify,
		StopNotify:     r.stop,
		Logger:         r.log,
	}
	if !tty && !shell.IsTerminal(r.stdout.w) {
		cfg.InitialSize = &shell.FallbackSize // what the official plugin reports without a terminal
	}
	err := s.Shell(ctx, cfg)
	var ee *ssmwire.ExitError
	switch {
	case errors.As(err, &ee):
		r.ended(s, nil)
		return ee.Code
	case errors.Is(err, shell.ErrSignal):
		r.log.Debug("plugincli: stopped by a signal", "err", err)
		return 1
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return 1 // the caller gave up on the session; Shell has terminated it
	}
	return r.ended(s, err)
}

// terminate ends the session properly with the library's one policy (ssmwire.Session.Close: Terminate,
// bounded in time).
func (r *runner) terminate(s *ssmwire.Session) {
	if err := s.Close(); err != nil {
		r.log.Debug("plugincli: ending the session failed", "session", s.ID(), "err", err)
	}
}
