package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
)

// echoServer accepts on 127.0.0.1 and echoes each connection, prefixed with "echo:" once. It returns its
// address.
func echoServer(t *testing.T) string {
	t.Helper()
	port := testkit.Serve(t, func(c net.Conn) {
		io.WriteString(c, "echo:")
		io.Copy(c, c)
	})
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// startProxy serves a proxy with dial on 127.0.0.1 and returns its address and the events it reported.
func startProxy(t *testing.T, cfg Config) (string, *eventLog) {
	t.Helper()
	evs := &eventLog{}
	cfg.OnEvent = evs.add
	s, err := New(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Serve = %v, want context.Canceled", err)
		}
	})
	return l.Addr().String(), evs
}

// eventLog collects events.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
	ch  chan struct{}
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, e)
	if l.ch != nil {
		close(l.ch)
		l.ch = nil
	}
}

// wait returns the first event of type typ, waiting for it.
func (l *eventLog) wait(t *testing.T, typ EventType) Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		for _, e := range l.evs {
			if e.Type == typ {
				l.mu.Unlock()
				return e
			}
		}
		if l.ch == nil {
			l.ch = make(chan struct{})
		}
		ch := l.ch
		l.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("no %v event", typ)
		}
	}
}

// netDial dials with net.Dialer, remembering what it was asked for.
type netDial struct {
	mu    sync.Mutex
	asked []string
}

func (d *netDial) dial(ctx context.Context, host string, port int) (net.Conn, error) {
	d.mu.Lock()
	d.asked = append(d.asked, hostPort(host, port))
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", hostPort(host, port))
}

func TestSOCKS5Tunnel(t *testing.T) {
	echo := echoServer(t)
	host, port, _ := net.SplitHostPort(echo)
	var d netDial
	addr, evs := startProxy(t, Config{Dial: d.dial})
	for _, h := range []string{host, "localhost"} {
		c := testkit.Dial(t, addr)
		var p int
		fmt.Sscan(port, &p)
		if rep := testkit.SOCKS5Connect(t, c, h, p); rep != 0 {
			t.Fatalf("reply %d", rep)
		}
		io.WriteString(c, "hello")
		buf := make([]byte, len("echo:hello"))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "echo:hello" {
			t.Fatalf("read %q, %v", buf, err)
		}
		c.Close()
	}
	d.mu.Lock()
	asked := strings.Join(d.asked, " ")
	d.mu.Unlock()
	if want := echo + " " + hostPort("localhost", mustAtoi(port)); asked != want {
		t.Errorf("dialled %q, want %q (domain names passed on unresolved)", asked, want)
	}
	open := evs.wait(t, EventOpen)
	if open.Protocol != "socks5" || open.Destination() != echo || open.Conn != 1 {
		t.Errorf("open event %+v", open)
	}
	closed := evs.wait(t, EventClosed)
	if closed.BytesUp != 5 || closed.BytesDown != 10 {
		t.Errorf("closed event counts %d up %d down, want 5 and 10", closed.BytesUp, closed.BytesDown)
	}
}

func mustAtoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

func TestHTTPConnectTunnel(t *testing.T) {
	echo := echoServer(t)
	var d netDial
	addr, evs := startProxy(t, Config{Dial: d.dial})
	c := testkit.Dial(t, addr)
	resp, br := testkit.HTTPConnect(t, c, echo)
	if resp.StatusCode != 200 {
		t.Fatalf("status %s", resp.Status)
	}
	io.WriteString(c, "hi")
	buf := make([]byte, len("echo:hi"))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "echo:hi" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if e := evs.wait(t, EventOpen); e.Protocol != "http" || e.Destination() != echo {
		t.Errorf("open event %+v", e)
	}
}

// TestPipelinedBytes: bytes sent right behind the request reach the destination first.
func TestPipelinedBytes(t *testing.T) {
	echo := echoServer(t)
	var d netDial
	addr, _ := startProxy(t, Config{Dial: d.dial})
	c := testkit.Dial(t, addr)
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\n\r\nearly", echo)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("response %v, %v", resp, err)
	}
	buf := make([]byte, len("echo:early"))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "echo:early" {
		t.Fatalf("read %q, %v", buf, err)
	}
}

