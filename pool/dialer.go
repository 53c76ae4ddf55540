package pool

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/ssmwire/ssmwire"
)

// Tunnel carries connections to one destination through a target: a [*ssmwire.Tunnel] (one port-forwarding
// session), or anything with the same methods, such as a pool of sessions. A [Dialer] keeps one per
// destination.
type Tunnel interface {
	// Dial opens a connection to the conduit's destination.
	Dial(ctx context.Context) (net.Conn, error)
	// Done is closed when the conduit can carry no more connections (its session ended).
	Done() <-chan struct{}
	// Close ends the conduit and its connections.
	Close() error
}

// Defaults of [DialerConfig].
const (
	DefaultDialerIdleTimeout = 2 * time.Minute
	DefaultConfirmWait       = time.Second
)

// DialerConfig configures a [Dialer]. A nil *DialerConfig means all defaults; NewDialer copies it.
type DialerConfig struct {
	// Open opens a conduit to remote through target. Default: a [Pool] configured by Pool when that is set,
	// else [Client.Forward], one port-forwarding session (AWS-StartPortForwardingSessionToRemoteHost, or
	// AWS-StartPortForwardingSession for a loopback host).
	Open func(ctx context.Context, target string, remote ssmwire.Remote) (Tunnel, error)
	// Pool, when set (and Open is not), gives every destination a pool of sessions configured by it instead of
	// one session, for destinations with many busy connections; its last session closes when idle too
	// (CloseLastWhenIdle), and its sessions are reported to OnSession.
	Pool *Config
	// IdleTimeout closes a destination's conduit once no connection has used it for this long. Default
	// [DefaultDialerIdleTimeout].
	IdleTimeout time.Duration
	// ConfirmWait is how long a new connection waits for the agent's verdict on a destination that has not
	// yet been seen to accept connections: multiplexed sessions acknowledge no successful connect, but report a
	// failed one (Flag ssmwire.ConnectToPortError) about one round trip after the stream opened. A connection that
	// received data, or heard nothing for ConfirmWait, counts as accepted, and later connections to the same
	// destination do not wait. Default [DefaultConfirmWait]; negative: never wait.
	//
	// The agent's silence is ambiguous: a destination that waits for its client to speak first and one the
	// agent is still dialing (an unreachable host costs the agent its operating system's connect timeout,
	// minutes) look alike. Such a connection counts as accepted; if the agent then reports the failure, its
	// Read returns the [*DestinationError].
	ConfirmWait time.Duration
	// OnSession, if set, is told when a destination's conduit opens and when it ends.
	OnSession func(SessionEvent)
}

// SessionEvent reports a conduit (for a [*ssmwire.Tunnel], its session) opened or ended by a [Dialer].
type SessionEvent struct {
	Remote    ssmwire.Remote
	SessionID string // "" when the conduit is not a session
	Ended     bool   // false: opened
	Reason    string // why it ended: "idle", "closed", or the session's error
}

// Dialer connects to any host and port the target can reach, as a proxy needs to: one conduit per
// destination (host:port), opened by the first connection to it, shared by later ones, and closed when idle.
// Concurrent first connections to one destination open one conduit. A session without multiplexing (agents
// up to 3.0.196.0) is not shared: it carries one connection and ends with it. Its methods are safe for
// concurrent use.
type Dialer struct {
	target string
	cfg    DialerConfig

	mu     sync.Mutex
	dests  map[string]*destination
	good   map[string]bool // destinations seen to accept connections
	closed bool
	ctx    context.Context // canceled by Close: opens in progress stop
	cancel context.CancelFunc
	wg     sync.WaitGroup // openers and watchers
}

// destination is the conduit of one host:port, under Dialer.mu.
//
// It is kept apart from a [Pool] of one on purpose, because a pool would behave differently: a pool shares its
// busy session with the next connection and keeps it after that connection closes, where a session in basic
// mode has to be claimed by a single connection and closed along with it (single, below); the first
// caller's context cancels a pool's start, where an open here carries on for the connections that wait;
// a pool retries throttled starts with backoff and retries a dial on a session it has just started, where
// this retries only a reused conduit; and a pool keeps why a session ended out of the dial error that
// classifyDialError reads, and out of the SessionEvent Reasons ("idle", "closed by the service").
type destination struct {
	key    string
	remote ssmwire.Remote
	ready  chan struct{} // closed when the open finished; then conduit or err is set
	c      Tunnel
	err    error
	active int         // connections open through c
	idle   *time.Timer // closes c when it fires with active == 0
	reason string      // set when the Dialer ends c itself
	// single marks a conduit that carries one connection in its life: a session in basic mode (agents up to
	// 3.0.196.0), whose agent dials the destination when the session starts and, after the first connection,
	// only when the client sends, so that a destination that speaks first would never answer a second one.
	// Its first user claims it; others open their own; it closes with that connection.
	single, claimed bool
}

