package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/pool"
	proxylib "github.com/ssmwire/ssmwire/proxy"
)

// DefaultProxyListen is where `ssmwire proxy` listens unless told otherwise.
const DefaultProxyListen = "127.0.0.1:1080"

func proxyCommand() *command {
	return &command{
		name:    "proxy",
		args:    "TARGET [[bind_address:]port]",
		summary: "Serve a SOCKS5 and HTTP CONNECT proxy to every host TARGET can reach",
		help: `
Listens on 127.0.0.1:1080 unless told otherwise, and serves SOCKS5 (no authentication,
CONNECT, IPv4, IPv6 and names, which TARGET resolves) and HTTP CONNECT on the same port:

  curl --socks5-hostname 127.0.0.1:1080 http://internal-ui.corp:8080/
  curl --proxytunnel -x http://127.0.0.1:1080 http://internal-ui.corp:8080/
  ssh -o ProxyCommand='nc -X 5 -x 127.0.0.1:1080 %h %p' ec2-user@10.0.3.7
  git -c http.proxy=socks5h://127.0.0.1:1080 clone http://git.corp/repo.git

Each destination host:port gets one port-forwarding session through TARGET
(AWS-StartPortForwardingSessionToRemoteHost; AWS-StartPortForwardingSession for localhost
and 127.0.0.0/8 or ::1, which are TARGET itself), shared by later connections to it and
closed after two idle minutes. A destination the agent cannot connect to gets SOCKS5 reply 5
or HTTP 502; one that IAM or the agent refuses reply 2 or 403; no answer in 30 s reply 4 or
504; the reason is printed on standard error (and in --json events). Sessions confirm no
connect, only report a failed one, so the first connection to a destination waits up to a
second for that verdict; a host the agent is still trying to reach after it looks like a
server that waits for its client, and the connection ends when the agent gives up.

--sessions N (or auto) gives each destination up to N sessions, as for forward: busy
destinations get parallel sessions, each paced by the agent on its own.

Anyone who can connect to the proxy reaches what TARGET reaches with your AWS identity:
listening on anything but a loopback address prints a warning. In the configuration file
a tunnel can carry a proxy, with or without forwards:

  [tunnels.staging]
  target = "bastion"
  proxy  = "127.0.0.1:1080"

Examples:
  ssmwire proxy bastion
  curl --proxy socks5h://127.0.0.1:1080 http://internal.example/
  ssmwire proxy --sessions auto i-0123456789abcdef0 127.0.0.1:8888`,
		flags: func(fs *flag.FlagSet, o *cmdOptions) {
			fs.StringVar(&o.sessions, "sessions", "1", "sessions per destination: `N` (1-64) or auto; connections are spread over them")
		},
		run: runProxy,
	}
}

func runProxy(ctx context.Context, a *app, o *cmdOptions, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return usagef("proxy: want TARGET and at most one [bind_address:]port")
	}
	t, err := ssmwire.ParseTarget(args[0])
	if err != nil {
		return &usageError{err.Error()}
	}
	listen := DefaultProxyListen
	if len(args) == 2 {
		listen = args[1]
	}
	pl, err := ParseProxyListen(listen)
	if err != nil {
		return &usageError{err.Error()}
	}
	sessions, err := ParseSessions(o.sessions)
	if err != nil {
		return &usageError{err.Error()}
	}
	return a.runTunnels(ctx, []Tunnel{{Target: t.Raw, Proxy: &pl, Sessions: sessions}})
}

// ProxyListen is where a proxy listens: [bind_address:]port, as OpenSSH's -D takes it.
type ProxyListen struct {
	Spec        string // as written
	BindAddress string // "127.0.0.1" unless given; "0.0.0.0" for "*" or an empty address
	Port        int    // 0: any free port
}

// ParseProxyListen parses "[bind_address:]port"; IPv6 addresses go in brackets ("[::1]:1080").
func ParseProxyListen(s string) (ProxyListen, error) {
	p := ProxyListen{Spec: s, BindAddress: "127.0.0.1"}
	portStr := s
	if strings.Contains(s, ":") {
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			return ProxyListen{}, fmt.Errorf("proxy %q: want [bind_address:]port: %v", s, err)
		}
		switch host {
		case "", "*":
			host = "0.0.0.0"
		case "localhost":
			host = "127.0.0.1"
		}
		p.BindAddress, portStr = host, port
	}
	port, err := parsePort(portStr, true)
	if err != nil {
		return ProxyListen{}, fmt.Errorf("proxy %q: %w", s, err)
	}
	p.Port = port
	return p, nil
}

// Address is the TCP address to listen on.
func (p ProxyListen) Address() string { return net.JoinHostPort(p.BindAddress, strconv.Itoa(p.Port)) }

// Loopback reports whether the proxy listens on a loopback address only.
func (p ProxyListen) Loopback() bool { return ssmwire.IsLoopbackHost(p.BindAddress) }

// proxyWarning is printed when a proxy listens beyond loopback: the port lends the user's AWS identity.
func proxyWarning(listen, target, profile string) string {
	return fmt.Sprintf("warning: the proxy listens on %s, not on loopback only: anyone who can reach that port "+
		"reaches every host %s can reach, with your AWS identity (profile %s)", listen, target, profile)
}

