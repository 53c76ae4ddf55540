package pool_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/pool"
	"github.com/ssmwire/ssmwire/proxy"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// denySSM refuses StartSession for one host parameter, as an IAM policy limiting ssm:StartSession does.
type denySSM struct {
	ssmwire.SSMAPI
	host string
}

func (d denySSM) StartSession(ctx context.Context, in *ssm.StartSessionInput, opts ...func(*ssm.Options)) (*ssm.StartSessionOutput, error) {
	if slices.Contains(in.Parameters["host"], d.host) {
		return nil, &smithy.GenericAPIError{Code: "AccessDeniedException",
			Message: "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: ssm:StartSession"}
	}
	return d.SSMAPI.StartSession(ctx, in, opts...)
}

// bannerServer greets each connection with "hello\n" (so a proxy learns at once that it connected) and
// then echoes. It returns the port.
func bannerServer(t *testing.T) int {
	return testkit.Serve(t, func(c net.Conn) {
		io.WriteString(c, "hello\n")
		io.Copy(c, c)
	})
}

// proxyEvents collects a proxy's events.
type proxyEvents struct{ recorder[proxy.Event] }

func (p *proxyEvents) failures() []proxy.Event {
	var out []proxy.Event
	for _, e := range p.all() {
		if e.Type == proxy.EventFailed {
			out = append(out, e)
		}
	}
	return out
}

// serveProxy serves a proxy with cfg on 127.0.0.1 and returns its address and stop, which ends Serve and
// waits for it to return.
func serveProxy(t *testing.T, cfg *proxy.Config) (addr string, stop func()) {
	t.Helper()
	ps, err := proxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ps.Serve(ctx, l) }()
	return l.Addr().String(), func() {
		cancel()
		<-served
	}
}

