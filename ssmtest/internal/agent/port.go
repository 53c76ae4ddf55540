package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

const (
	localPortForwarding = "LocalPortForwarding"
	muxMinClientVersion = "1.1.70"
	// muxAfterAgentVersion: agents up to 3.0.196.0 predate port multiplexing (the plugin's gate, docs/protocol.md
	// §6.2), so an emulated agent that old never runs the mux plugin whatever the client says.
	muxAfterAgentVersion = "3.0.196.0"
	keepAliveOffAbove    = "1.2.331.0"
	dialTimeout          = 10 * time.Second
)

// newPortPlugin chooses the port session flavour as the agent does: mux for LocalPortForwarding with a
// client ≥ 1.1.70 on an agent newer than 3.0.196.0, otherwise one connection at a time (basic for LocalPortForwarding, stream mode for any
// other type, e.g. AWS-StartSSHSession).
func newPortPlugin(a *Agent) (plugin, error) {
	port := prop(a.cfg.Properties, "portNumber")
	if port == "" {
		return nil, fmt.Errorf("Port number is empty in session properties. %v", a.cfg.Properties)
	}
	host := prop(a.cfg.Properties, "host")
	if err := checkRemoteHost(host, a.cfg.Hosts); err != nil {
		return nil, err
	}
	switch dest, ok := a.cfg.Hosts[host]; {
	case host == "":
		host = "localhost"
	case ok:
		host = dest
	}
	addr := net.JoinHostPort(host, port)
	typ := prop(a.cfg.Properties, "type")
	if typ == localPortForwarding && compareVersions(a.ClientVersion(), muxMinClientVersion) >= 0 &&
		compareVersions(a.cfg.Version, muxAfterAgentVersion) > 0 {
		return newMuxPlugin(a, addr), nil
	}
	return &basicPlugin{a: a, addr: addr, stream: typ != localPortForwarding,
		redialed: make(chan net.Conn, 1), pumpDone: make(chan error, 1), exited: make(chan struct{})}, nil
}

func dial(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("Unable to connect to specified port: %w", err)
	}
	return c, nil
}

// basicPlugin forwards one TCP connection to the destination, dialled when the session starts. In
// LocalPortForwarding mode a destination read error (or Flag DisconnectToPort) closes it and the next
// client data dials again; in stream mode destination EOF ends the session successfully.
type basicPlugin struct {
	a      *Agent
	addr   string
	stream bool

	mu       sync.Mutex
	conn     net.Conn
	redial   bool          // the next Output data must dial first
	redialed chan net.Conn // hands a fresh connection to the pump
	pumpDone chan error
	exited   chan struct{} // closed when the pump goroutine returns
	closed   bool
}

func (p *basicPlugin) start(ctx context.Context) error {
	c, err := dial(ctx, p.addr)
	if err != nil {
		close(p.exited)
		return err
	}
	p.mu.Lock()
	p.conn = c
	p.mu.Unlock()
	go func() {
		defer close(p.exited)
		p.pumpDone <- p.pumpLoop(ctx, c)
	}()
	return nil
}

func (p *basicPlugin) pumpLoop(ctx context.Context, c net.Conn) error {
	for {
		err := p.a.pump(c, wire.PTOutput)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if p.stream {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		p.mu.Lock()
		if p.conn == c && !p.redial {
			c.Close()
			p.redial = true
		}
		p.mu.Unlock()
		select {
		case c = <-p.redialed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *basicPlugin) input(payloadType uint32, payload []byte) error {
	switch payloadType {
	case wire.PTOutput:
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil
		}
		if p.redial {
			c, err := dial(p.a.ctx, p.addr)
			if err != nil {
				p.mu.Unlock()
				p.a.end(err)
				return err
			}
			p.conn, p.redial = c, false
			select { // only the newest connection matters to the pump
			case old := <-p.redialed:
				old.Close()
			default:
			}
			p.redialed <- c
		}
		c := p.conn
		p.mu.Unlock()
		_, err := c.Write(payload)
		return err
	case wire.PTFlag:
		flag, err := wire.ParseFlag(payload)
		if err != nil {
			return err
		}
		switch flag {
		case wire.FlagDisconnectToPort:
			// The client's local connection went away: close ours; the next data dials again.
			p.mu.Lock()
			if !p.redial {
				p.conn.Close()
				p.redial = !p.stream
			}
			p.mu.Unlock()
		case wire.FlagTerminateSession:
			p.a.end(nil)
		}
	}
	return nil
}

func (p *basicPlugin) wait(ctx context.Context) error {
	select {
	case err := <-p.pumpDone:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *basicPlugin) close() {
	p.mu.Lock()
	p.closed = true
	if p.conn != nil {
		p.conn.Close()
	}
	p.mu.Unlock()
	<-p.exited
}
