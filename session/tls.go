package session

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/websocket"
)

// Proxies that cut idle tunnels. Corporate proxies close CONNECT tunnels on which nothing moved for 30-60 s;
// the keepalive pings (Config.PingInterval, 54 s like the agent's) do not keep every such tunnel open. The
// session does not try to out-guess the proxy's timeout with more frequent pings: the cut is a dropped
// websocket like any other, the reader sees it at once (EOF from the proxy), and the session resumes with
// ResumeSession and a new dial through the proxy, carrying over its sequence numbers and unacknowledged
// messages, so nothing sent before or after the cut is lost (docs/protocol.md §7.4). This works whatever
// the proxy's timeout, costs nothing while the tunnel is up, and one API call per cut while the session
// idles; a ping interval short enough for every proxy would cost traffic on every session everywhere.
// Users who prefer to keep tunnels open set a shorter Config.PingInterval.

// Dialer opens data-channel websockets the way a user's network needs them (docs/protocol.md §3.6): over TLS
// for wss stream URLs with the roots the API calls trust, and through the HTTP proxy the environment names,
// as the AWS CLI and the SDK reach the APIs. The zero value dials with the system roots and
// http.ProxyFromEnvironment. A Dialer is safe for concurrent use and is not modified by Dial.
type Dialer struct {
	// TLSConfig is the TLS client configuration for wss stream URLs and https:// proxies: its RootCAs are the
	// certificate authorities trusted (nil: the system roots). Each dial uses a copy with ServerName set to
	// the host dialled (SNI), NextProtos http/1.1 (a websocket upgrade is HTTP/1.1) and MinVersion at least
	// TLS 1.2. Nil: a default configuration.
	TLSConfig *tls.Config
	// Proxy returns the proxy for a request, with http.Transport.Proxy's contract: the request's URL is the
	// stream URL with scheme https (wss) or http (ws). A nil URL means no proxy. Nil Proxy means
	// http.ProxyFromEnvironment: HTTPS_PROXY/https_proxy, HTTP_PROXY/http_proxy and NO_PROXY/no_proxy, which
	// never proxies localhost or loopback addresses. Proxy URLs may be http:// or https://; user information
	// in them is sent as Basic Proxy-Authorization on CONNECT.
	Proxy func(*http.Request) (*url.URL, error)
	// HandshakeTimeout bounds the whole dial: TCP, proxy CONNECT, TLS and the websocket upgrade.
	// Default [DefaultDialTimeout].
	HandshakeTimeout time.Duration
}

// NoProxy is a Proxy function for [Dialer] and [Config] that never uses a proxy.
func NoProxy(*http.Request) (*url.URL, error) { return nil, nil }

// Dial dials url verbatim: no subprotocol, header (the upgrade's SigV4 signature, or nil) on the upgrade
// request. Frames larger than protocol.MaxMessageSize are refused. An upgrade the service answers with an HTTP
// status (403 for a refused signature) fails with an [*UpgradeError], a certificate the TLS configuration does
// not trust with a [*CertificateError], and a proxy that cannot be reached or refuses the tunnel with a
// [*ProxyError].
func (d *Dialer) Dial(ctx context.Context, rawURL string, header http.Header) (Transport, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("session: dial data channel: %w", err)
	}
	var cc *corkConn
	var gate *handshakeGate
	useTLS := false
	dialNet := func(ctx context.Context, _, addr string) (net.Conn, error) {
		c, err := d.connect(ctx, u, addr)
		if err != nil {
			return nil, err
		}
		cc = &corkConn{Conn: c}
		return cc, nil
	}
	timeout := d.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	wd := websocket.Dialer{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialNet(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			gate = newHandshakeGate(c)
			return gate, nil
		},
		// The TLS handshake is done here, not by gorilla, so that a certificate error can be told apart.
		NetDialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialNet(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			tc, err := d.handshake(ctx, c, u.Hostname())
			if err != nil {
				return nil, err
			}
			gate, useTLS = newHandshakeGate(tc), true
			return gate, nil
		},
		HandshakeTimeout: timeout,
		ReadBufferSize:   gorillaReadBuffer,
		WriteBufferPool:  &noWriteBuffers,
	}
	c, resp, err := wd.DialContext(ctx, rawURL, header)
	if err != nil {
		if resp != nil {
			return nil, &UpgradeError{StatusCode: resp.StatusCode, Status: resp.Status, Err: err}
		}
		var ce *CertificateError
		var pe *ProxyError
		if errors.As(err, &ce) || errors.As(err, &pe) {
			return nil, err
		}
		return nil, fmt.Errorf("session: dial data channel: %w", err)
	}
	if !gate.ended {
		// Gorilla took a response for a 101 that the gate did not: it may have read frames ahead.
		c.Close()
		return nil, fmt.Errorf("session: dial data channel: malformed upgrade response")
	}
	gate.takeOver()
	// Gorilla's Conn has done its part: the transport keeps only the connection below it.
	t := &wsTransport{nc: gate, r: newFrameReader(gate)}
	if useTLS {
		// Gather the TLS records of a batch into one system call. A plain websocket needs no cork: a batch's
		// frames are written in one call already.
		t.cork = cc
	}
	return t, nil
}

