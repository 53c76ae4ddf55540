package portforward_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/portforward"
	"github.com/ssmwire/ssmwire/session"
	"github.com/ssmwire/ssmwire/ssmtest"
)

func TestMuxConcurrentConnections(t *testing.T) {
	testkit.CheckGoroutines(t, nil)
	srv := newServer(t, nil)
	echo := newEchoServer(t)
	f, s := newForwarder(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {echo.port}}, nil)
	if f.Mode() != portforward.ModeMux {
		t.Fatalf("mode %v, want mux", f.Mode())
	}
	if p := f.Properties(); p.PortNumber != echo.port || p.Type != portforward.LocalPortForwarding {
		t.Fatalf("properties %+v", p)
	}
	addr, _ := serve(t, f)

	const conns, size = 20, 1 << 20
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			errs <- echoCheck(c, size)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("largest client message: %d bytes", srv.Session(s.ID()).Stats.MaxClientMessage)
	// No data message is larger than the session allows, whatever the smux frames.
	if st := srv.Session(s.ID()).Stats; st.MaxClientMessage > session.DefaultMaxPayload {
		t.Errorf("largest client message %d bytes, want at most %d", st.MaxClientMessage, session.DefaultMaxPayload)
	}
}

func TestMuxDialDirect(t *testing.T) {
	testkit.CheckGoroutines(t, nil)
	srv := newServer(t, nil)
	echo := newEchoServer(t)
	f, s := newForwarder(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {echo.port}}, nil)
	ctx := testkit.Context(t)
	c1, err := f.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := f.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := echoCheck(c1, 100<<10); err != nil {
		t.Fatal(err)
	}
	if err := echoCheck(c2, 100<<10); err != nil {
		t.Fatal(err)
	}
	if got, want := c1.RemoteAddr().String(), "localhost:"+echo.port; got != want {
		t.Errorf("RemoteAddr %q, want %q", got, want)
	}
	if c1.LocalAddr().Network() != "ssm" || c1.LocalAddr().String() != s.ID()+"/3" {
		t.Errorf("LocalAddr %s %q", c1.LocalAddr().Network(), c1.LocalAddr())
	}

	// A read deadline set while a Read waits ends it with a timeout.
	rerr := make(chan error, 1)
	go func() {
		_, err := c1.Read(make([]byte, 10))
		rerr <- err
	}()
	testkit.WaitBlocked(t, "(*muxConn).Read") // the deadline must end a Read that already waits
	c1.SetReadDeadline(time.Now())
	select {
	case err := <-rerr:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("Read after deadline: %v, want a timeout net.Error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SetReadDeadline did not unblock Read")
	}
	c1.SetReadDeadline(time.Time{})
	if err := echoCheck(c1, 10); err != nil {
		t.Fatalf("after clearing the deadline: %v", err)
	}

	// Closing is idempotent and later use fails with net.ErrClosed.
	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	wait(t, echo.closes, "the destination connection of the closed stream to close")
	c2.Close()
}

func TestMuxConnectToPortError(t *testing.T) {
	testkit.CheckGoroutines(t, nil)
	srv := newServer(t, nil)
	port := freePort(t)
	var flags atomic.Int32
	cfg := &portforward.Config{OnConnectToPortError: func(e *portforward.ConnectToPortError) { flags.Add(1) }}
	f, s := newForwarder(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {port}}, cfg)
	ctx := testkit.Context(t)

	c, err := f.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = c.Read(make([]byte, 10))
	var cpe *portforward.ConnectToPortError
	if !errors.As(err, &cpe) || cpe.SessionID != s.ID() {
		t.Fatalf("Read on a refused stream: %v, want *ConnectToPortError", err)
	}
	if _, err := c.Write([]byte("x")); !errors.As(err, &cpe) {
		t.Fatalf("Write on a refused stream: %v, want *ConnectToPortError", err)
	}
	c.Close()
	if flags.Load() != 1 {
		t.Fatalf("OnConnectToPortError called %d times, want 1", flags.Load())
	}

	// The session still carries other streams once the destination listens.
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Skipf("cannot listen on the freed port again: %v", err)
	}
	go func() {
		c, err := l.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	c2, err := f.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := echoCheck(c2, 64<<10); err != nil {
		t.Fatalf("stream after a refused one: %v", err)
	}
}

func TestMuxServeReportsRefusal(t *testing.T) {
	testkit.CheckGoroutines(t, nil)
	srv := newServer(t, nil)
	f, _ := newForwarder(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {freePort(t)}}, nil)
	addr, _ := serve(t, f)
	c := testkit.Dial(t, addr)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("local client of a refused stream read %d, %v; want EOF", n, err)
	}
}

