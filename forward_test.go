package ssmwire_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/internal/testkit/clientkit"
	"github.com/ssmwire/ssmwire/portforward"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// Checks shared with pool's tests (internal/testkit/clientkit).
var (
	closedPort = testkit.ClosedPort
	echo       = clientkit.Echo
	waitEnded  = clientkit.WaitEnded
)

// forwardEcho starts an emulator (opts), an echo server on the target and a tunnel to it (mux or basic mode,
// as the emulated agent's version allows) through a client of the emulator, after checkGoroutines. The test
// closes the tunnel; cleanup closes it too.
func forwardEcho(t *testing.T, opts *ssmtest.Options) (*ssmtest.Server, *ssmwire.Tunnel) {
	t.Helper()
	checkGoroutines(t)
	srv := newServer(t, opts)
	port := testkit.EchoServer(t)
	c := newClient(t, srv, nil)
	tun, err := c.Forward(testkit.Context(t), target, ssmwire.Remote{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tun.Close() })
	return srv, tun
}

func TestForwardManyConnections(t *testing.T) {
	srv, tun := forwardEcho(t, nil)
	ctx := testkit.Context(t)
	if doc := srv.Session(tun.SessionID()).DocumentName; doc != ssmwire.PortForwardingDocument {
		t.Errorf("document %q", doc)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := tun.Dial(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			msg := fmt.Sprintf("connection %d", i)
			io.WriteString(conn, msg)
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(conn, got); err != nil || string(got) != msg {
				errs <- fmt.Errorf("echo %q: got %q, %v", msg, got, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := tun.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := tun.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	waitEnded(t, srv, tun.SessionID())
	waitGoroutines(t, false)
}

func TestForwardRemoteHost(t *testing.T) {
	checkGoroutines(t)
	// The emulated VPC's 10.0.0.20 is where the echo server listens; a loopback host would be refused.
	srv := newServer(t, &ssmtest.Options{Hosts: map[string]string{"10.0.0.20": "127.0.0.1"}})
	port := testkit.EchoServer(t)
	c := newClient(t, srv, nil)

	conn, err := c.Dial(testkit.Context(t), target, ssmwire.Remote{Host: "10.0.0.20", Port: port})
	if err != nil {
		t.Fatal(err)
	}
	echo(t, conn, "through a remote host")
	ids := srv.SessionIDs()
	if len(ids) != 1 || srv.Session(ids[0]).DocumentName != ssmwire.PortForwardingRemoteHostDocument {
		t.Fatalf("sessions %v", ids)
	}
	if err := conn.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	waitEnded(t, srv, ids[0])
	waitGoroutines(t, false)
}

func TestDialOneSessionPerConnection(t *testing.T) {
	checkGoroutines(t)
	srv := newServer(t, nil)
	port := testkit.EchoServer(t)
	c := newClient(t, srv, nil)
	ctx := testkit.Context(t)

	a, err := c.Dial(ctx, target, ssmwire.Remote{Host: "localhost", Port: port})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Dial(ctx, target, ssmwire.Remote{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	echo(t, a, "a")
	echo(t, b, "b")
	ids := srv.SessionIDs()
	if len(ids) != 2 {
		t.Fatalf("%d sessions, want 2", len(ids))
	}
	a.Close()
	waitEnded(t, srv, ids[0])
	echo(t, b, "b still works")
	b.Close()
	waitEnded(t, srv, ids[1])
	waitGoroutines(t, false)
}

func TestForwardServe(t *testing.T) {
	checkGoroutines(t)
	srv := newServer(t, nil)
	port := testkit.EchoServer(t)
	c := newClient(t, srv, nil)
	ctx, cancel := context.WithCancel(testkit.Context(t))

	tun, err := c.Forward(ctx, target, ssmwire.Remote{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- tun.Serve(ctx, l) }()

	for i := range 3 {
		conn, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		echo(t, conn, fmt.Sprintf("local connection %d", i))
		conn.Close()
	}
	cancel()
	if err := <-served; !errors.Is(err, context.Canceled) {
		t.Errorf("Serve = %v, want context.Canceled", err)
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Error("listener still accepts after Serve returned")
	}
	tun.Close()
	waitGoroutines(t, false)
}

func TestConnectToPortError(t *testing.T) {
	checkGoroutines(t)
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)

	conn, err := c.Dial(testkit.Context(t), target, ssmwire.Remote{Port: closedPort(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "hello?")
	_, err = conn.Read(make([]byte, 10))
	var cpe *ssmwire.ConnectToPortError
	if !errors.As(err, &cpe) {
		t.Fatalf("Read = %v, want a ConnectToPortError", err)
	}
	t.Logf("Read: %v", err)
	conn.Close()
	waitGoroutines(t, false)
}

func TestForwardInvalidPort(t *testing.T) {
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	for _, p := range []int{0, -1, 65536} {
		if _, err := c.Forward(testkit.Context(t), target, ssmwire.Remote{Port: p}); err == nil {
			t.Errorf("port %d accepted", p)
		}
	}
	if n := len(srv.SessionIDs()); n != 0 {
		t.Errorf("%d sessions started", n)
	}
}

// TestForwardOldAgent runs a tunnel to an agent without multiplexing (basic mode): connections take turns.
func TestForwardOldAgent(t *testing.T) {
	srv, tun := forwardEcho(t, &ssmtest.Options{AgentVersion: "3.0.161.0"})
	ctx := testkit.Context(t)
	if m := tun.Forwarder().Mode(); m != portforward.ModeBasic {
		t.Fatalf("mode %v, want basic", m)
	}
	for i := range 3 {
		conn, err := tun.Dial(ctx)
		if err != nil {
			t.Fatal(err)
		}
		echo(t, conn, fmt.Sprintf("turn %d", i))
		conn.Close()
	}
	if err := tun.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	waitEnded(t, srv, tun.SessionID())
	waitGoroutines(t, false)
}

// TestTunnelEndedRemotely ends a tunnel's session from outside (TerminateSession by someone else): open
// connections fail, Done is closed, and Close still cleans up without an error.
func TestTunnelEndedRemotely(t *testing.T) {
	srv, tun := forwardEcho(t, nil)
	ctx := testkit.Context(t)
	conn, err := tun.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	echo(t, conn, "before")
	if _, err := ssm.NewFromConfig(srv.AWSConfig()).TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String(tun.SessionID())}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tun.Done():
	case <-ctx.Done():
		t.Fatal("tunnel still running after TerminateSession")
	}
	// The agent may close the stream (EOF) before the channel closes (ErrSessionEnded): both are a clean end.
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, portforward.ErrSessionEnded) && !errors.Is(err, io.EOF) {
		t.Errorf("Read = %v, want EOF or ErrSessionEnded", err)
	}
	if err := conn.Close(); err != nil {
		t.Errorf("conn.Close: %v", err)
	}
	if err := tun.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	waitGoroutines(t, false)
}

// TestForwardLoopbackIsTarget: every loopback spelling forwards to the target itself with
// AWS-StartPortForwardingSession and portNumber only; newer agents refuse loopback in …ToRemoteHost sessions.
func TestForwardLoopbackIsTarget(t *testing.T) {
	checkGoroutines(t)
	srv := newServer(t, nil)
	port := testkit.EchoServer(t)
	c := newClient(t, srv, nil)
	for _, host := range []string{"", "localhost", "LocalHost.", "127.0.0.1", "127.3.2.1", "::1", "[::1]"} {
		conn, err := c.Dial(testkit.Context(t), target, ssmwire.Remote{Host: host, Port: port})
		if err != nil {
			t.Fatalf("%q: %v", host, err)
		}
		echo(t, conn, "to the target itself")
		conn.Close()
	}
	for _, id := range srv.SessionIDs() {
		s := srv.Session(id)
		if s.DocumentName != ssmwire.PortForwardingDocument || s.Properties["host"] != nil ||
			s.Properties["portNumber"] != strconv.Itoa(port) {
			t.Errorf("session %s: document %s, properties %v", id, s.DocumentName, s.Properties)
		}
		waitEnded(t, srv, id)
	}
	waitGoroutines(t, false)
}

// TestForwardRemoteLoopbackRefused: ssmtest's agent refuses a loopback host in a …ToRemoteHost session the
// way agents from 2026 do, after the handshake, with the reason as the channel_closed Output.
func TestForwardRemoteLoopbackRefused(t *testing.T) {
	checkGoroutines(t)
	srv := newServer(t, nil)
	port := testkit.EchoServer(t)
	c := newClient(t, srv, nil)
	doc := ssmwire.PortForwardingRemoteHostDocument
	s, err := c.StartSession(testkit.Context(t), &ssm.StartSessionInput{Target: aws.String(target), DocumentName: &doc,
		Parameters: map[string][]string{"host": {"127.0.0.1"}, "portNumber": {strconv.Itoa(port)}}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-testkit.Context(t).Done():
		t.Fatal("the session did not end")
	}
	if out, ok := s.ChannelClosedOutput(); !ok || out != "Forwarding to IP address 127.0.0.1 is forbidden." {
		t.Fatalf("channel_closed Output %q, %v (Err %v)", out, ok, s.Err())
	}
	waitGoroutines(t, false)
}
