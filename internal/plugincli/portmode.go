package plugincli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/relay"
)

const (
	msgTerminateSignal = "Terminate signal received, exiting.\n"
	msgConnectFailed   = "\nConnection to destination port failed, check SSM Agent logs.\n"
)

// endWait bounds how long the plugin waits for the service to close the channel after the local end of a
// stream-mode connection went away.
const endWait = 3 * time.Second

// runPort runs a Port session: a local listener (basic and mux mode) or stdin/stdout (stream mode,
// AWS-StartSSHSession), and returns the exit status.
func (r *runner) runPort(ctx context.Context, s *ssmwire.Session, hs *ssmwire.Handshake) int {
	f, err := s.Forwarder(ctx, &ssmwire.ForwarderConfig{
		Logger: r.log,
		OnConnectToPortError: func(*ssmwire.ConnectToPortError) {
			go r.printf(msgConnectFailed) // the callback must not block the session's reader
		},
	})
	if err != nil {
		return r.ended(s, err)
	}
	r.log.Debug("plugincli: port session", "mode", f.Mode(), "agent", hs.AgentVersion)
	if f.Mode() == ssmwire.ModeStream {
		return r.runStream(ctx, s, f, hs)
	}

	id := s.ID()
	l, err := f.Listen(ctx)
	if err != nil {
		r.cannot(err)
		return 1
	}
	var opened string
	if ul, ok := l.Addr().(*net.UnixAddr); ok {
		opened = fmt.Sprintf("Unix socket %s opened for sessionId %s.", ul.Name, id)
	} else if ta, ok := l.Addr().(*net.TCPAddr); ok {
		opened = fmt.Sprintf("Port %d opened for sessionId %s.", ta.Port, id)
	} else {
		opened = fmt.Sprintf("%s opened for sessionId %s.", l.Addr(), id)
	}
	mux := f.Mode() == ssmwire.ModeMux
	var first sync.Once
	onAccept := func(net.Conn) {
		if mux {
			first.Do(func() { r.printf("\nConnection accepted for session [%s]\n", id) })
		} else {
			r.printf("Connection accepted for session %s.\n", id)
		}
	}
	if mux {
		r.printf("%s", opened)
		r.printf("\nWaiting for connections...\n")
	} else {
		r.printf("%s\n", opened)
	}
	r.settle()

	sigs := make(chan os.Signal, 1)
	r.notify(sigs, portStopSignals...)
	defer r.stop(sigs)

	serveCtx, cancelServe := context.WithCancel(context.Background())
	defer cancelServe()
	served := make(chan error, 1)
	go func() { served <- f.Serve(serveCtx, l, onAccept) }()

	select {
	case sig := <-sigs:
		r.log.Debug("plugincli: stopping on signal", "signal", sig)
	case <-ctx.Done():
	case err := <-served:
		select {
		case <-s.Done():
			return r.ended(s, s.Err())
		default:
		}
		r.cannot(err)
		return 1
	}

	// Stop as the official plugin does: say so, end the session (ssmwire.Session.Terminate: the flag, the API
	// for basic mode on agents too old for the flag), say goodbye, exit 0.
	r.printf(msgTerminateSignal)
	r.terminate(s)
	r.printf(msgExiting, id)
	cancelServe()
	<-served
	return 0
}

// runStream carries stdin and stdout over a stream-mode session (ssh ProxyCommand). The official plugin
// prints only the Starting line (and the Exiting line when the service closes the channel) on stdout; ssh
// skips lines before the server's version string, so that does not disturb the SSH stream. End of stdin
// (ssh went away) ends the session (ssmwire.Session.Terminate) with exit status 0.
func (r *runner) runStream(ctx context.Context, s *ssmwire.Session, f *ssmwire.Forwarder, hs *ssmwire.Handshake) int {
	conn, err := f.Dial(ctx)
	if err != nil {
		return r.ended(s, err)
	}
	defer conn.Close()

	res := relay.Pipe(ctx, relay.NewStdio(r.stdin, r.stdout), conn, nil)
	switch {
	case ctx.Err() != nil:
		r.terminate(s)
		return 1
	case res.LocalFirst:
		if err := res.UpErr; err != nil && !errors.Is(err, net.ErrClosed) {
			r.log.Debug("plugincli: stdin", "err", err)
		}
		select {
		case <-s.Done(): // the session ended first; report that
			return r.ended(s, s.Err())
		default:
		}
		r.terminate(s)
		return 0
	}
	t := time.NewTimer(endWait)
	defer t.Stop()
	select {
	case <-s.Done():
		return r.ended(s, s.Err())
	case <-t.C:
		fmt.Fprintf(r.stderr, msgCannot, "the stream ended before the session")
		return 1
	}
}
