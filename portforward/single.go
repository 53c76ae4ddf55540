package portforward

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/ssmwire/ssmwire/protocol"
)

// dialSingle waits for the session's one connection slot (basic and stream mode).
func (f *Forwarder) dialSingle(ctx context.Context) (net.Conn, error) {
	select {
	case f.slot <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("portforward: dial: %w", ctx.Err())
	case <-f.ctx.Done():
		return nil, fmt.Errorf("portforward: dial: %w", ErrClosed)
	case <-f.s.Done():
		return nil, fmt.Errorf("portforward: dial: %w", f.sessionErr())
	}
	if err := f.alive(); err != nil { // the slot may have won a race with the end
		<-f.slot
		return nil, fmt.Errorf("portforward: dial: %w", err)
	}
	c := &singleConn{f: f, disconnect: f.mode == ModeBasic}
	c.ctx, c.cancel = context.WithCancelCause(f.ctx)
	c.connDeadlines = newConnDeadlines(c.ctx)
	return c, nil
}

// singleConn is the session's byte stream as a net.Conn, for basic and stream mode: Read returns the agent's
// Output payloads, Write sends Output data. Only one exists at a time.
//
// Half-close is not offered: the protocol has no way to tell the agent that the client stopped sending but
// still reads; basic mode has Flag DisconnectToPort, which ends the destination connection.
type singleConn struct {
	f          *Forwarder
	disconnect bool // basic mode: Close sends Flag DisconnectToPort

	ctx    context.Context // canceled with net.ErrClosed by Close
	cancel context.CancelCauseFunc
	connDeadlines

	closeOnce sync.Once
	closeErr  error
}

func (c *singleConn) Read(p []byte) (int, error) {
	ctx := c.rd.context()
	if ctx.Err() != nil {
		return 0, c.ctxErr(ctx)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if n := c.f.takeUnread(p); n > 0 {
		return n, nil
	}
	n, err := c.f.s.ReadContext(ctx, p)
	if err != nil {
		if ctx.Err() != nil {
			return n, c.ctxErr(ctx)
		}
		if err == io.EOF {
			return n, io.EOF
		}
		return n, fmt.Errorf("portforward: read: %w", err)
	}
	return n, nil
}

func (c *singleConn) Write(p []byte) (int, error) {
	ctx := c.wd.context()
	if ctx.Err() != nil {
		return 0, c.ctxErr(ctx)
	}
	n, err := c.f.s.WriteContext(ctx, p)
	if err != nil {
		if ctx.Err() != nil {
			return n, c.ctxErr(ctx)
		}
		return n, fmt.Errorf("portforward: write: %w", err)
	}
	return n, nil
}

// ctxErr maps the end of a call's context: a deadline, Close, or Forwarder.Close.
func (c *singleConn) ctxErr(ctx context.Context) error {
	err := ctxError(ctx)
	if err == ErrClosed {
		return fmt.Errorf("%w: %w", net.ErrClosed, ErrClosed)
	}
	return err
}

// Close ends the connection and frees the session for the next one. In basic mode it sends Flag
// DisconnectToPort first, so the agent closes its destination connection; output that arrives afterwards is
// kept for the next connection, as the official plugin (which leaves it unacknowledged) effectively does.
func (c *singleConn) Close() error {
	c.closeOnce.Do(func() {
		c.cancel(net.ErrClosed)
		c.connDeadlines.stop()
		if c.disconnect {
			c.closeErr = c.f.sendFlag(protocol.FlagDisconnectToPort)
		}
		<-c.f.slot
	})
	return c.closeErr
}

// Unread keeps output the relay read from the connection but could not deliver to a departed local client,
// for the session's next connection.
func (c *singleConn) Unread(p []byte) { c.f.keepUnread(p) }

func (c *singleConn) LocalAddr() net.Addr  { return c.f.localAddr(0) }
func (c *singleConn) RemoteAddr() net.Addr { return c.f.remoteAddr() }

// maxUnread bounds the output kept for the next connection after a local write failed; the session's own
// receive buffer holds the rest (and beyond it the agent retransmits).
const maxUnread = 256 << 10

// keepUnread saves output that could not be written to a departed local client, for the next connection.
func (f *Forwarder) keepUnread(b []byte) {
	if len(b) == 0 {
		return
	}
	f.unreadMu.Lock()
	defer f.unreadMu.Unlock()
	room := maxUnread - len(f.unread)
	if room <= 0 {
		f.log.Debug("dropping output for a closed connection", "bytes", len(b))
		return
	}
	if len(b) > room {
		f.log.Debug("dropping output for a closed connection", "bytes", len(b)-room)
		b = b[:room]
	}
	f.unread = append(f.unread, b...)
}

func (f *Forwarder) takeUnread(p []byte) int {
	f.unreadMu.Lock()
	defer f.unreadMu.Unlock()
	if len(f.unread) == 0 {
		return 0
	}
	n := copy(p, f.unread)
	f.unread = f.unread[n:]
	if len(f.unread) == 0 {
		f.unread = nil
	}
	return n
}
