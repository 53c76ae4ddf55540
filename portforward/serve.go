package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// copyBufferSize is the size of the buffers Serve copies through: one default data message.
const copyBufferSize = 32 << 10

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
	var wg sync.WaitGroup
	defer func() {
		cancel()
		l.Close()
		wg.Wait()
	}()
	wg.Add(1)
	go func() { // unblock Accept when anything ends
		defer wg.Done()
		select {
		case <-ctx.Done():
		case <-f.ctx.Done():
		case <-f.s.Done():
		}
		l.Close()
	}()
	for {
		conn, err := l.Accept()
		if err != nil {
			return f.serveErr(ctx, err)
		}
		f.log.Debug("connection accepted", "remote", conn.RemoteAddr())
		if onAccept != nil {
			onAccept(conn)
		}
		if f.mode == ModeMux {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.forward(ctx, conn)
			}()
			continue
		}
		f.forward(ctx, conn)
	}
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
// ways until either side ends or ctx is done; then both are closed.
func (f *Forwarder) forward(ctx context.Context, local net.Conn) {
	defer local.Close()
	remote, err := f.Dial(ctx)
	if err != nil {
		f.log.Debug("cannot forward connection", "err", err)
		return
	}
	defer remote.Close()
	stop := context.AfterFunc(ctx, func() {
		local.Close()
		remote.Close()
	})
	defer stop()

	done := make(chan struct{})
	go func() {
		defer close(done)
		// Local client → destination. When the client stops sending (EOF or error) the remote side is closed:
		// smux FIN in mux mode, Flag DisconnectToPort in basic mode (docs/protocol.md §6.3, §6.4).
		// In mux mode the transport packs whatever the copy writes into full data messages.
		buf := make([]byte, copyBufferSize)
		_, err := io.CopyBuffer(remote, onlyReader{local}, buf)
		f.log.Debug("local side ended", "err", err)
		remote.Close()
	}()

	// Destination → local client. Output that could not be written to a departed client is kept for the
	// next connection in basic and stream mode.
	buf := make([]byte, copyBufferSize)
	for {
		n, rerr := remote.Read(buf)
		if n > 0 {
			w, werr := local.Write(buf[:n])
			if werr != nil {
				if f.mode != ModeMux {
					f.keepUnread(buf[w:n])
				}
				break
			}
		}
		if rerr != nil {
			var cpe *ConnectToPortError
			if errors.As(rerr, &cpe) {
				f.log.Debug("destination connection failed", "err", rerr)
			}
			break
		}
	}
	local.Close()
	<-done
}

// onlyReader hides a reader's WriteTo, so io.CopyBuffer uses the given buffer and the remote's Write.
type onlyReader struct{ io.Reader }