// tlsConfig returns the configuration of one TLS handshake with host.
func (d *Dialer) tlsConfig(host string) *tls.Config {
	var cfg *tls.Config
	if d.TLSConfig != nil {
		cfg = d.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	cfg.ServerName = host
	// The SDK's transport may have added h2 to a shared configuration; an upgrade is HTTP/1.1 only.
	cfg.NextProtos = []string{"http/1.1"}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// handshake runs a TLS client handshake over c with host, closing c on failure.
func (d *Dialer) handshake(ctx context.Context, c net.Conn, host string) (net.Conn, error) {
	tc := tls.Client(c, d.tlsConfig(host))
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		if ce := certificateError(host, err); ce != nil {
			return nil, ce
		}
		return nil, fmt.Errorf("session: TLS handshake with %s: %w", host, err)
	}
	return tc, nil
}

// connect opens a TCP connection to addr, through the proxy Proxy names for u when there is one.
func (d *Dialer) connect(ctx context.Context, u *url.URL, addr string) (net.Conn, error) {
	proxy := d.Proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	pu := *u
	switch u.Scheme {
	case "wss":
		pu.Scheme = "https"
	case "ws":
		pu.Scheme = "http"
	}
	pu.Host = addr
	proxyURL, err := proxy(&http.Request{Method: http.MethodGet, URL: &pu, Host: addr, Header: http.Header{}})
	if err != nil {
		return nil, fmt.Errorf("session: data channel proxy: %w", err)
	}
	var nd net.Dialer
	if proxyURL == nil {
		return nd.DialContext(ctx, "tcp", addr)
	}
	return d.connectVia(ctx, proxyURL, addr)
}

// connectVia opens a tunnel to addr through an HTTP proxy with CONNECT.
func (d *Dialer) connectVia(ctx context.Context, proxyURL *url.URL, addr string) (net.Conn, error) {
	perr := &ProxyError{Proxy: proxyURL.Host, Target: addr, HadCredentials: proxyURL.User != nil}
	port := proxyURL.Port()
	switch proxyURL.Scheme {
	case "http", "":
		if port == "" {
			port = "80"
		}
	case "https":
		if port == "" {
			port = "443"
		}
	default:
		perr.Err = fmt.Errorf("unsupported proxy scheme %q (http or https)", proxyURL.Scheme)
		return nil, perr
	}
	perr.Proxy = net.JoinHostPort(proxyURL.Hostname(), port)
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", perr.Proxy)
	if err != nil {
		perr.Err = err
		return nil, perr
	}
	if proxyURL.Scheme == "https" {
		tc := tls.Client(c, d.tlsConfig(proxyURL.Hostname()))
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			if ce := certificateError(proxyURL.Hostname(), err); ce != nil {
				ce.Proxy = true
				return nil, ce
			}
			perr.Err = err
			return nil, perr
		}
		c = tc
	}
	// The exchange below honours ctx: a proxy that accepts and never answers does not hang the dial.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	req := &http.Request{
		Method: http.MethodConnect,
		URL:    &url.URL{Opaque: addr},
		Host:   addr,
		Header: http.Header{},
	}
	if ui := proxyURL.User; ui != nil {
		pass, _ := ui.Password()
		req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(ui.Username()+":"+pass)))
	}
	if err := req.Write(c); err != nil {
		c.Close()
		perr.Err = contextErr(ctx, err)
		return nil, perr
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		c.Close()
		perr.Err = contextErr(ctx, err)
		return nil, perr
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		c.Close()
		perr.StatusCode, perr.Status = resp.StatusCode, resp.Status
		return nil, perr
	}
	if br.Buffered() > 0 {
		// Bytes after the proxy's answer belong to the tunnel (none are expected before the client speaks).
		return &bufferedConn{Conn: c, r: br}, nil
	}
	return c, nil
}

// contextErr prefers ctx's error to the I/O error its deadline caused.
func contextErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// bufferedConn is a connection whose first bytes were read ahead into r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