// proxyRunner serves one proxy of a tunnel: its listener, a proxy.Server and the pool.Dialer under it.
type proxyRunner struct {
	tunnel string
	pl     ProxyListen
	target string // resolved StartSession target
	// sessions is Tunnel.Sessions: 0 or 1 one session per destination, else a pool per destination.
	sessions int
	c        *clients
	rep      *reporter
	log      *slog.Logger
	l        net.Listener
	d        *pool.Dialer

	// Counters for the status line.
	sessionsOpen, conns, open atomic.Int64
	bytesUp, bytesDn          atomic.Int64 // of connections that ended
}

// statusLine is the proxy's current state: where it listens, its sessions, connections and bytes each way.
func (p *proxyRunner) statusLine() string {
	name := "proxy"
	if p.tunnel != "" {
		name = p.tunnel + " proxy"
	}
	listen := p.pl.Address()
	if p.l != nil {
		listen = p.l.Addr().String()
	}
	return fmt.Sprintf("%-16s %s → any host via %s  sessions %d  conns %d (%d open)  ↑%s ↓%s",
		name, listen, p.target, p.sessionsOpen.Load(), p.conns.Load(), p.open.Load(),
		byteCount(p.bytesUp.Load()), byteCount(p.bytesDn.Load()))
}

// proxyRemote is the Remote of a proxy's tunnel_up event.
const proxyRemote = "any host (SOCKS5 and HTTP CONNECT)"

// listen warns when the proxy is not to listen on loopback only, then opens its listener.
func (p *proxyRunner) listen(a *app) error {
	if !p.pl.Loopback() {
		a.errorf("%s", proxyWarning(p.pl.Address(), p.target, p.c.profile))
	}
	l, err := net.Listen("tcp", p.pl.Address())
	if err != nil {
		return fmt.Errorf("proxy %s: %w", p.pl.Spec, err)
	}
	p.l = l
	return nil
}

// emit reports a proxy event; dest, when not empty, names the destination it is about.
func (p *proxyRunner) emit(e event, dest string) {
	e.Tunnel, e.Target = p.tunnel, p.target
	e.Forward = "proxy"
	if dest != "" {
		e.Forward = "proxy " + dest
		e.Remote = dest
	}
	if p.l != nil {
		e.Listen = p.l.Addr().String()
	}
	p.rep.emit(e, nil)
}

// serve runs the proxy until ctx is done, then closes every session it opened.
func (p *proxyRunner) serve(ctx context.Context) {
	cfg := &pool.DialerConfig{OnSession: p.onSession}
	switch {
	case p.sessions == SessionsAuto:
		cfg.Pool = &pool.Config{}
	case p.sessions > 1:
		cfg.Pool = &pool.Config{MaxSessions: p.sessions}
	}
	p.d = pool.NewDialer(p.c.wire, p.target, cfg)
	defer p.d.Close()
	srv, err := proxylib.New(&proxylib.Config{Dial: p.d.Dial, Logger: p.log, OnEvent: p.onEvent})
	if err != nil {
		p.emit(event{Event: evError, Error: err.Error()}, "")
		return
	}
	if err := srv.Serve(ctx, p.l); err != nil && ctx.Err() == nil {
		p.emit(event{Event: evError, Error: err.Error()}, "")
	}
}

func (p *proxyRunner) onSession(e pool.SessionEvent) {
	if !e.Ended {
		p.sessionsOpen.Add(1)
		p.emit(event{Event: evSessionStarted, SessionID: e.SessionID}, e.Remote.String())
		return
	}
	p.sessionsOpen.Add(-1)
	p.emit(event{Event: evSessionEnded, SessionID: e.SessionID, Reason: e.Reason}, e.Remote.String())
}

func (p *proxyRunner) onEvent(e proxylib.Event) {
	dest := e.Destination()
	switch e.Type {
	case proxylib.EventOpen:
		p.conns.Add(1)
		p.open.Add(1)
		p.emit(event{Event: evConnection, State: "open", Conn: int64(e.Conn), Protocol: e.Protocol}, dest)
	case proxylib.EventClosed:
		p.open.Add(-1)
		p.bytesUp.Add(e.BytesUp)
		p.bytesDn.Add(e.BytesDown)
		ev := event{Event: evConnection, State: "closed", Conn: int64(e.Conn), Protocol: e.Protocol,
			BytesUp: e.BytesUp, BytesDown: e.BytesDown, DurationMS: e.Duration.Milliseconds()}
		if e.Err != nil {
			ev.Error = e.Err.Error()
		}
		p.emit(ev, dest)
	case proxylib.EventFailed:
		if e.Host == "" {
			dest = ""
		}
		msg := p.explain(e.Err)
		p.emit(event{Event: evConnection, State: "failed", Conn: int64(e.Conn), Protocol: e.Protocol,
			Reply: e.Reply, Error: msg}, dest)
		p.emit(event{Event: evError, Conn: int64(e.Conn), Protocol: e.Protocol, Reply: e.Reply,
			Error: fmt.Sprintf("%s from %s: %s", e.Reply, e.Client, msg)}, dest)
	}
}

// explain turns a failure into one line: the library's advice for AWS errors, else the error.
func (p *proxyRunner) explain(err error) string {
	var ad *adviceError
	if errors.As(p.c.explain(err), &ad) {
		return ad.advice
	}
	return err.Error()
}