// maxGood bounds the memory of destinations seen to accept.
const maxGood = 4096

// openTimeout bounds opening one conduit (StartSession, the data channel, the handshake). The callers of Dial
// may give up sooner; the open then carries on for the next connection.
const openTimeout = 2 * time.Minute

// NewDialer returns a Dialer whose sessions c starts through target (a resolved StartSession target). The
// caller closes it.
func NewDialer(c *ssmwire.Client, target string, cfg *DialerConfig) *Dialer {
	d := &Dialer{target: target, dests: make(map[string]*destination), good: make(map[string]bool)}
	if cfg != nil {
		d.cfg = *cfg
	}
	if d.cfg.Open == nil && d.cfg.Pool != nil {
		d.cfg.Open = d.poolOpener(c, *d.cfg.Pool)
	}
	if d.cfg.Open == nil {
		d.cfg.Open = func(ctx context.Context, target string, r ssmwire.Remote) (Tunnel, error) {
			t, err := c.Forward(ctx, target, r)
			if err != nil {
				return nil, err // not a typed nil in the interface
			}
			return t, nil
		}
	}
	if d.cfg.IdleTimeout <= 0 {
		d.cfg.IdleTimeout = DefaultDialerIdleTimeout
	}
	if d.cfg.ConfirmWait == 0 {
		d.cfg.ConfirmWait = DefaultConfirmWait
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d
}

// ErrDialerClosed is returned by Dial after Close.
var ErrDialerClosed = errors.New("ssmwire: dialer closed")

// Dial connects to port on host as the target sees them; host may be a name for the target to resolve. It
// has the signature of proxy.DialFunc. When the destination itself failed the error is a
// [*DestinationError] wrapping proxy.ErrForbidden (IAM or the agent refused the destination),
// proxy.ErrRefused (the agent could not connect to it) or proxy.ErrUnreachable (the agent reported it
// unreachable), so that a proxy answers precisely; a Read on the connection reports a connection the agent
// failed after all (see ConfirmWait) the same way.
func (d *Dialer) Dial(ctx context.Context, host string, port int) (net.Conn, error) {
	r := ssmwire.Remote{Host: host, Port: port}
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("ssmwire: dial %s: invalid port %d", r, port)
	}
	for attempt := 0; ; attempt++ {
		dst, fresh, err := d.conduit(ctx, r)
		if err != nil {
			return nil, classifyDialError(r, err)
		}
		conn, err := dst.c.Dial(ctx)
		if err == nil {
			conn, err = d.confirm(ctx, dst, conn)
		}
		if err == nil {
			return &dialedConn{Conn: conn, d: d, dst: dst}, nil
		}
		d.release(dst)
		if cerr := conduitErr(dst.c); cerr != nil && isDone(dst.c) && !errors.Is(err, cerr) {
			// The session's own end says more than what its closing did to the dial.
			err = fmt.Errorf("%w (%w)", err, cerr)
		}
		// A reused session may have ended since (idle timeout on the service, agent restart): open a fresh
		// one once. A session opened for this call that fails already tells about the destination.
		if !fresh && attempt == 0 && isDone(dst.c) && ctx.Err() == nil {
			continue
		}
		return nil, classifyDialError(r, err)
	}
}

// conduit returns the destination's conduit with one more active connection counted, opening it when there
// is none or it has ended; fresh reports that it was opened during this call.
func (d *Dialer) conduit(ctx context.Context, r ssmwire.Remote) (*destination, bool, error) {
	key := r.String()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, false, ErrDialerClosed
	}
	dst := d.dests[key]
	fresh := false
	if dst != nil && dst.c != nil && isDone(dst.c) {
		d.dropLocked(dst)
		dst = nil
	}
	if dst == nil {
		dst = &destination{key: key, remote: r, ready: make(chan struct{})}
		d.dests[key] = dst
		fresh = true
		d.wg.Add(1)
		go d.open(dst)
	}
	dst.active++
	if dst.idle != nil {
		dst.idle.Stop()
		dst.idle = nil
	}
	d.mu.Unlock()

	select {
	case <-dst.ready:
	case <-ctx.Done():
		d.release(dst)
		return nil, false, ctx.Err()
	}
	if dst.err != nil {
		d.release(dst)
		return nil, false, dst.err
	}
	if dst.single {
		d.mu.Lock()
		taken := dst.claimed
		dst.claimed = true
		if d.dests[dst.key] == dst {
			delete(d.dests, dst.key) // later connections open their own
		}
		d.mu.Unlock()
		if taken {
			d.release(dst)
			return d.conduit(ctx, r)
		}
	}
	return dst, fresh, nil
}