func TestRemoteHost(t *testing.T) {
	testkit.CheckGoroutines(t, nil)
	// The agent refuses loopback hosts in …ToRemoteHost sessions: name a VPC address it reaches at 127.0.0.1.
	srv := newServer(t, &ssmtest.Options{Hosts: map[string]string{"10.0.0.20": "127.0.0.1"}})
	echo := newEchoServer(t)
	f, _ := newForwarder(t, srv, ssmtest.DocPortForwardingRemoteHost,
		map[string][]string{"host": {"10.0.0.20"}, "portNumber": {echo.port}}, nil)
	if f.Mode() != portforward.ModeMux || f.Properties().Host != "10.0.0.20" {
		t.Fatalf("mode %v, properties %+v", f.Mode(), f.Properties())
	}
	addr, _ := serve(t, f)
	c := testkit.Dial(t, addr)
	if err := echoCheck(c, 256<<10); err != nil {
		t.Fatal(err)
	}
	d, err := f.Dial(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got, want := d.RemoteAddr().String(), "10.0.0.20:"+echo.port; got != want {
		t.Errorf("RemoteAddr %q, want %q", got, want)
	}
}

func TestMuxCloseTerminatesSession(t *testing.T) {
	testkit.CheckGoroutines(t, nil)
	srv := newServer(t, nil)
	echo := newEchoServer(t)
	f, s := newForwarder(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {echo.port}}, nil)
	addr, serveErr := serve(t, f)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := echoCheck(c, 1000); err != nil {
		t.Fatal(err)
	}
	d, err := f.Dial(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	rerr := make(chan error, 1)
	go func() {
		_, err := d.Read(make([]byte, 1))
		rerr <- err
	}()

	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case <-s.Done(): // the agent got Flag TerminateSession and ended the session
	case <-time.After(10 * time.Second):
		t.Fatal("the session did not end after Close")
	}
	if info := srv.Session(s.ID()); info == nil || !info.Ended || info.Err != nil {
		t.Fatalf("server view of the session: %+v", info)
	}
	select {
	case err := <-rerr:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("pending Read after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock a pending Read")
	}
	select {
	case err := <-serveErr:
		if !errors.Is(err, portforward.ErrClosed) && !errors.Is(err, portforward.ErrSessionEnded) {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
	if _, err := f.Dial(context.Background()); !errors.Is(err, portforward.ErrClosed) {
		t.Fatalf("Dial after Close: %v", err)
	}
	d.Close()
}

func TestMuxSessionEndUnblocks(t *testing.T) {
	testkit.CheckGoroutines(t, nil)
	srv := newServer(t, nil)
	echo := newEchoServer(t)
	f, s := newForwarder(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {echo.port}}, nil)
	addr, serveErr := serve(t, f)
	local, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	if err := echoCheck(local, 1000); err != nil {
		t.Fatal(err)
	}
	c, err := f.Dial(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rerr := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		rerr <- err
	}()

	s.Close()
	select {
	case err := <-rerr:
		if !errors.Is(err, portforward.ErrSessionEnded) {
			t.Fatalf("pending Read on session end: %v, want ErrSessionEnded", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("session end did not unblock a pending Read")
	}
	select {
	case err := <-serveErr:
		if !errors.Is(err, portforward.ErrSessionEnded) {
			t.Fatalf("Serve on session end: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return when the session ended")
	}
	// Serve closed the connection it was forwarding.
	local.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := local.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("local client after Serve returned: %v, want EOF", err)
	}
	if _, err := f.Dial(context.Background()); !errors.Is(err, portforward.ErrSessionEnded) {
		t.Fatalf("Dial after the session ended: %v", err)
	}
}

// A full read from the local connection becomes one smux frame and one data message, not a full frame plus
// an 8-byte one.
func TestMuxUploadOneMessagePerFrame(t *testing.T) {
	srv := newServer(t, nil)
	echo := newEchoServer(t)
	f, s := newForwarder(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {echo.port}}, nil)
	addr, _ := serve(t, f)
	c := testkit.Dial(t, addr)
	const size = 8 << 20
	if err := echoCheck(c, size); err != nil {
		t.Fatal(err)
	}
	checkOneMessagePerFrame(t, srv, s.ID(), size)
}

// io.Copy into a connection from Dial sends full data messages too.
func TestMuxDialCopyOneMessagePerFrame(t *testing.T) {
	srv := newServer(t, nil)
	echo := newEchoServer(t)
	f, s := newForwarder(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {echo.port}}, nil)
	c, err := f.Dial(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const size = 4 << 20
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, size)
		n, _ := io.ReadFull(c, b)
		got <- b[:n]
	}()
	src := make([]byte, size)
	rand.Read(src)
	// A reader without WriteTo, as a file or socket would be: io.Copy then reads 32 KiB at a time unless the
	// destination reads for itself.
	if n, err := io.Copy(c, io.LimitReader(bytes.NewReader(src), size)); n != size || err != nil {
		t.Fatalf("copied %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, src) {
		t.Fatalf("echoed %d bytes, not the ones sent", len(b))
	}
	checkOneMessagePerFrame(t, srv, s.ID(), size)
}

// checkOneMessagePerFrame fails the test if sending size bytes took clearly more client data messages (all
// frames but acknowledgements) than full smux frames of the default size.
func checkOneMessagePerFrame(t *testing.T, srv *ssmtest.Server, id string, size int) {
	t.Helper()
	st := srv.Session(id).Stats
	data := st.FramesToAgent - st.AcksToAgent
	frames := uint64(size / (session.DefaultMaxPayload - 8))
	t.Logf("%d data messages for %d bytes (%d full frames), largest %d bytes", data, size, frames, st.MaxClientMessage)
	if data > frames*11/10+16 {
		t.Errorf("%d data messages for %d bytes: more than one per smux frame (%d)", data, size, frames)
	}
}