// TestDispatch: the first byte picks the protocol, and everything that is not a CONNECT gets a proper
// refusal.
func TestDispatch(t *testing.T) {
	dialled := make(chan string, 10)
	dial := func(ctx context.Context, host string, port int) (net.Conn, error) {
		dialled <- hostPort(host, port)
		return nil, errors.New("not in this test")
	}
	addr, _ := startProxy(t, Config{Dial: dial})
	t.Run("SOCKS4", func(t *testing.T) {
		c := testkit.Dial(t, addr)
		c.Write([]byte{4, 1, 0, 80, 10, 0, 0, 5, 'u', 0})
		got, _ := io.ReadAll(c)
		if want := []byte{0, 91, 0, 0, 0, 0, 0, 0}; string(got) != string(want) {
			t.Fatalf("SOCKS4 reply %v, want %v", got, want)
		}
	})
	t.Run("SOCKS5 username/password only", func(t *testing.T) {
		c := testkit.Dial(t, addr)
		c.Write([]byte{5, 1, 2})
		got, _ := io.ReadAll(c)
		if want := []byte{5, 0xFF}; string(got) != string(want) {
			t.Fatalf("method selection %v, want %v", got, want)
		}
	})
	for _, cmd := range []byte{socksCmdBind, socksCmdUDP} {
		t.Run(socksCommandName(cmd), func(t *testing.T) {
			c := testkit.Dial(t, addr)
			c.Write([]byte{5, 1, 0, 5, cmd, 0, 1, 10, 0, 0, 5, 0, 80})
			got, _ := io.ReadAll(c)
			if want := []byte{5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0}; string(got) != string(want) {
				t.Fatalf("replies %v, want %v", got, want)
			}
		})
	}
	t.Run("SOCKS5 address type 9", func(t *testing.T) {
		c := testkit.Dial(t, addr)
		c.Write([]byte{5, 1, 0, 5, 1, 0, 9, 0, 80})
		got, _ := io.ReadAll(c)
		if want := []byte{5, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0}; string(got) != string(want) {
			t.Fatalf("replies %v, want %v", got, want)
		}
	})
	t.Run("GET", func(t *testing.T) {
		c := testkit.Dial(t, addr)
		io.WriteString(c, "GET http://db.internal/ HTTP/1.1\r\nHost: db.internal\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "CONNECT" || !strings.Contains(string(body), "only tunnels with CONNECT") {
			t.Fatalf("GET: %s, Allow %q, body %q", resp.Status, resp.Header.Get("Allow"), body)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		c := testkit.Dial(t, addr)
		c.Write([]byte{0x16, 3, 1, 0, 5})
		if got, _ := io.ReadAll(c); len(got) != 0 {
			t.Fatalf("answered %q", got)
		}
	})
	select {
	case d := <-dialled:
		t.Errorf("dialled %s for a refused request", d)
	default:
	}
}

// TestFailureReplies: each class of dial error gets its SOCKS5 reply and HTTP status, and is reported.
func TestFailureReplies(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		socks  byte
		status int
		kind   Kind
	}{
		{"forbidden", fmt.Errorf("session closed: %w", ErrForbidden), 2, 403, Forbidden},
		{"refused", fmt.Errorf("agent: %w", ErrRefused), 5, 502, Refused},
		{"unreachable", fmt.Errorf("agent: %w", ErrUnreachable), 4, 502, HostUnreachable},
		{"ECONNREFUSED", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, 5, 502, Refused},
		{"ENETUNREACH", &net.OpError{Op: "dial", Err: syscall.ENETUNREACH}, 3, 502, NetUnreachable},
		{"EHOSTUNREACH", &net.OpError{Op: "dial", Err: syscall.EHOSTUNREACH}, 4, 502, HostUnreachable},
		{"no such host", &net.DNSError{Err: "no such host", Name: "x.internal", IsNotFound: true}, 4, 502, HostUnreachable},
		{"timeout", fmt.Errorf("start session: %w", context.DeadlineExceeded), 4, 504, Timeout},
		{"other", errors.New("TargetNotConnected"), 1, 502, General},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dial := func(ctx context.Context, host string, port int) (net.Conn, error) { return nil, tt.err }
			addr, evs := startProxy(t, Config{Dial: dial})
			c := testkit.Dial(t, addr)
			if rep := testkit.SOCKS5Connect(t, c, "db.internal", 5432); rep != tt.socks {
				t.Errorf("SOCKS5 reply %d, want %d", rep, tt.socks)
			}
			e := evs.wait(t, EventFailed)
			if e.Kind != tt.kind || !errors.Is(e.Err, tt.err) || e.Reply != fmt.Sprintf("SOCKS5 reply %d", tt.socks) {
				t.Errorf("event %+v", e)
			}
			c = testkit.Dial(t, addr)
			resp, _ := testkit.HTTPConnect(t, c, "db.internal:5432")
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.err.Error()) {
				t.Errorf("HTTP %s, body %q; want %d with the reason", resp.Status, body, tt.status)
			}
		})
	}
}