// open opens dst's conduit, for every connection waiting on it.
func (d *Dialer) open(dst *destination) {
	defer d.wg.Done()
	ctx, cancel := context.WithTimeout(d.ctx, openTimeout)
	defer cancel()
	c, err := d.cfg.Open(ctx, d.target, dst.remote)
	d.mu.Lock()
	dst.c, dst.err = c, err
	if t, ok := c.(*ssmwire.Tunnel); ok && !t.Multiplexed() {
		dst.single = true
	}
	if err != nil {
		if d.dests[dst.key] == dst {
			delete(d.dests, dst.key) // the next connection tries again
		}
		d.mu.Unlock()
		close(dst.ready)
		return
	}
	closed := d.closed
	d.mu.Unlock()
	if closed {
		close(dst.ready)
		c.Close()
		return
	}
	// Reported before anyone can use the conduit, so that its connections' events come after it.
	if id := conduitID(c); id != "" { // a pool reports its sessions itself
		d.report(SessionEvent{Remote: dst.remote, SessionID: id})
	}
	close(dst.ready)
	d.wg.Add(1)
	go d.watch(dst)
}

// watch waits for dst's conduit to end, forgets it, closes it and reports why it ended.
func (d *Dialer) watch(dst *destination) {
	defer d.wg.Done()
	select {
	case <-dst.c.Done():
	case <-d.ctx.Done():
	}
	d.mu.Lock()
	if d.dests[dst.key] == dst {
		delete(d.dests, dst.key)
	}
	if dst.idle != nil {
		dst.idle.Stop()
	}
	reason := dst.reason
	d.mu.Unlock()
	if reason == "" {
		if d.ctx.Err() != nil {
			reason = "stopped"
		} else {
			reason = conduitEnd(dst.c)
		}
	}
	dst.c.Close()
	if id := conduitID(dst.c); id != "" {
		d.report(SessionEvent{Remote: dst.remote, SessionID: id, Ended: true, Reason: reason})
	}
}

// release counts one connection of dst as gone; the last one starts the idle timer.
func (d *Dialer) release(dst *destination) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dst.active--
	if dst.single && dst.active == 0 && dst.c != nil && dst.reason == "" {
		dst.reason = "its one connection ended (an agent without multiplexing)"
		go dst.c.Close() // its watcher reports the end
		return
	}
	if dst.active > 0 || dst.c == nil || d.dests[dst.key] != dst {
		return
	}
	dst.idle = time.AfterFunc(d.cfg.IdleTimeout, func() {
		d.mu.Lock()
		if dst.active > 0 || d.dests[dst.key] != dst {
			d.mu.Unlock()
			return
		}
		delete(d.dests, dst.key)
		dst.reason = "idle"
		d.mu.Unlock()
		dst.c.Close() // its watcher reports the end
	})
}

// dropLocked forgets an ended destination.
func (d *Dialer) dropLocked(dst *destination) {
	if d.dests[dst.key] == dst {
		delete(d.dests, dst.key)
	}
	if dst.idle != nil {
		dst.idle.Stop()
		dst.idle = nil
	}
}

// Close closes every conduit (ending their sessions) and waits for them. Dial fails afterwards.
func (d *Dialer) Close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel() // openers stop; watchers close their conduits
	d.wg.Wait()
	return nil
}

func (d *Dialer) report(e SessionEvent) {
	if cb := d.cfg.OnSession; cb != nil {
		cb(e)
	}
}

// setGood records whether a destination accepts connections.
func (d *Dialer) setGood(key string, good bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !good {
		delete(d.good, key)
		return
	}
	if len(d.good) >= maxGood {
		clear(d.good)
	}
	d.good[key] = true
}

func (d *Dialer) isGood(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.good[key]
}

func isDone(c Tunnel) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

// conduitID is the session ID of a conduit that has one.
func conduitID(c Tunnel) string {
	if s, ok := c.(interface{ SessionID() string }); ok {
		return s.SessionID()
	}
	return ""
}

// conduitErr is the error that ended a conduit: its session's, for a [*ssmwire.Tunnel] or a conduit with an Err
// method.
func conduitErr(c Tunnel) error {
	switch c := c.(type) {
	case *ssmwire.Tunnel:
		return c.Session().Err()
	case interface{ Err() error }:
		return c.Err()
	}
	return nil
}

// conduitEnd describes why a conduit ended by itself.
func conduitEnd(c Tunnel) string {
	if err := conduitErr(c); err != nil {
		return err.Error()
	}
	return "closed by the service"
}
