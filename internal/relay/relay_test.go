package relay_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/xtaci/smux"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/relay"
	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// tcpPair returns both ends of a TCP connection on 127.0.0.1.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// pipe runs relay.Pipe in the background and returns its result channel.
func pipe(ctx context.Context, local, remote relay.Conn, o *relay.Options) <-chan relay.Result {
	out := make(chan relay.Result, 1)
	go func() { out <- relay.Pipe(ctx, local, remote, o) }()
	return out
}

func result(t *testing.T, ch <-chan relay.Result) relay.Result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-testkit.Context(t).Done():
		t.Fatal("Pipe did not return")
		return relay.Result{}
	}
}

// TCP: the client's end of stream half-closes the destination, whose answer still arrives; bytes are counted
// as they pass.
func TestPipeTCPHalfClose(t *testing.T) {
	client, local := tcpPair(t)
	remote, dest := tcpPair(t)
	go func() { // the destination answers once its client has finished sending
		b, _ := io.ReadAll(dest)
		io.WriteString(dest, "got "+string(b))
		dest.Close()
	}()
	var up, down atomic.Int64
	res := pipe(testkit.Context(t), local, remote, &relay.Options{Up: &up, Down: &down})
	io.WriteString(client, "hello")
	client.CloseWrite()
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	answer, err := io.ReadAll(client)
	if err != nil || string(answer) != "got hello" {
		t.Fatalf("answer %q, %v; want %q", answer, err, "got hello")
	}
	r := result(t, res)
	if r.Up != 5 || r.Down != 9 || up.Load() != 5 || down.Load() != 9 {
		t.Errorf("counted up %d/%d, down %d/%d; want 5, 9", r.Up, up.Load(), r.Down, down.Load())
	}
	if !r.LocalFirst || r.UpErr != nil || r.DownErr != nil {
		t.Errorf("result %+v: want the local side first, no errors", r)
	}
}

// The destination ending first closes both sides.
func TestPipeTCPRemoteEndsFirst(t *testing.T) {
	client, local := tcpPair(t)
	remote, dest := tcpPair(t)
	res := pipe(testkit.Context(t), local, remote, nil)
	io.WriteString(dest, "bye")
	dest.Close()
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := io.ReadAll(client); err != nil || string(b) != "bye" {
		t.Fatalf("read %q, %v", b, err)
	}
	if r := result(t, res); r.LocalFirst || r.Down != 3 {
		t.Errorf("result %+v: want the remote side first, 3 bytes down", r)
	}
}

// ctx ending and Options.Done closing end the relay and close both sides.
func TestPipeStops(t *testing.T) {
	for _, how := range []string{"ctx", "done"} {
		t.Run(how, func(t *testing.T) {
			client, local := tcpPair(t)
			remote, dest := tcpPair(t)
			ctx, cancel := context.WithCancel(testkit.Context(t))
			defer cancel()
			done := make(chan struct{})
			res := pipe(ctx, local, remote, &relay.Options{Done: done})
			if how == "ctx" {
				cancel()
			} else {
				close(done)
			}
			result(t, res)
			for _, c := range []net.Conn{client, dest} {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Read(make([]byte, 1)); err != io.EOF {
					t.Errorf("peer read %v, want EOF", err)
				}
			}
		})
	}
}