// TestProxyThroughTarget drives the SOCKS5 and HTTP CONNECT proxy served over a Dialer on ssmtest: names
// resolved by the target, one session per destination shared by its connections, loopback destinations
// through AWS-StartPortForwardingSession, and every kind of failure answered with its reply.
func TestProxyThroughTarget(t *testing.T) {
	checkGoroutines(t)
	srv := newServerWithHosts(t, map[string]string{"db.internal": "127.0.0.1", "secret.internal": "127.0.0.1", "fd00::5": "127.0.0.1"})
	c := newClient(t, srv, func(cfg *ssmwire.Config) { cfg.SSM = denySSM{SSMAPI: cfg.SSM, host: "secret.internal"} })
	d := pool.NewDialer(c, target, &pool.DialerConfig{ConfirmWait: testkit.Timeout / 3})
	evs := &proxyEvents{}
	addr, stop := serveProxy(t, &proxy.Config{Dial: d.Dial, OnEvent: evs.add})
	defer func() {
		stop()
		d.Close()
		waitGoroutines(t, false)
	}()
	port := bannerServer(t)

	// Two connections to a name only the target knows: one session, ToRemoteHost with the name.
	for i := range 2 {
		conn := testkit.Dial(t, addr)
		if rep := testkit.SOCKS5Connect(t, conn, "db.internal", port); rep != 0 {
			t.Fatalf("SOCKS5 to db.internal: reply %d (%v)", rep, evs.failures())
		}
		expectBanner(t, conn, fmt.Sprintf("connection %d", i))
		conn.Close()
	}
	// An IPv6 address of the target's VPC, in the SOCKS5 request's IPv6 form.
	conn := testkit.Dial(t, addr)
	if rep := testkit.SOCKS5Connect(t, conn, "fd00::5", port); rep != 0 {
		t.Fatalf("SOCKS5 to fd00::5: reply %d (%v)", rep, evs.failures())
	}
	expectBanner(t, conn, "fd00::5")
	conn.Close()
	// A loopback address and the HTTP side.
	conn = testkit.Dial(t, addr)
	if rep := testkit.SOCKS5Connect(t, conn, "127.0.0.1", port); rep != 0 {
		t.Fatalf("SOCKS5 to 127.0.0.1: reply %d (%v)", rep, evs.failures())
	}
	expectBanner(t, conn, "127.0.0.1")
	conn.Close()
	conn = testkit.Dial(t, addr)
	resp, br := testkit.HTTPConnect(t, conn, net.JoinHostPort("db.internal", strconv.Itoa(port)))
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT db.internal: %s", resp.Status)
	}
	expectBanner(t, struct {
		io.Reader
		io.Writer
	}{br, conn}, "CONNECT")
	conn.Close()

	var remote, local int
	for _, id := range srv.SessionIDs() {
		s := srv.Session(id)
		switch {
		case s.DocumentName == ssmwire.PortForwardingRemoteHostDocument && s.Properties["host"] == "db.internal":
			remote++
		case s.DocumentName == ssmwire.PortForwardingRemoteHostDocument && s.Properties["host"] == "fd00::5":
		case s.DocumentName == ssmwire.PortForwardingDocument && s.Properties["host"] == nil:
			local++
		default:
			t.Errorf("unexpected session %s: %s %v", id, s.DocumentName, s.Properties)
		}
	}
	if remote != 1 || local != 1 {
		t.Errorf("%d sessions to db.internal and %d to the target itself, want 1 and 1", remote, local)
	}

	// Failures, each with its SOCKS5 reply and HTTP status.
	closed := closedPort(t)
	tests := []struct {
		name   string
		host   string
		port   int
		socks  byte
		status int
		reason string
	}{
		{"refused", "db.internal", closed, 5, 502, "could not connect"},
		{"forbidden by the agent", "169.254.169.254", 80, 2, 403, "is forbidden"},
		{"denied by IAM", "secret.internal", port, 2, 403, "AccessDeniedException"},
	}
	for _, tt := range tests {
		conn := testkit.Dial(t, addr)
		if rep := testkit.SOCKS5Connect(t, conn, tt.host, tt.port); rep != tt.socks {
			t.Errorf("%s: SOCKS5 reply %d, want %d", tt.name, rep, tt.socks)
		}
		conn.Close()
		conn = testkit.Dial(t, addr)
		resp, _ := testkit.HTTPConnect(t, conn, net.JoinHostPort(tt.host, strconv.Itoa(tt.port)))
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.reason) {
			t.Errorf("%s: HTTP %s %q, want %d saying %q", tt.name, resp.Status, body, tt.status, tt.reason)
		}
		conn.Close()
	}
	fails := evs.failures()
	if len(fails) != 2*len(tests) {
		t.Fatalf("%d failure events, want %d: %v", len(fails), 2*len(tests), fails)
	}
	for i, e := range fails {
		if tt := tests[i/2]; !strings.Contains(e.Err.Error(), tt.reason) || e.Host != tt.host {
			t.Errorf("failure event %d: %s %v, want %s saying %q", i, e.Destination(), e.Err, tt.host, tt.reason)
		}
	}
}

func newServerWithHosts(t *testing.T, hosts map[string]string) *ssmtest.Server {
	return newServer(t, &ssmtest.Options{Hosts: hosts})
}

func expectBanner(t *testing.T, c io.ReadWriter, what string) {
	t.Helper()
	br := bufio.NewReader(c)
	if line, err := br.ReadString('\n'); line != "hello\n" {
		t.Fatalf("%s: banner %q, %v", what, line, err)
	}
	io.WriteString(c, "ping\n")
	if line, err := br.ReadString('\n'); line != "ping\n" {
		t.Fatalf("%s: echo %q, %v", what, line, err)
	}
}