// TestDialTimeout: a dial that never returns gets reply 4 / 504 after DialTimeout, not a hang.
func TestDialTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		dial := func(ctx context.Context, host string, port int) (net.Conn, error) {
			<-release // ignores ctx on purpose
			return nil, errors.New("too late")
		}
		s, err := New(&Config{Dial: dial, DialTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, proto := range []string{"socks5", "http"} {
			client, server := net.Pipe()
			go s.ServeConn(context.Background(), server)
			start := time.Now()
			if proto == "socks5" {
				if rep := testkit.SOCKS5Connect(t, client, "10.0.0.9", 5432); rep != 4 {
					t.Errorf("SOCKS5 reply %d, want 4", rep)
				}
			} else {
				resp, _ := testkit.HTTPConnect(t, client, "10.0.0.9:5432")
				if resp.StatusCode != 504 {
					t.Errorf("HTTP %s, want 504", resp.Status)
				}
			}
			if d := time.Since(start); d != 5*time.Second {
				t.Errorf("%s reply after %v, want the 5s DialTimeout", proto, d)
			}
			client.Close()
			synctest.Wait()
		}
	})
}

// TestHandshakeTimeout: a client that never completes its request is dropped.
func TestHandshakeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := New(&Config{Dial: func(context.Context, string, int) (net.Conn, error) { return nil, errors.New("no") },
			HandshakeTimeout: 3 * time.Second})
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			s.ServeConn(context.Background(), server)
			close(done)
		}()
		start := time.Now()
		client.Write([]byte{5, 1}) // half a greeting
		<-done
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("dropped after %v, want 3s", d)
		}
		client.Close()
	})
}

// TestServeStops: cancelling Serve's context closes tunnels in progress and returns.
func TestServeStops(t *testing.T) {
	echo := echoServer(t)
	var d netDial
	s, _ := New(&Config{Dial: d.dial})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	c := testkit.Dial(t, l.Addr().String())
	resp, br := testkit.HTTPConnect(t, c, echo)
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve = %v", err)
	}
	if _, err := br.ReadByte(); err == nil {
		// "echo:" may still be in flight; after it, the tunnel must end.
		if _, err := io.ReadAll(br); err != nil {
			t.Fatalf("tunnel after Serve returned: %v", err)
		}
	}
}

func TestNewNeedsDial(t *testing.T) {
	if _, err := New(nil); !errors.Is(err, ErrNoDial) {
		t.Errorf("New(nil) = %v", err)
	}
	if _, err := New(&Config{}); !errors.Is(err, ErrNoDial) {
		t.Errorf("New(no Dial) = %v", err)
	}
}

func TestKindStrings(t *testing.T) {
	for k := General; k <= Timeout; k++ {
		if k.String() == "unknown" {
			t.Errorf("Kind %d has no name", k)
		}
	}
	if Kind(99).String() != "unknown" || Kind(99).SOCKSReply() != 1 || Kind(99).HTTPStatus() != 502 {
		t.Errorf("unknown kind maps wrongly")
	}
}
