package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/ssmwire/ssmwire/internal/relay"
)

// DialFunc connects to port on host as the far end sees them. host is an IP address in text form (IPv6
// without brackets) or a domain name exactly as the client sent it, for the far end to resolve. The
// returned error chooses the reply (see [Classify]); ctx carries Config.DialTimeout.
type DialFunc func(ctx context.Context, host string, port int) (net.Conn, error)

// Defaults of [Config].
const (
	DefaultHandshakeTimeout = 30 * time.Second
	DefaultDialTimeout      = 30 * time.Second
)

// maxHeadBytes bounds what a client may send before its tunnel is up (an HTTP request head).
const maxHeadBytes = 64 << 10

// Config configures a [Server]. New copies it.
type Config struct {
	// Dial connects to destinations. Required.
	Dial DialFunc
	// Logger receives debug records. Nil discards them.
	Logger *slog.Logger
	// HandshakeTimeout bounds how long a client may take to send its request. Default
	// [DefaultHandshakeTimeout].
	HandshakeTimeout time.Duration
	// DialTimeout bounds each dial; a dial that runs past it gets SOCKS5 reply 4 or HTTP 504. Default
	// [DefaultDialTimeout].
	DialTimeout time.Duration
	// OnEvent, if set, is called for every connection that asked for a destination: when its tunnel is
	// open, when it is closed, and when it failed. It is called from the connection's goroutine; calls for
	// different connections may run at once.
	OnEvent func(Event)
}

// EventType says what happened to a connection.
type EventType int

const (
	EventOpen   EventType = iota + 1 // the tunnel is up
	EventClosed                      // the tunnel ended
	EventFailed                      // the request was refused or the dial failed; a reply said so
)

func (t EventType) String() string {
	switch t {
	case EventOpen:
		return "open"
	case EventClosed:
		return "closed"
	case EventFailed:
		return "failed"
	}
	return "unknown"
}

// Event reports one step of one client connection.
type Event struct {
	Type     EventType
	Conn     uint64   // the connection's number, from 1
	Client   net.Addr // the client's address
	Protocol string   // "socks5" or "http"
	Host     string   // the destination, as requested
	Port     int
	// Kind and Reply describe a failure: the class of error and the reply sent ("SOCKS5 reply 5",
	// "HTTP 403"); Err is the reason.
	Kind  Kind
	Reply string
	Err   error
	// BytesUp and BytesDown count the bytes sent to the destination and received from it (EventClosed).
	BytesUp, BytesDown int64
	Duration           time.Duration // EventClosed: how long the tunnel was up
}

// Destination is host:port.
func (e Event) Destination() string { return hostPort(e.Host, e.Port) }

// Server is a SOCKS5 and HTTP CONNECT proxy. Its methods are safe for concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	nextID atomic.Uint64
}

// ErrNoDial is returned by [New] when Config.Dial is nil.
var ErrNoDial = errors.New("proxy: Config.Dial is required")

// New returns a Server for cfg.
func New(cfg *Config) (*Server, error) {
	if cfg == nil || cfg.Dial == nil {
		return nil, ErrNoDial
	}
	c := *cfg
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	return &Server{cfg: c, log: c.Logger}, nil
}

// Serve accepts connections on l and serves each until ctx is done or l fails. It closes l and every
// connection it accepted before returning, and returns ctx.Err() when ctx ended it, else the Accept error.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	err := relay.Serve(ctx, l, nil, s.ServeConn)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("proxy: accept: %w", err)
}

// ServeConn serves one client connection and closes it. It returns when the tunnel has ended, the request
// was refused, or ctx is done.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	h := &handler{s: s, c: c, id: s.nextID.Add(1)}
	h.lim = &io.LimitedReader{R: c, N: maxHeadBytes}
	h.br = bufio.NewReaderSize(h.lim, 4096)
	c.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	first, err := h.br.Peek(1)
	if err != nil {
		s.log.Debug("proxy: client sent nothing", "client", c.RemoteAddr(), "err", err)
		return
	}
	switch b := first[0]; {
	case b == socksVersion:
		h.socks5(ctx)
	case b == socks4Version:
		s.log.Debug("proxy: SOCKS4 refused", "client", c.RemoteAddr())
		c.Write(socks4Rejection())
		h.linger()
	case b >= 'A' && b <= 'Z':
		h.http(ctx)
	default:
		s.log.Debug("proxy: not a proxy request", "client", c.RemoteAddr(), "first", b)
	}
}

// handler is one client connection.
type handler struct {
	s   *Server
	c   net.Conn
	id  uint64
	lim *io.LimitedReader
	br  *bufio.Reader
}

