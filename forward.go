package ssmwire

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/portforward"
)

// Documents [Client.Forward] starts.
const (
	PortForwardingDocument           = "AWS-StartPortForwardingSession"
	PortForwardingRemoteHostDocument = "AWS-StartPortForwardingSessionToRemoteHost"
)

// ConnectToPortError is the error a forwarded connection's Read returns when the agent could not connect to
// the destination (nothing listens there, or the remote host is unreachable from the target).
type ConnectToPortError = portforward.ConnectToPortError

// Remote is the destination of a port forward, as the target sees it.
type Remote struct {
	// Host is the destination host. "" or a loopback name or address ("localhost", "localhost.", 127.0.0.0/8,
	// "::1", "[::1]", in any case) means the target itself (AWS-StartPortForwardingSession with portNumber
	// only); anything else is dialled by the target (AWS-StartPortForwardingSessionToRemoteHost), for example
	// a database endpoint inside the target's VPC. Agents from 2026 (3.3.4851.0 on) refuse loopback
	// destinations in …ToRemoteHost sessions, so a loopback Host must never be sent as "host".
	Host string
	// Port is the destination TCP port.
	Port int
}

func (r Remote) String() string {
	h := r.Host
	if h == "" {
		h = "localhost"
	}
	return net.JoinHostPort(h, strconv.Itoa(r.Port))
}

// ToTarget reports whether r is a port of the target itself: Host is empty or a loopback name or address
// ("localhost", "localhost.", any 127.0.0.0/8 address, "::1" or "[::1]", case-insensitive). Such a forward
// uses AWS-StartPortForwardingSession: the agent dials its own localhost, and newer agents refuse loopback
// hosts in AWS-StartPortForwardingSessionToRemoteHost sessions.
func (r Remote) ToTarget() bool { return IsLoopbackHost(r.Host) }

// IsLoopbackHost reports whether host ("" included) names the machine it is resolved on: "localhost" or
// "localhost." (any case), an address in 127.0.0.0/8 or ::1 (IPv4-mapped forms too), with or without
// brackets.
func IsLoopbackHost(host string) bool {
	h := strings.ToLower(strings.TrimSpace(host))
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	switch h {
	case "", "localhost", "localhost.":
		return true
	}
	if i := strings.IndexByte(h, '%'); i >= 0 { // a zone: "::1%lo"
		h = h[:i]
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Validate reports whether r can be forwarded to: its Port is a TCP port (1 to 65535).
func (r Remote) Validate() error {
	if r.Port <= 0 || r.Port > 65535 {
		return fmt.Errorf("ssmwire: forward to %s: invalid port %d", r, r.Port)
	}
	return nil
}

// input returns the StartSession input that forwards to r through target.
func (r Remote) input(target string) (*ssm.StartSessionInput, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	doc := PortForwardingDocument
	params := map[string][]string{"portNumber": {strconv.Itoa(r.Port)}}
	if !r.ToTarget() {
		doc = PortForwardingRemoteHostDocument
		params["host"] = []string{r.Host}
	}
	return &ssm.StartSessionInput{Target: &target, DocumentName: &doc, Parameters: params}, nil
}

// Tunnel is one port-forwarding session: any number of connections to its Remote (one at a time with agents
// older than 3.0.196.0, which have no multiplexing). Its methods are safe for concurrent use.
type Tunnel struct {
	s *Session
	f *portforward.Forwarder
}

// Forward starts a port-forwarding session through target to remote and returns when it is ready to carry
// connections. The caller closes the Tunnel; that ends the session.
func (c *Client) Forward(ctx context.Context, target string, remote Remote) (*Tunnel, error) {
	in, err := remote.input(target)
	if err != nil {
		return nil, err
	}
	s, err := c.StartSession(ctx, in)
	if err != nil {
		return nil, err
	}
	f, err := s.Forwarder(ctx, nil)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("ssmwire: forward to %s: %w", remote, err)
	}
	c.log.Debug("ssmwire: tunnel ready", "session", s.ID(), "target", target, "remote", remote.String(), "mode", f.Mode().String())
	return &Tunnel{s: s, f: f}, nil
}

// Session returns the tunnel's session.
func (t *Tunnel) Session() *Session { return t.s }

// SessionID returns the ID of the tunnel's session.
func (t *Tunnel) SessionID() string { return t.s.ID() }

// Forwarder returns the port forwarder the tunnel runs, for its mode, properties and Listen.
func (t *Tunnel) Forwarder() *portforward.Forwarder { return t.f }

// Dial opens a connection to the tunnel's Remote. A Read on it returns a [*ConnectToPortError] when the agent
// could not reach the destination.
func (t *Tunnel) Dial(ctx context.Context) (net.Conn, error) {
	conn, err := t.f.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("ssmwire: dial through session %s: %w", t.s.ID(), err)
	}
	return conn, nil
}

// Serve accepts connections on l and forwards each one through the tunnel until ctx is done, l fails, or the
// tunnel closes. It closes l and every connection it accepted before returning. Serve does not close the
// tunnel.
func (t *Tunnel) Serve(ctx context.Context, l net.Listener) error {
	return t.f.Serve(ctx, l, nil)
}

// Multiplexed reports whether the tunnel carries any number of connections at once (mux mode, agents from
// 3.0.196.0 on, docs/protocol.md §6.4); otherwise it carries one connection in its life (§6.3).
func (t *Tunnel) Multiplexed() bool { return t.f.Mode() == portforward.ModeMux }

// Err returns why the tunnel's session ended, as [Session.Err].
func (t *Tunnel) Err() error { return t.s.Err() }

// Done is closed when the tunnel's session has ended.
func (t *Tunnel) Done() <-chan struct{} { return t.s.Done() }

// Close ends the tunnel's session ([Session.Close]: Flag TerminateSession where the agent knows it, else the
// TerminateSession API): open connections fail, and every goroutine of the tunnel has returned when Close
// returns. Close is idempotent.
func (t *Tunnel) Close() error { return t.s.Close() }

// Dial connects to remote through target, as net.Dial would through a bastion: each connection gets its own
// port-forwarding session, which ends when the connection is closed. For many connections to one
// destination, [Client.Forward] and [Tunnel.Dial] share one session instead.
func (c *Client) Dial(ctx context.Context, target string, remote Remote) (net.Conn, error) {
	t, err := c.Forward(ctx, target, remote)
	if err != nil {
		return nil, err
	}
	conn, err := t.Dial(ctx)
	if err != nil {
		t.Close()
		return nil, err
	}
	return &tunnelConn{Conn: conn, t: t}, nil
}

// tunnelConn is a connection that owns its tunnel.
type tunnelConn struct {
	net.Conn
	t *Tunnel
}

func (c *tunnelConn) Close() error {
	err := c.Conn.Close()
	if terr := c.t.Close(); err == nil {
		err = terr
	}
	return err
}
