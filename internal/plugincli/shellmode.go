package plugincli

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/protocol"
	"github.com/ssmwire/ssmwire/session"
	"github.com/ssmwire/ssmwire/shell"
)

// terminateTimeout bounds the TerminateSession call made when the plugin is told to stop.
const terminateTimeout = 5 * time.Second

// runShell runs a Standard_Stream, InteractiveCommands or NonInteractiveCommands session on the terminal
// (or the pipes) the plugin was given, and returns the exit status.
//
// With a terminal on stdin it is put in full raw mode, so Ctrl-C, Ctrl-\ and Ctrl-Z go to the remote side as
// bytes; it is restored on every way out: return, SIGTERM/SIGHUP, and panics in the goroutines started here.
// Without one, SIGINT, SIGQUIT and SIGTSTP are caught and sent as 0x03, 0x1C and 0x1A, as the official
// plugin does. Terminal sizes are sent at the start and on each SIGWINCH.
func (r *runner) runShell(ctx context.Context, s *ssmwire.Session, hs *session.Handshake) int {
	raw, err := makeRaw(r.stdin)
	if err != nil {
		r.log.Warn("plugincli: cannot put the terminal in raw mode", "err", err)
	}
	defer raw.restore()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	stdin := r.stdin
	if hs.SessionType == protocol.SessionTypeNonInteractiveCommands && raw == nil {
		// The agent gives the command no stdin and only scans input for 0x03/0x1C (package shell's
		// documentation): piped data would be dropped there, and a stray 0x03 in it would interrupt the
		// command. Signals are still forwarded below.
		stdin = nil
	}

	size := terminalSize(r.stdout.w, r.stdin)
	resize := make(chan shell.Size, 1)
	if winchSignal != nil {
		winch := make(chan os.Signal, 1)
		r.notify(winch, winchSignal)
		defer r.stop(winch)
		go func() {
			defer raw.guard()
			for {
				select {
				case <-winch:
				case <-ctx.Done():
					return
				}
				sz := terminalSize(r.stdout.w, r.stdin)
				select { // keep only the newest size
				case <-resize:
				default:
				}
				resize <- sz
			}
		}()
	}

	sigs := make(chan os.Signal, 4)
	r.notify(sigs, append(append([]os.Signal{}, controlSignals...), endSignals...)...)
	defer r.stop(sigs)
	stopSig := make(chan os.Signal, 1)
	go func() {
		defer raw.guard()
		for {
			select {
			case sig := <-sigs:
				if b, ok := controlByte(sig); ok {
					if _, err := s.Channel().WriteContext(ctx, []byte{b}); err != nil {
						r.log.Debug("plugincli: forwarding signal failed", "signal", sig, "err", err)
					}
					continue
				}
				select {
				case stopSig <- sig:
				default:
				}
			case <-ctx.Done():
				return
			}
		}
	}()

	done := make(chan error, 1)
	go func() {
		defer raw.guard()
		done <- s.Shell(ctx, &shell.Config{
			Stdin:       stdin,
			Stdout:      r.stdout,
			Stderr:      r.stderr,
			Resize:      resize,
			InitialSize: &size,
			Logger:      r.log,
		})
	}()

	select {
	case err = <-done:
	case sig := <-stopSig:
		raw.restore()
		r.log.Debug("plugincli: stopping on signal", "signal", sig)
		r.terminate(s)
		return 1
	}
	raw.restore()

	var ee *shell.ExitError
	switch {
	case errors.As(err, &ee):
		r.ended(s, nil)
		return ee.Code
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return 1 // the caller gave up on the session; Shell has terminated it
	}
	return r.ended(s, err)
}

// terminate ends the session properly (ssmwire.Session.Terminate), within terminateTimeout.
func (r *runner) terminate(s *ssmwire.Session) {
	ctx, cancel := context.WithTimeout(context.Background(), terminateTimeout)
	defer cancel()
	if err := s.Terminate(ctx); err != nil {
		r.log.Debug("plugincli: TerminateSession failed", "session", s.ID(), "err", err)
	}
}
