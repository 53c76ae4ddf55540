package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/pool"
)

// copyBufferSize is the size of the buffers a forwarded connection is copied through: one data message.
const copyBufferSize = 32 << 10

// forwarder is the part of ssmwire.Client a keeper uses, so tests could substitute it.
type forwarder interface {
	Forward(ctx context.Context, target string, remote ssmwire.Remote) (*ssmwire.Tunnel, error)
}

// keeper keeps one forward up: it owns the local listener for as long as the command runs and a
// port-forwarding session that it replaces whenever it ends. A session is started at once, and again by the
// first connection after the previous one ended (idle timeout, ended from elsewhere, an agent
// restart); connections still open when a session ends are closed, which their clients see as a normal
// end of stream.
type keeper struct {
	tunnel string // the configuration file's tunnel name, "" for `ssmwire forward`
	fw     Forward
	target string // resolved StartSession target
	client forwarder
	rep    *reporter

	l net.Listener

	mu  sync.Mutex // held while a session starts, so that concurrent connections share it
	cur *ssmwire.Tunnel

	sessions int        // Forward.Sessions: 0 or 1 one session at a time, else a pool (pooled.go)
	pool     *pool.Pool // the forward's pool when sessions is not 1

	wg sync.WaitGroup // connection handlers and session watchers

	// Counters for the status line.
	conns, open      atomic.Int64
	bytesUp, bytesDn atomic.Int64
	sessionID        atomic.Value // string
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

// label names the keeper in messages.
func (k *keeper) label() string {
	if k.tunnel != "" {
		return k.tunnel + " " + k.fw.Spec
	}
	return k.fw.Spec
}

// remote is the forward's destination for ssmwire.
func (k *keeper) remote() ssmwire.Remote { return ssmwire.Remote{Host: k.fw.Host, Port: k.fw.HostPort} }

// session returns the current session, starting one when there is none or it has ended.
func (k *keeper) session(ctx context.Context) (*ssmwire.Tunnel, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cur != nil {
		select {
		case <-k.cur.Done():
		default:
			return k.cur, nil
		}
	}
	t, err := k.client.Forward(ctx, k.target, k.remote())
	if err != nil {
		return nil, err
	}
	k.cur = t
	k.sessionID.Store(t.SessionID())
	k.rep.emit(event{Event: evSessionStarted, SessionID: t.SessionID()}, k)
	k.wg.Add(1)
	go k.watch(ctx, t)
	return t, nil
}

// watch reports the end of a session and releases it.
func (k *keeper) watch(ctx context.Context, t *ssmwire.Tunnel) {
	defer k.wg.Done()
	select {
	case <-t.Done():
	case <-ctx.Done():
	}
	k.mu.Lock()
	if k.cur == t {
		k.cur = nil
		k.sessionID.Store("")
	}
	k.mu.Unlock()
	ended := false
	select {
	case <-t.Done():
		ended = true
	default:
	}
	t.Close() // ends the session when ctx ended first; only cleanup otherwise
	e := event{Event: evSessionEnded, SessionID: t.SessionID()}
	if !ended {
		e.Reason = "stopped"
	} else if err := t.Session().Err(); err != nil {
		e.Reason = err.Error()
	} else {
		e.Reason = "closed by the service"
	}
	k.rep.emit(e, k)
}

// serve accepts connections until ctx is done, then closes the listener, every connection and the session,
// and waits for all of them.
func (k *keeper) serve(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() { k.l.Close() })
	defer stop()
	for {
		conn, err := k.l.Accept()
		if err != nil {
			if ctx.Err() == nil {
				k.rep.emit(event{Event: evError, Error: fmt.Sprintf("accept: %v", err)}, k)
			}
			break
		}
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			k.handle(ctx, conn)
		}()
	}
	k.wg.Wait()
	if k.fw.Socket != "" {
		os.Remove(k.fw.Socket)
	}
}

