package portforward

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/ssmwire/ssmwire/internal/relay"
)

// Serve accepts connections on l and forwards each one over the session: concurrently in mux mode, one at a
// time in basic and stream mode (the next is accepted when the current one ends; in basic mode a local client
// going away sends Flag DisconnectToPort). onAccept, if not nil, is called with each accepted connection
// before it is forwarded.
//
// Serve returns when ctx is done (ctx.Err()), the listener fails or is closed (that error), the Forwarder
// is closed (ErrClosed) or the session ends (ErrSessionEnded, wrapping the session's error if any). Before
// returning it closes l and every connection it accepted, and waits for its goroutines.
func (f *Forwarder) Serve(ctx context.Context, l net.Listener, onAccept func(net.Conn)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(f.ctx, cancel) // the Forwarder closed
	defer stop()
	err := relay.Serve(ctx, l, &relay.ServeOptions{Stop: f.s.Done(), OneAtATime: f.mode != ModeMux},
		func(ctx context.Context, conn net.Conn) {
			f.log.Debug("connection accepted", "remote", conn.RemoteAddr())
			if onAccept != nil {
				onAccept(conn)
			}
			f.forward(ctx, conn)
		})
	return f.serveErr(ctx, err)
}

// serveErr explains why Accept failed.
func (f *Forwarder) serveErr(ctx context.Context, acceptErr error) error {
	switch err := f.alive(); {
	case err != nil:
		return fmt.Errorf("portforward: serve: %w", err)
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return fmt.Errorf("portforward: serve: %w", acceptErr)
}

// forward connects one accepted local connection to a new connection over the session and copies both
// ways (package relay: the client's end of stream closes the remote side, smux FIN in mux mode, Flag
// DisconnectToPort in basic mode, docs/protocol.md §6.3, §6.4) until either side ends or ctx is done; then
// both are closed. Output that could not be written to a departed client is kept for the next connection in
// basic and stream mode (singleConn.Unread).
func (f *Forwarder) forward(ctx context.Context, local net.Conn) {
	defer local.Close()
	remote, err := f.Dial(ctx)
	if err != nil {
		f.log.Debug("cannot forward connection", "err", err)
		return
	}
	res := relay.Pipe(ctx, local, remote, nil)
	f.log.Debug("connection ended", "up", res.Up, "down", res.Down, "local_err", res.UpErr, "remote_err", res.DownErr)
	var cpe *ConnectToPortError
	if errors.As(res.RemoteErr, &cpe) {
		f.log.Debug("destination connection failed", "err", res.RemoteErr)
	}
}