// An smux stream has no half-close: the client's end of stream closes it (FIN), and the destination's
// close ends the relay.
func TestPipeSmuxStream(t *testing.T) {
	a, b := net.Pipe()
	cs, err := smux.Client(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	ss, err := smux.Server(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	for _, first := range []string{"local", "remote"} {
		t.Run(first, func(t *testing.T) {
			client, local := tcpPair(t)
			stream, err := cs.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(stream, "x") // smux opens the stream on the peer with the first frame
			dest, err := ss.AcceptStream()
			if err != nil {
				t.Fatal(err)
			}
			dest.Read(make([]byte, 1))
			res := pipe(testkit.Context(t), local, stream, nil)
			if first == "local" {
				io.WriteString(client, "hello")
				client.CloseWrite()
				dest.SetReadDeadline(time.Now().Add(10 * time.Second))
				if got, err := io.ReadAll(dest); string(got) != "hello" || err != nil {
					t.Fatalf("destination read %q, %v; want hello then EOF", got, err)
				}
				dest.Close()
			} else {
				io.WriteString(dest, "bye")
				dest.Close()
				client.SetReadDeadline(time.Now().Add(10 * time.Second))
				if got, err := io.ReadAll(client); string(got) != "bye" || err != nil {
					t.Fatalf("client read %q, %v; want bye then EOF", got, err)
				}
			}
			if r := result(t, res); r.LocalFirst != (first == "local") {
				t.Errorf("LocalFirst %v, want %v", r.LocalFirst, first == "local")
			}
		})
	}
}

// unreadConn records what the relay gives back.
type unreadConn struct {
	net.Conn
	back bytes.Buffer
}

func (c *unreadConn) Unread(p []byte) { c.back.Write(p) }

// failingWriter is a local side that went away: every Write fails.
type failingWriter struct{ net.Conn }

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("gone") }

// Bytes read from the remote side but not delivered go back to it when it is an Unreader.
func TestPipeUnread(t *testing.T) {
	_, local := tcpPair(t)
	remote, dest := tcpPair(t)
	u := &unreadConn{Conn: remote}
	res := pipe(testkit.Context(t), failingWriter{local}, u, nil)
	io.WriteString(dest, "keep me")
	r := result(t, res)
	if u.back.String() != "keep me" || r.DownErr == nil || r.RemoteErr != nil {
		t.Fatalf("given back %q, result %+v; want all of it, a local write error", u.back.String(), r)
	}
}

// Stdio: standard input's end half-closes the remote side, and the answer goes to standard output.
func TestPipeStdio(t *testing.T) {
	remote, dest := tcpPair(t)
	go func() {
		b, _ := io.ReadAll(dest)
		io.WriteString(dest, strings.ToUpper(string(b)))
		dest.Close()
	}()
	var out testkit.Buffer
	r := relay.Pipe(testkit.Context(t), relay.NewStdio(strings.NewReader("ssh-2.0"), &out), remote, nil)
	if out.String() != "SSH-2.0" || !r.LocalFirst {
		t.Fatalf("stdout %q, result %+v", out.String(), r)
	}
}

// Stdio: when the remote side ends, the relay returns although a read of standard input is blocked.
func TestPipeStdioBlockedStdin(t *testing.T) {
	remote, dest := tcpPair(t)
	stdin, stdinW := io.Pipe()
	defer stdinW.Close()
	var out testkit.Buffer
	res := pipe(testkit.Context(t), relay.NewStdio(stdin, &out), remote, nil)
	io.WriteString(dest, "bye")
	dest.Close()
	if r := result(t, res); r.LocalFirst || out.String() != "bye" {
		t.Fatalf("stdout %q, result %+v", out.String(), r)
	}
}

// A basic-mode connection (agents up to 3.0.196.0, docs/protocol.md §6.3): the client's end of stream
// sends Flag DisconnectToPort, which ends the destination connection, and the next connection works.
func TestPipeBasicMode(t *testing.T) {
	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true, AgentVersion: "3.0.196.0"})
	defer srv.Close()
	closed := make(chan string, 4)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { // the destination: echoes, and says what it read once its client is gone
				b, _ := io.ReadAll(c)
				closed <- string(b)
				c.Close()
			}()
		}
	}()
	a := srv.AWSConfig()
	c, err := ssmwire.New(&ssmwire.Config{SSM: ssm.NewFromConfig(a),
		Session: &ssmwire.ChannelConfig{Credentials: a.Credentials, Region: a.Region, TrustedEndpoints: []string{srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testkit.Context(t)
	tun, err := c.Forward(ctx, ssmtest.DefaultInstanceID, ssmwire.Remote{Port: l.Addr().(*net.TCPAddr).Port})
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	if tun.Multiplexed() {
		t.Fatal("agent 3.0.196.0 gave a multiplexed session")
	}
	for i, msg := range []string{"first", "second"} {
		client, local := tcpPair(t)
		remote, err := tun.Dial(ctx)
		if err != nil {
			t.Fatal(i, err)
		}
		res := pipe(ctx, local, remote, nil)
		io.WriteString(client, msg)
		client.CloseWrite()
		select {
		case got := <-closed:
			if got != msg {
				t.Errorf("destination read %q, want %q", got, msg)
			}
		case <-ctx.Done():
			t.Fatal("the destination connection did not end")
		}
		if r := result(t, res); !r.LocalFirst || r.Up != int64(len(msg)) {
			t.Errorf("result %+v", r)
		}
	}
}