// handle forwards one local connection through the current session (or the forward's pool).
func (k *keeper) handle(ctx context.Context, local net.Conn) {
	defer local.Close()
	if k.pool != nil {
		remote, err := k.pool.Dial(ctx)
		if err != nil {
			if ctx.Err() == nil {
				k.rep.emit(event{Event: evError, Error: fmt.Sprintf("connection from %s: %v", local.RemoteAddr(), err)}, k)
			}
			return
		}
		k.carry(ctx, local, remote, pooledSessionID(remote), nil)
		return
	}
	var remote net.Conn
	var t *ssmwire.Tunnel
	for attempt := 0; ; attempt++ {
		var err error
		t, err = k.session(ctx)
		if err == nil {
			remote, err = t.Dial(ctx)
			if err == nil {
				break
			}
		}
		if ctx.Err() != nil {
			return
		}
		// A session that ended between the check and the dial is replaced once.
		if t != nil && attempt == 0 {
			select {
			case <-t.Done():
				continue
			default:
			}
		}
		k.rep.emit(event{Event: evError, Error: fmt.Sprintf("connection from %s: %v", local.RemoteAddr(), err)}, k)
		return
	}
	k.carry(ctx, local, remote, t.SessionID(), t.Done())
}

// carry copies one connection through session sid (which ends with done, when known) and reports it.
func (k *keeper) carry(ctx context.Context, local, remote net.Conn, sid string, done <-chan struct{}) {
	n := k.conns.Add(1)
	k.open.Add(1)
	k.rep.emit(event{Event: evConnection, State: "open", Conn: n, SessionID: sid}, k)
	start := time.Now()
	up, down, err := k.pipe(ctx, done, local, remote)
	k.open.Add(-1)
	e := event{Event: evConnection, State: "closed", Conn: n, SessionID: sid,
		BytesUp: up, BytesDown: down, DurationMS: time.Since(start).Milliseconds()}
	if err != nil {
		e.Error = err.Error()
	}
	k.rep.emit(e, k)
	if err != nil {
		k.rep.emit(event{Event: evError, SessionID: sid, Conn: n, Error: err.Error()}, k)
	}
}

// pipe copies both ways until either side ends, the session ends or ctx is done, then closes both ends. It
// returns the bytes sent to the destination and received from it, and the destination's error if it failed
// (a connection the agent could not make, for example).
func (k *keeper) pipe(ctx context.Context, sessionDone <-chan struct{}, local, remote net.Conn) (up, down int64, err error) {
	defer remote.Close()
	closeBoth := func() {
		local.Close()
		remote.Close()
	}
	stop := context.AfterFunc(ctx, closeBoth)
	defer stop()
	ended := make(chan struct{})
	defer close(ended)
	go func() {
		select {
		case <-sessionDone:
			closeBoth() // a clean close for the client: the session is gone
		case <-ended:
		}
	}()

	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, copyBufferSize)
		for {
			n, rerr := local.Read(buf)
			if n > 0 {
				if _, werr := remote.Write(buf[:n]); werr != nil {
					break
				}
				up += int64(n)
				k.bytesUp.Add(int64(n))
			}
			if rerr != nil {
				break
			}
		}
		remote.Close() // the client stopped sending: end the destination connection
	}()
	buf := make([]byte, copyBufferSize)
	for {
		n, rerr := remote.Read(buf)
		if n > 0 {
			if _, werr := local.Write(buf[:n]); werr != nil {
				break
			}
			down += int64(n)
			k.bytesDn.Add(int64(n))
		}
		if rerr != nil {
			var cpe *ssmwire.ConnectToPortError
			if errors.As(rerr, &cpe) {
				err = fmt.Errorf("the agent could not connect to %s (check the SSM Agent's log)", k.fw.RemoteAddress())
			} else if rerr != io.EOF && !errors.Is(rerr, net.ErrClosed) && ctx.Err() == nil {
				select {
				case <-sessionDone:
				default:
					err = rerr
				}
			}
			break
		}
	}
	local.Close()
	<-done
	return up, down, err
}
