package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/relay"
	"github.com/ssmwire/ssmwire/pool"
)

// keeper keeps one forward up: it owns the local listener for as long as the command runs and a pool of
// port-forwarding sessions (package pool) that replaces a session whenever it ends. With Forward.Sessions 0
// or 1 the pool holds one session (the single kept session: started at once, and again by the first
// connection after the previous one ended — idle timeout, ended from elsewhere, an agent restart); with N or
// auto it spreads connections over several. Connections still open when their session ends are closed,
// which their clients see as a normal end of stream.
type keeper struct {
	tunnel string // the configuration file's tunnel name, "" for `ssmwire forward`
	fw     Forward
	target string // resolved StartSession target
	rep    *reporter

	l net.Listener

	sessions int        // Forward.Sessions: 0 or 1 one session at a time, N or SessionsAuto a pool (pooled.go)
	pool     *pool.Pool // set by start

	// Counters for the status line.
	conns, open      atomic.Int64
	bytesUp, bytesDn atomic.Int64
	sessionID        atomic.Value // string: the current session of a single-session keeper
}

// listen opens the keeper's local listener.
func (k *keeper) listen() error {
	if k.fw.Socket != "" {
		// A stale socket file from an earlier run would make Listen fail; remove it only if nothing answers.
		if c, err := net.DialTimeout("unix", k.fw.Socket, time.Second); err == nil {
			c.Close()
		} else {
			os.Remove(k.fw.Socket)
		}
	}
	l, err := net.Listen(k.fw.ListenNetwork(), k.fw.ListenAddress())
	if err != nil {
		return fmt.Errorf("forward %s: %w", k.fw.Spec, err)
	}
	k.l = l
	return nil
}

// remote is the forward's destination for ssmwire.
func (k *keeper) remote() ssmwire.Remote { return ssmwire.Remote{Host: k.fw.Host, Port: k.fw.HostPort} }

// serve accepts connections until ctx is done, then closes the listener and every connection, and waits for
// them. The sessions end with the pool (stopPool).
func (k *keeper) serve(ctx context.Context) {
	if err := relay.Serve(ctx, k.l, nil, k.handle); ctx.Err() == nil {
		k.rep.emit(event{Event: evError, Error: fmt.Sprintf("accept: %v", err)}, k)
	}
	if k.fw.Socket != "" {
		os.Remove(k.fw.Socket)
	}
}

// handle forwards one local connection through the keeper's pool.
func (k *keeper) handle(ctx context.Context, local net.Conn) {
	defer local.Close()
	remote, err := k.pool.Dial(ctx)
	if err != nil {
		if ctx.Err() == nil {
			k.rep.emit(event{Event: evError, Error: fmt.Sprintf("connection from %s: %v", local.RemoteAddr(), err)}, k)
		}
		return
	}
	k.carry(ctx, local, remote)
}

// carry copies one connection through its session (package relay) and reports it.
func (k *keeper) carry(ctx context.Context, local, remote net.Conn) {
	sid, done := pooledSession(remote)
	n := k.conns.Add(1)
	k.open.Add(1)
	k.rep.emit(event{Event: evConnection, State: "open", Conn: n, SessionID: sid}, k)
	start := time.Now()
	res := relay.Pipe(ctx, local, remote, &relay.Options{Up: &k.bytesUp, Down: &k.bytesDn, Done: done})
	k.open.Add(-1)
	err := k.connErr(ctx, done, res.RemoteErr)
	e := event{Event: evConnection, State: "closed", Conn: n, SessionID: sid,
		BytesUp: res.Up, BytesDown: res.Down, DurationMS: time.Since(start).Milliseconds()}
	if err != nil {
		e.Error = err.Error()
	}
	k.rep.emit(e, k)
	if err != nil {
		k.rep.emit(event{Event: evError, SessionID: sid, Conn: n, Error: err.Error()}, k)
	}
}

// connErr is the destination's failure worth reporting, from the error reading it: a connection the agent
// could not make, or a failure that is not the end of the connection, of its session or of the command.
func (k *keeper) connErr(ctx context.Context, sessionDone <-chan struct{}, rerr error) error {
	var cpe *ssmwire.ConnectToPortError
	switch {
	case errors.As(rerr, &cpe):
		return fmt.Errorf("the agent could not connect to %s (check the SSM Agent's log)", k.fw.RemoteAddress())
	case rerr == nil, rerr == io.EOF, errors.Is(rerr, net.ErrClosed), ctx.Err() != nil:
		return nil
	}
	select {
	case <-sessionDone:
		return nil
	default:
		return rerr
	}
}
