package pool

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/proxy"
	"github.com/ssmwire/ssmwire/session"
)

// confirm waits up to ConfirmWait for the agent's verdict on a new connection to a destination not yet seen
// to accept: data (accepted; the bytes are kept for the caller), end of stream (accepted, then closed by the
// destination), an error (Flag ssmwire.ConnectToPortError, the session ending), or nothing (accepted, the destination
// waits for the client to speak first). Only a failure is an error.
func (d *Dialer) confirm(ctx context.Context, dst *destination, conn net.Conn) (net.Conn, error) {
	if d.cfg.ConfirmWait < 0 || d.isGood(dst.key) {
		return conn, nil
	}
	deadline := time.Now().Add(d.cfg.ConfirmWait)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	stop()
	conn.SetReadDeadline(time.Time{})
	switch {
	case n > 0:
		d.setGood(dst.key, true)
		return &prefixConn{Conn: conn, prefix: buf[:n], err: err}, nil
	case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil:
		d.setGood(dst.key, true)
		return conn, nil
	case err == io.EOF && !isDone(dst.c):
		return &prefixConn{Conn: conn, err: io.EOF}, nil
	case err == io.EOF:
		// The session ended: in basic mode (no multiplexing) that is how a failed connect shows, the
		// agent ending the session with the dial's error.
		if cerr := conduitErr(dst.c); cerr != nil {
			err = cerr
		}
	case err == nil:
		return conn, nil
	}
	conn.Close()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, err
}

// dialedConn is a connection a Dialer handed out: closing it releases its destination's conduit, and a
// failure to connect reported on it is made recognisable to proxies.
type dialedConn struct {
	net.Conn
	d    *Dialer
	dst  *destination
	once sync.Once
}

func (c *dialedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	var cpe *ssmwire.ConnectToPortError
	if err != nil && errors.As(err, &cpe) {
		c.d.setGood(c.dst.key, false)
		err = classifyDialError(c.dst.remote, err)
	}
	return n, err
}

// ReadFrom lets copies into the connection use the mux connection's ReadFrom (one smux frame per read).
func (c *dialedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

func (c *dialedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.d.release(c.dst) })
	return err
}

// prefixConn returns bytes read ahead, then an error read ahead (if any), before reading on.
type prefixConn struct {
	net.Conn
	prefix []byte
	err    error
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	if c.err != nil {
		return 0, c.err
	}
	return c.Conn.Read(p)
}

func (c *prefixConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// DestinationError is a [Dialer]'s failure to reach a destination that says how it failed, for a proxy to
// answer precisely: Kind is proxy.ErrForbidden, proxy.ErrRefused or proxy.ErrUnreachable (errors.Is matches
// it), Reason says it in one line, and Err is the underlying error (errors.As finds an *APIError, a
// *ssmwire.ConnectToPortError or a *session.ChannelClosedError there).
type DestinationError struct {
	Remote ssmwire.Remote
	Kind   error
	Reason string
	Err    error
}

func (e *DestinationError) Error() string { return "ssmwire: " + e.Remote.String() + ": " + e.Reason }

// Unwrap returns the kind and the underlying error.
func (e *DestinationError) Unwrap() []error { return []error{e.Kind, e.Err} }

// classifyDialError turns the errors that say how a destination failed into a [*DestinationError]:
//
//   - StartSession refused by IAM (AccessDeniedException: the target, the document or its host parameter not
//     allowed), or the agent refusing the host ("Forwarding to IP address … is forbidden.") → ErrForbidden;
//   - Flag ssmwire.ConnectToPortError, or a session that ended with "connection refused" → ErrRefused;
//   - a session that ended with an unreachable or unresolvable host → ErrUnreachable.
//
// Anything else is returned as it is.
func classifyDialError(r ssmwire.Remote, err error) error {
	var de *DestinationError
	var api smithy.APIError
	var cpe *ssmwire.ConnectToPortError
	var cc *session.ChannelClosedError
	derr := func(kind error, reason string) error {
		return &DestinationError{Remote: r, Kind: kind, Reason: reason, Err: err}
	}
	switch {
	case errors.As(err, &de):
		return err
	case errors.As(err, &api) && (api.ErrorCode() == "AccessDeniedException" || api.ErrorCode() == "AccessDenied"):
		return derr(proxy.ErrForbidden, "StartSession refused: "+api.ErrorCode()+": "+api.ErrorMessage())
	case errors.Is(err, ssmwire.ErrAccessDenied):
		return derr(proxy.ErrForbidden, "StartSession refused: access denied")
	case errors.As(err, &cpe):
		return derr(proxy.ErrRefused, "the agent could not connect (connection refused, or the host is unreachable "+
			"from the target; the SSM Agent's log says which)")
	case errors.As(err, &cc):
		out := strings.ToLower(cc.Output)
		switch {
		case strings.Contains(out, "forbidden"), strings.Contains(out, "not allowed"), strings.Contains(out, "denied"):
			return derr(proxy.ErrForbidden, "refused by the agent: "+cc.Output)
		case strings.Contains(out, "connection refused"):
			return derr(proxy.ErrRefused, "the agent could not connect: "+cc.Output)
		case strings.Contains(out, "no route to host"), strings.Contains(out, "unreachable"),
			strings.Contains(out, "i/o timeout"), strings.Contains(out, "no such host"),
			strings.Contains(out, "missing address"):
			return derr(proxy.ErrUnreachable, "unreachable from the target: "+cc.Output)
		}
	}
	return err
}
