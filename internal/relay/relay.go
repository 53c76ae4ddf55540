// Package relay is the one two-way copy and the one accept loop of ssmwire: the library (package pool's
// Serve, package portforward's Serve, package proxy) and the programs (ssmwire forward, ssm-proxy, the
// plugin's stream mode) carry every connection with [Pipe] and accept them with [Serve].
//
// Half-close is decided here, once, for every kind of connection: when the local side stops sending (end of
// stream), the remote side is half-closed when it can be (a CloseWrite method: TCP, Unix sockets), so that
// its answer still arrives, and closed otherwise (a port-forwarding connection: smux FIN in mux mode, Flag
// DisconnectToPort in basic mode, docs/protocol.md §6.3, §6.4). When the remote side stops sending, or
// anything fails, both sides are closed. A remote side that keeps what it read but could not deliver (basic
// mode's unread output, for the next connection) says so with [Unreader]; the loop knows no modes.
package relay

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// BufferSize is the size of the buffer each direction copies through.
const BufferSize = 32 << 10

// Conn is one side of a relay: a net.Conn, or [Stdio].
type Conn interface {
	io.ReadWriteCloser
}

// Unreader is a connection that takes back bytes it returned from Read but the relay could not deliver to
// the other side, because that side went away.
type Unreader interface {
	Unread(p []byte)
}

// Options tune [Pipe]. A nil *Options means none.
type Options struct {
	// Up and Down, when set, count the bytes copied local → remote and remote → local as they pass (for a
	// status line).
	Up, Down *atomic.Int64
	// Done, when closed, ends the relay: both sides are closed (the session carrying the remote side
	// ended).
	Done <-chan struct{}
}

// Result is how a relay went.
type Result struct {
	Up, Down int64 // bytes copied local → remote and remote → local
	// LocalFirst reports that the local side stopped sending (or failed) before the remote side did.
	LocalFirst bool
	// UpErr is what ended local → remote other than the local side's end of stream: a read or write error.
	UpErr error
	// DownErr is what ended remote → local other than the remote side's end of stream.
	DownErr error
	// RemoteErr is DownErr when it came from reading the remote side (the destination failed), nil when
	// it came from writing to the local side.
	RemoteErr error
}

// Pipe copies local → remote and remote → local until both directions have ended, ctx is done or
// opts.Done is closed, then closes both sides and returns. See the package documentation for half-close.
func Pipe(ctx context.Context, local, remote Conn, opts *Options) Result {
	var o Options
	if opts != nil {
		o = *opts
	}
	var closeOnce sync.Once
	closeBoth := func() {
		closeOnce.Do(func() {
			local.Close()
			remote.Close()
		})
	}
	defer closeBoth()
	stop := context.AfterFunc(ctx, closeBoth)
	defer stop()
	finished := make(chan struct{})
	defer close(finished)
	if o.Done != nil {
		go func() {
			select {
			case <-o.Done:
				closeBoth()
			case <-finished:
			}
		}()
	}

	var res Result
	var first atomic.Int32 // 1: local side ended first, 2: remote side
	upDone := make(chan struct{})
	go func() {
		defer close(upDone)
		n, rerr, werr := copyStream(remote, local, o.Up, nil)
		res.Up = n
		first.CompareAndSwap(0, 1)
		switch {
		case rerr == nil && werr == nil:
			// The local side's end of stream: half-close the remote side when it can be.
			if cw, ok := remote.(interface{ CloseWrite() error }); ok {
				if cw.CloseWrite() == nil {
					return
				}
			}
			remote.Close()
		case werr != nil:
			res.UpErr = werr
			closeBoth()
		default:
			res.UpErr = rerr
			closeBoth()
		}
	}()
	n, rerr, werr := copyStream(local, remote, o.Down, remote)
	res.Down = n
	first.CompareAndSwap(0, 2)
	switch {
	case rerr != nil:
		res.DownErr, res.RemoteErr = rerr, rerr
	case werr != nil:
		res.DownErr = werr
	}
	closeBoth()
	<-upDone
	res.LocalFirst = first.Load() == 1
	return res
}

// copyStream copies src to dst until src's end of stream (rerr and werr nil) or an error: rerr from
// reading src, werr from writing dst. Bytes read but not written go back to unread, when it is an Unreader.
func copyStream(dst io.Writer, src io.Reader, count *atomic.Int64, unread any) (n int64, rerr, werr error) {
	buf := make([]byte, BufferSize)
	for {
		nr, err := src.Read(buf)
		if nr > 0 {
			nw, err := dst.Write(buf[:nr])
			if nw > 0 {
				n += int64(nw)
				if count != nil {
					count.Add(int64(nw))
				}
			}
			if err == nil && nw < nr {
				err = io.ErrShortWrite
			}
			if err != nil {
				if u, ok := unread.(Unreader); ok {
					u.Unread(buf[nw:nr])
				}
				return n, nil, err
			}
		}
		if err == io.EOF {
			return n, nil, nil
		}
		if err != nil {
			return n, err, nil
		}
	}
}

// Closed reports whether err only says that a side was closed (by the relay, the peer or ctx): nothing
// worth reporting.
func Closed(err error) bool {
	return err == nil || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe)
}