func (h *handler) socks5(ctx context.Context) {
	ok, err := readSOCKSGreeting(h.br)
	if err != nil {
		h.s.log.Debug("proxy: bad SOCKS5 greeting", "client", h.c.RemoteAddr(), "err", err)
		return
	}
	if !ok {
		h.c.Write([]byte{socksVersion, socksMethodNoAcceptable})
		h.s.log.Debug("proxy: SOCKS5 client refused", "client", h.c.RemoteAddr(), "err", errNoAcceptableMethod)
		h.linger()
		return
	}
	if _, err := h.c.Write([]byte{socksVersion, socksMethodNoAuth}); err != nil {
		return
	}
	req, rep, err := readSOCKSRequest(h.br)
	ev := Event{Conn: h.id, Client: h.c.RemoteAddr(), Protocol: "socks5", Host: req.host, Port: req.port}
	if err == nil && req.cmd != socksCmdConnect {
		rep = socksCmdNotSupported
		err = fmt.Errorf("socks5: %s is not supported, only CONNECT", socksCommandName(req.cmd))
	}
	if err != nil {
		if rep != 0 {
			h.fail(ev, General, fmt.Sprintf("SOCKS5 reply %d", rep), err)
			h.c.Write(socksReply(rep))
			h.linger()
		} else {
			h.s.log.Debug("proxy: bad SOCKS5 request", "client", h.c.RemoteAddr(), "err", err)
		}
		return
	}
	remote, err := h.dial(ctx, req.host, req.port)
	if err != nil {
		k := Classify(err)
		h.fail(ev, k, fmt.Sprintf("SOCKS5 reply %d", k.SOCKSReply()), err)
		h.c.Write(socksReply(k.SOCKSReply()))
		h.linger()
		return
	}
	h.open(&ev)
	if _, err := h.c.Write(socksReply(socksSucceeded)); err != nil {
		remote.Close()
		return
	}
	h.relay(ctx, ev, remote)
}

func (h *handler) http(ctx context.Context) {
	req, err := readConnectRequest(h.br)
	ev := Event{Conn: h.id, Client: h.c.RemoteAddr(), Protocol: "http", Host: req.host, Port: req.port}
	if err != nil {
		var he *httpError
		if !errors.As(err, &he) {
			he = &httpError{status: 400, msg: err.Error()}
		}
		h.fail(ev, General, fmt.Sprintf("HTTP %d", he.status), err)
		h.c.Write(httpResponse(req.proto, he.status, he.allow, "ssmwire proxy: "+he.msg))
		h.linger()
		return
	}
	remote, err := h.dial(ctx, req.host, req.port)
	if err != nil {
		k := Classify(err)
		body := fmt.Sprintf("ssmwire proxy: cannot connect to %s (%s): %v", hostPort(req.host, req.port), k, err)
		h.fail(ev, k, fmt.Sprintf("HTTP %d", k.HTTPStatus()), err)
		h.c.Write(httpResponse(req.proto, k.HTTPStatus(), false, body))
		h.linger()
		return
	}
	h.open(&ev)
	if _, err := h.c.Write(httpResponse(req.proto, 200, false, "")); err != nil {
		remote.Close()
		return
	}
	h.relay(ctx, ev, remote)
}

// dial runs the dial function under DialTimeout. A dial that does not return in time is abandoned: the
// connection it may still return is closed.
func (h *handler) dial(ctx context.Context, host string, port int) (net.Conn, error) {
	h.c.SetDeadline(time.Time{}) // the dial has its own bound
	ctx, cancel := context.WithTimeoutCause(ctx, h.s.cfg.DialTimeout,
		fmt.Errorf("no connection to %s after %v: %w", hostPort(host, port), h.s.cfg.DialTimeout, context.DeadlineExceeded))
	defer cancel()
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := h.s.cfg.Dial(ctx, host, port)
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil && ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			return nil, context.Cause(ctx)
		}
		if r.err != nil {
			return nil, r.err
		}
		return r.c, nil
	case <-ctx.Done():
		go func() { // a dial function that ignores ctx: release what it returns
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, context.Cause(ctx)
	}
}

// fail reports a refused request, before the reply is sent (so that whoever reads the reply finds the
// event already reported).
func (h *handler) fail(ev Event, k Kind, reply string, err error) {
	ev.Type, ev.Kind, ev.Reply, ev.Err = EventFailed, k, reply, err
	h.s.log.Debug("proxy: request failed", "conn", ev.Conn, "client", ev.Client, "destination", ev.Destination(),
		"reply", reply, "err", err)
	h.emit(ev)
}

// open reports a tunnel up, before the success reply is sent.
func (h *handler) open(ev *Event) {
	ev.Type = EventOpen
	h.emit(*ev)
}

func (h *handler) emit(ev Event) {
	if cb := h.s.cfg.OnEvent; cb != nil {
		cb(ev)
	}
}

// linger lets the client read a refusal: it half-closes (when the connection can), reads what the client
// still sends for a moment, then returns; closing a TCP connection with unread input would reset it and
// could destroy the reply before the client reads it.
func (h *handler) linger() {
	if cw, ok := h.c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	h.c.SetReadDeadline(time.Now().Add(time.Second))
	h.lim.N = maxHeadBytes
	io.Copy(io.Discard, h.br)
}
