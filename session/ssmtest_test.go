package session_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/xtaci/smux"

	"github.com/ssmwire/ssmwire/session"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// These tests run the session package against the emulator of the AWS side, whose agent is an independent
// implementation of the protocol.

func newSSM(srv *ssmtest.Server) *ssm.Client {
	return ssm.New(ssm.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"}, nil
		}),
	})
}

func start(t *testing.T, srv *ssmtest.Server, doc string, params map[string][]string) *session.Session {
	t.Helper()
	api := newSSM(srv)
	in := &ssm.StartSessionInput{Target: aws.String(ssmtest.DefaultInstanceID), Parameters: params}
	if doc != "" {
		in.DocumentName = aws.String(doc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := api.StartSession(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	s, err := session.Open(ctx, session.Info{SessionID: *out.SessionId, StreamURL: *out.StreamUrl, TokenValue: *out.TokenValue},
		&session.Config{SSM: api, TargetID: ssmtest.DefaultInstanceID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func readAllWithin(t *testing.T, r io.Reader, d time.Duration) string {
	t.Helper()
	done := make(chan struct{})
	var b []byte
	var err error
	go func() { b, err = io.ReadAll(r); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatal("the session did not end")
	}
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, b)
	}
	return string(b)
}

func TestShellSessionAgainstEmulator(t *testing.T) {
	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true})
	t.Cleanup(srv.Close)
	s := start(t, srv, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hs, err := s.Ready(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if hs.SessionType != "Standard_Stream" || hs.Handshaked {
		t.Fatalf("handshake %+v: a plain shell session has none", hs)
	}
	if _, err := s.Write([]byte("echo $((6*7))\rexit\r")); err != nil {
		t.Fatal(err)
	}
	out := readAllWithin(t, s, 10*time.Second)
	if !strings.Contains(out, "42") {
		t.Fatalf("shell output %q lacks 42", out)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Err = %v", err)
	}
}

func TestCommandSessionExitCodeAndStderr(t *testing.T) {
	srv := ssmtest.NewServer(nil) // faithful pacing
	t.Cleanup(srv.Close)
	s := start(t, srv, "SSMWire-RunCommand", map[string][]string{"command": {"echo out; echo err >&2; exit 3"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hs, err := s.Ready(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if hs.SessionType != "NonInteractiveCommands" || !hs.Handshaked {
		t.Fatalf("handshake %+v", hs)
	}
	errc := make(chan string, 1)
	go func() { b, _ := io.ReadAll(s.Stderr()); errc <- string(b) }()
	if out := readAllWithin(t, s, 10*time.Second); out != "out\n" {
		t.Fatalf("stdout %q", out)
	}
	if e := <-errc; e != "err\n" {
		t.Fatalf("stderr %q", e)
	}
	if code, ok := s.ExitCode(); !ok || code != 3 {
		t.Fatalf("exit code %d, %v", code, ok)
	}
}

// rwc lets smux run over a session without closing it.
type rwc struct{ *session.Session }

func (rwc) Close() error { return nil }

func echoServer(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

func TestMuxPortForwardAgainstEmulator(t *testing.T) {
	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true})
	t.Cleanup(srv.Close)
	port := echoServer(t)
	s := start(t, srv, "AWS-StartPortForwardingSession", map[string][]string{"portNumber": {strconv.Itoa(port)}, "localPortNumber": {"0"}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hs, err := s.Ready(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if hs.SessionType != "Port" || !strings.Contains(string(hs.Properties), "LocalPortForwarding") {
		t.Fatalf("handshake %+v", hs)
	}
	cfg := smux.DefaultConfig()
	cfg.Version = 1
	cfg.KeepAliveDisabled = true
	mux, err := smux.Client(rwc{s}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mux.Close()
	data := make([]byte, 4<<20)
	rand.Read(data)
	st, err := mux.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	go func() { st.Write(data) }()
	got := make([]byte, len(data))
	st.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(st, got); err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatal("echoed bytes differ")
	}
	if !bytes.Equal(got[:16], data[:16]) {
		t.Fatal("prefix differs")
	}
	stats := s.Stats()
	if stats.Resent != 0 {
		t.Errorf("%d retransmissions on a clean link", stats.Resent)
	}
}