// TestDialerPool: with DialerConfig.Pool each destination gets a pool: busy connections spread over up to
// MaxSessions sessions, reported as session events, and a refused destination is still forbidden.
func TestDialerPool(t *testing.T) {
	checkGoroutines(t)
	srv := newServerWithHosts(t, map[string]string{"db.internal": "127.0.0.1"})
	c := newClient(t, srv, nil)
	var mu sync.Mutex
	var started []string
	d := pool.NewDialer(c, target, &pool.DialerConfig{Pool: &pool.Config{MaxSessions: 2},
		OnSession: func(e pool.SessionEvent) {
			mu.Lock()
			defer mu.Unlock()
			if !e.Ended && e.Remote.Host == "db.internal" {
				started = append(started, e.SessionID)
			}
		}})
	port := bannerServer(t)
	var conns []net.Conn
	for i := range 3 {
		conn, err := d.Dial(testkit.Context(t), "db.internal", port)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(testkit.Timeout))
		expectBanner(t, conn, fmt.Sprint("pooled connection ", i))
		conns = append(conns, conn)
	}
	mu.Lock()
	n := len(started)
	mu.Unlock()
	if n != 2 || len(srv.SessionIDs()) != 2 {
		t.Errorf("%d sessions reported, %d on the server, for three busy connections with MaxSessions 2", n, len(srv.SessionIDs()))
	}
	for _, conn := range conns {
		conn.Close()
	}
	if _, err := d.Dial(testkit.Context(t), "169.254.169.254", 80); !errors.Is(err, proxy.ErrForbidden) {
		t.Errorf("pooled dial to the metadata service = %v, want ErrForbidden", err)
	}
	d.Close()
	waitGoroutines(t, false)
}

// stallSSM never answers StartSession for one host parameter, as a service that does not respond.
type stallSSM struct {
	ssmwire.SSMAPI
	host string
}

func (s stallSSM) StartSession(ctx context.Context, in *ssm.StartSessionInput, opts ...func(*ssm.Options)) (*ssm.StartSessionOutput, error) {
	if slices.Contains(in.Parameters["host"], s.host) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.SSMAPI.StartSession(ctx, in, opts...)
}

// TestProxyDialTimeout: a session that cannot be started in time is SOCKS5 reply 4 and HTTP 504, not a hang;
// the start still in progress ends with the Dialer.
func TestProxyDialTimeout(t *testing.T) {
	checkGoroutines(t)
	srv := newServerWithHosts(t, map[string]string{"slow.internal": "127.0.0.1"})
	c := newClient(t, srv, func(cfg *ssmwire.Config) { cfg.SSM = stallSSM{SSMAPI: cfg.SSM, host: "slow.internal"} })
	d := pool.NewDialer(c, target, nil)
	addr, stop := serveProxy(t, &proxy.Config{Dial: d.Dial, DialTimeout: 500 * time.Millisecond})
	conn := testkit.Dial(t, addr)
	if rep := testkit.SOCKS5Connect(t, conn, "slow.internal", 5432); rep != 4 {
		t.Errorf("SOCKS5 reply %d, want 4", rep)
	}
	conn = testkit.Dial(t, addr)
	resp, _ := testkit.HTTPConnect(t, conn, "slow.internal:5432")
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 504 || !strings.Contains(string(body), "no connection to slow.internal:5432 after 500ms") {
		t.Errorf("HTTP %s %q, want 504 saying why", resp.Status, body)
	}
	stop()
	d.Close()
	waitGoroutines(t, false)
}

// TestProxyOldAgent: agents up to 3.0.196.0 forward one connection per session (basic mode) and dial the
// destination when the session starts; a refused destination ends the session with the dial's error, which
// is still SOCKS5 reply 5.
func TestProxyOldAgent(t *testing.T) {
	checkGoroutines(t)
	srv := newServer(t, &ssmtest.Options{AgentVersion: "3.0.196.0", Hosts: map[string]string{"db.internal": "127.0.0.1"}})
	c := newClient(t, srv, nil)
	d := pool.NewDialer(c, target, nil)
	addr, stop := serveProxy(t, &proxy.Config{Dial: d.Dial})
	port := bannerServer(t)
	for i := range 2 {
		conn := testkit.Dial(t, addr)
		if rep := testkit.SOCKS5Connect(t, conn, "db.internal", port); rep != 0 {
			t.Fatalf("SOCKS5 reply %d", rep)
		}
		expectBanner(t, conn, fmt.Sprint("basic connection ", i))
		conn.Close()
	}
	conn := testkit.Dial(t, addr)
	if rep := testkit.SOCKS5Connect(t, conn, "db.internal", closedPort(t)); rep != 5 {
		t.Errorf("SOCKS5 reply %d for a closed port, want 5", rep)
	}
	stop()
	d.Close()
	waitGoroutines(t, false)
}
