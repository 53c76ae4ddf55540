package portforward_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/portforward"
	"github.com/ssmwire/ssmwire/ssmtest"
)

const oldAgent = "3.0.100.0" // before mux (3.0.196.0), after the TerminateSession flag (2.3.722.0)

func TestBasicSequentialConnections(t *testing.T) {
	testkit.CheckGoroutines(t, nil)
	srv := newServer(t, &ssmtest.Options{AgentVersion: oldAgent})
	echo := newEchoServer(t)
	f, _ := newForwarder(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {echo.port}}, nil)
	if f.Mode() != portforward.ModeBasic {
		t.Fatalf("mode %v with agent %s, want basic", f.Mode(), oldAgent)
	}
	wait(t, echo.accepts, "the agent's first destination connection") // a basic agent dials at start
	addr, _ := serve(t, f)

	for i := range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := echoCheck(c, 512<<10); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		c.Close()
		// The local client left: Serve sends Flag DisconnectToPort and the agent closes its destination
		// connection. Only that flag closes it; the echo server never closes first.
		wait(t, echo.closes, "the agent to drop the destination connection after DisconnectToPort")
		if i == 0 {
			select {
			case <-echo.accepts:
				t.Fatal("the agent redialled before the next client sent data")
			default:
			}
		}
		if i == 1 {
			wait(t, echo.accepts, "the agent to redial for the second connection")
		}
	}
}

func TestBasicOutputWaitsForAConnection(t *testing.T) {
	testkit.CheckGoroutines(t, nil)
	srv := newServer(t, &ssmtest.Options{AgentVersion: oldAgent})
	// A destination that greets first: the basic agent dials it at session start, before any local client.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	served := make(chan struct{})
	conns := make(chan net.Conn, 1)
	go func() {
		defer close(served)
		c, err := l.Accept()
		if err != nil {
			return
		}
		conns <- c
		c.Write([]byte("hello\n"))
		io.Copy(c, c)
	}()
	t.Cleanup(func() {
		l.Close()
		select {
		case c := <-conns:
			c.Close()
		default:
		}
		<-served
	})
	port := l.Addr().(*net.TCPAddr).Port
	f, _ := newForwarder(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {strconv.Itoa(port)}}, nil)
	c, err := f.Dial(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "hello\n" {
		t.Fatalf("first connection read %q, %v; want the greeting sent before it existed", line, err)
	}
}

