package portforward_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/portforward"
	"github.com/ssmwire/ssmwire/session"
	"github.com/ssmwire/ssmwire/ssmtest"
)

func newServer(t testing.TB, opts *ssmtest.Options) *ssmtest.Server {
	t.Helper()
	if opts == nil {
		opts = &ssmtest.Options{}
	}
	opts.NoPacing = true
	srv := ssmtest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

func ssmClient(srv *ssmtest.Server) *ssm.Client { return ssm.NewFromConfig(srv.AWSConfig()) }

// startSession starts a session of the document and opens its data channel; it is closed at cleanup.
//
// Against an emulated agent older than 3.0.196.0 the session reports the client version of a plugin that
// predates mux too: the emulated agent picks mux from the client version alone (as the real agent does), and
// real agents that old never had mux, so only that pairing is realistic.
func startSession(t testing.TB, srv *ssmtest.Server, doc string, params map[string][]string) *session.Channel {
	t.Helper()
	api := ssmClient(srv)
	ctx := testkit.Context(t)
	out, err := api.StartSession(ctx, &ssm.StartSessionInput{
		Target: aws.String(ssmtest.DefaultInstanceID), DocumentName: aws.String(doc), Parameters: params,
	})
	if err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	s, err := session.Open(ctx, session.Info{SessionID: *out.SessionId, StreamURL: *out.StreamUrl, TokenValue: *out.TokenValue},
		&session.Config{SSM: api, TargetID: ssmtest.DefaultInstanceID, Credentials: api.Options().Credentials, Region: api.Options().Region,
			TrustedEndpoints: []string{aws.ToString(api.Options().BaseEndpoint)}})
	if err != nil {
		t.Fatalf("session.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newForwarder starts a session of doc and builds a Forwarder on it; both are closed at cleanup.
func newForwarder(t testing.TB, srv *ssmtest.Server, doc string, params map[string][]string, cfg *portforward.Config) (*portforward.Forwarder, *session.Channel) {
	t.Helper()
	s := startSession(t, srv, doc, params)
	if cfg == nil {
		cfg = &portforward.Config{}
	}
	if cfg.ListenHost == "" {
		cfg.ListenHost = "127.0.0.1"
	}
	f, err := portforward.New(testkit.Context(t), s, cfg)
	if err != nil {
		t.Fatalf("portforward.New: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f, s
}

// echoServer is a TCP echo server on 127.0.0.1 that records what happens to its connections.
type echoServer struct {
	l       net.Listener
	port    string
	accepts chan struct{} // one value per accepted connection
	closes  chan struct{} // one value per connection that ended (the peer closed it)
	wg      sync.WaitGroup
}

func newEchoServer(t testing.TB) *echoServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{l: l, port: strconv.Itoa(l.Addr().(*net.TCPAddr).Port),
		accepts: make(chan struct{}, 100), closes: make(chan struct{}, 100)}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		var conns sync.WaitGroup
		defer conns.Wait()
		var mu sync.Mutex
		var open []net.Conn
		defer func() {
			mu.Lock()
			for _, c := range open {
				c.Close()
			}
			mu.Unlock()
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			e.accepts <- struct{}{}
			conns.Add(1)
			go func() {
				defer conns.Done()
				io.Copy(c, c)
				c.Close()
				e.closes <- struct{}{}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		e.wg.Wait()
	})
	return e
}

// wait receives one value from ch within d.
func wait(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// expectErr waits for the error a blocked call sends on ch and fails the test unless ok accepts it, or if
// none comes within testkit.Timeout.
func expectErr(t testing.TB, ch <-chan error, what string, ok func(error) bool) {
	t.Helper()
	select {
	case err := <-ch:
		if !ok(err) {
			t.Fatalf("%s: unexpected error %v", what, err)
		}
	case <-time.After(testkit.Timeout):
		t.Fatalf("%s did not unblock", what)
	}
}

// isTimeout reports whether err is a passed deadline as net.Conn reports it: os.ErrDeadlineExceeded, a
// net.Error whose Timeout is true.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && errors.Is(err, os.ErrDeadlineExceeded)
}

// echoCheck writes size random bytes to c and reads them back, comparing SHA-256 sums.
func echoCheck(c net.Conn, size int) error {
	data := make([]byte, size)
	rand.Read(data)
	want := sha256.Sum256(data)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		werr <- err
	}()
	got := make([]byte, size)
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if err := <-werr; err != nil {
		return err
	}
	if sha256.Sum256(got) != want {
		return errors.New("echoed bytes differ from those sent")
	}
	return nil
}

// freePort returns a 127.0.0.1 port with nothing listening on it.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	return port
}

// serve runs f.Serve on a new listener in the background; the returned address dials it. Serve's result
// arrives on the channel.
func serve(t testing.TB, f *portforward.Forwarder) (string, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l, err := f.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		done <- f.Serve(ctx, l, nil)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after its context was canceled")
		}
	})
	return l.Addr().String(), done
}