func TestBasicDialOneAtATime(t *testing.T) {
	testkit.CheckGoroutines(t, nil)
	srv := newServer(t, &ssmtest.Options{AgentVersion: oldAgent})
	echo := newEchoServer(t)
	f, _ := newForwarder(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {echo.port}}, nil)
	c1, err := f.Dial(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := f.Dial(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Dial while the first is open: %v, want context.DeadlineExceeded", err)
	}
	second := make(chan error, 1)
	go func() {
		c, err := f.Dial(testkit.Context(t))
		if err == nil {
			err = echoCheck(c, 1000)
			c.Close()
		}
		second <- err
	}()
	if err := echoCheck(c1, 1000); err != nil {
		t.Fatal(err)
	}
	c1.Close()
	select {
	case err := <-second:
		if err != nil {
			t.Fatalf("second connection: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiting Dial did not get the session after the first connection closed")
	}
}

func TestStreamMode(t *testing.T) {
	testkit.CheckGoroutines(t, nil)
	srv := newServer(t, nil)
	echo := newEchoServer(t)
	f, s := newForwarder(t, srv, ssmtest.DocSSH, map[string][]string{"portNumber": {echo.port}}, nil)
	if f.Mode() != portforward.ModeStream {
		t.Fatalf("mode %v, want stream", f.Mode())
	}
	c, err := f.Dial(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := echoCheck(c, 1<<20); err != nil {
		t.Fatal(err)
	}
	if got := c.RemoteAddr().String(); got != "localhost:"+echo.port {
		t.Errorf("RemoteAddr %q", got)
	}
	if got := c.LocalAddr().String(); got != s.ID() {
		t.Errorf("LocalAddr %q", got)
	}
	c.Close()
	// Closing a stream-mode connection sends nothing: the destination connection stays up and a new
	// Dial continues the same byte stream.
	c, err = f.Dial(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := echoCheck(c, 1000); err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case <-echo.closes:
		t.Fatal("the destination connection closed")
	default:
	}
	// Close sends TerminateSession (agent newer than 2.3.722.0): the agent ends the session.
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the session did not end after Close")
	}
}

func TestCloseWithoutTerminateFlagOnOldAgent(t *testing.T) {
	testkit.CheckGoroutines(t, nil)
	srv := newServer(t, &ssmtest.Options{AgentVersion: "2.3.700.0"})
	echo := newEchoServer(t)
	f, s := newForwarder(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {echo.port}}, nil)
	if f.Mode() != portforward.ModeBasic {
		t.Fatalf("mode %v", f.Mode())
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// Had Close sent Flag TerminateSession, the agent would have ended the session before handling the data
	// sent next (messages are processed in order); instead a new Forwarder still echoes.
	g, err := portforward.New(testkit.Context(t), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := g.Dial(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := echoCheck(c, 1000); err != nil {
		t.Fatalf("session after Close on an old agent: %v", err)
	}
	c.Close()
}

func TestSingleConnUnblocks(t *testing.T) {
	testkit.CheckGoroutines(t, nil)
	srv := newServer(t, &ssmtest.Options{AgentVersion: oldAgent})
	echo := newEchoServer(t)
	f, s := newForwarder(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {echo.port}}, nil)
	c, err := f.Dial(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	read := func() <-chan error {
		ch := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 10))
			ch <- err
		}()
		return ch
	}

	// Read deadline, set while the Read waits and in the past.
	ch := read()
	c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	expectErr(t, ch, "Read with a deadline", isTimeout)
	c.SetReadDeadline(time.Now().Add(-time.Second))
	expectErr(t, read(), "Read after the deadline", isTimeout)
	c.SetReadDeadline(time.Time{})
	// Write deadline in the past.
	c.SetWriteDeadline(time.Now().Add(-time.Second))
	if _, err := c.Write([]byte("x")); !isTimeout(err) {
		t.Fatalf("Write after its deadline: %v", err)
	}
	c.SetWriteDeadline(time.Time{})
	if err := echoCheck(c, 100); err != nil {
		t.Fatalf("after clearing deadlines: %v", err)
	}

	// Dial waiting for the slot: ctx, then Forwarder.Close.
	dial := func(ctx context.Context) <-chan error {
		ch := make(chan error, 1)
		go func() {
			_, err := f.Dial(ctx)
			ch <- err
		}()
		return ch
	}
	ctx, cancel := context.WithCancel(context.Background())
	dch := dial(ctx)
	cancel()
	expectErr(t, dch, "Dial on ctx cancel", func(err error) bool { return errors.Is(err, context.Canceled) })
	dch = dial(context.Background())

	// Close of the connection unblocks its Read.
	ch = read()
	c.Close()
	expectErr(t, ch, "Read on Close", func(err error) bool { return errors.Is(err, net.ErrClosed) })
	// ... and hands the slot to the waiting Dial.
	expectErr(t, dch, "Dial after Close", func(err error) bool { return err == nil })

	// Session end unblocks a waiting Dial and a pending Serve.
	dch = dial(context.Background())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sch := make(chan error, 1)
	go func() { sch <- f.Serve(context.Background(), l, nil) }()
	s.Close()
	expectErr(t, dch, "Dial on session end", func(err error) bool { return errors.Is(err, portforward.ErrSessionEnded) })
	expectErr(t, sch, "Serve on session end", func(err error) bool { return errors.Is(err, portforward.ErrSessionEnded) })
}

func TestNewRejectsOtherSessions(t *testing.T) {
	testkit.CheckGoroutines(t, nil)
	srv := newServer(t, nil)
	s := startSession(t, srv, ssmtest.DocShell, nil)
	if _, err := portforward.New(testkit.Context(t), s, nil); !errors.Is(err, portforward.ErrNotPortSession) {
		t.Fatalf("New on a shell session: %v", err)
	}
}

func TestListenUnixSocket(t *testing.T) {
	testkit.CheckGoroutines(t, nil)
	srv := newServer(t, &ssmtest.Options{Documents: map[string]ssmtest.Document{
		"Unix-PortForwarding": {
			SessionType: ssmtest.SessionTypePort,
			Parameters:  []ssmtest.Parameter{{Name: "portNumber"}, {Name: "socket"}},
			Properties: map[string]any{
				"type": "LocalPortForwarding", "portNumber": "{{ portNumber }}",
				"localConnectionType": "unix", "localUnixSocket": "{{ socket }}",
			},
		},
	}})
	echo := newEchoServer(t)
	sock := t.TempDir() + "/pf.sock"
	f, _ := newForwarder(t, srv, "Unix-PortForwarding", map[string][]string{"portNumber": {echo.port}, "socket": {sock}}, nil)
	addr, _ := serve(t, f)
	if addr != sock {
		t.Fatalf("listening on %q, want %q", addr, sock)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := echoCheck(c, 64<<10); err != nil {
		t.Fatal(err)
	}
}
