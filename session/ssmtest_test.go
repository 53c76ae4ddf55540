package session_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/xtaci/smux"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/session"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// These tests run the session package against the emulator of the AWS side, whose agent is an independent
// implementation of the protocol.

func newSSM(srv *ssmtest.Server) *ssm.Client { return ssm.NewFromConfig(srv.AWSConfig()) }

func start(t *testing.T, srv *ssmtest.Server, doc string, params map[string][]string) *session.Channel {
	t.Helper()
	return startWith(t, newSSM(srv), doc, params)
}

func startWith(t *testing.T, api *ssm.Client, doc string, params map[string][]string) *session.Channel {
	t.Helper()
	in := &ssm.StartSessionInput{Target: aws.String(ssmtest.DefaultInstanceID), Parameters: params}
	if doc != "" {
		in.DocumentName = aws.String(doc)
	}
	ctx := testkit.Context(t)
	out, err := api.StartSession(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	s, err := session.Open(ctx, session.Info{SessionID: *out.SessionId, StreamURL: *out.StreamUrl, TokenValue: *out.TokenValue},
		&session.Config{SSM: api, TargetID: ssmtest.DefaultInstanceID, Credentials: api.Options().Credentials, Region: api.Options().Region,
			TrustedEndpoints: []string{aws.ToString(api.Options().BaseEndpoint)}})
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
	ctx := testkit.Context(t)
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
	s := start(t, srv, "SSMWire-RunCommand", map[string][]string{"command": {"sh -c 'echo out; echo err >&2; exit 3'"}})
	ctx := testkit.Context(t)
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
type rwc struct{ *session.Channel }

func (rwc) Close() error { return nil }

func TestMuxPortForwardAgainstEmulator(t *testing.T) {
	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true})
	t.Cleanup(srv.Close)
	port := testkit.EchoServer(t)
	s := start(t, srv, "AWS-StartPortForwardingSession", map[string][]string{"portNumber": {strconv.Itoa(port)}, "localPortNumber": {"0"}})
	ctx := testkit.Context(t)
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

func TestShellOutputSurvivesWebsocketDrops(t *testing.T) {
	// The agent paces its output as the real one does (1 KiB per message, 1 ms after each). Unpaced, it
	// emits hundreds of messages while a killed websocket is being resumed, all lost with it, and the agent
	// resends only its oldest unacknowledged message once per 100 ms: recovery then took anywhere from 2 to
	// over 30 s, which measured the emulator's resend cadence, not the client.
	srv := ssmtest.NewServer(nil)
	t.Cleanup(srv.Close)
	s := start(t, srv, "", nil)
	ctx := testkit.Context(t)
	if _, err := s.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	// Kill the websocket every 20 KiB while the shell prints; every line must arrive once and in order.
	// The shell exits only once the last line is here and the link is calm again: an agent gives its
	// unacknowledged output just 2 s after the shell ends (PrepareToCloseChannel), and under a kill
	// every few round trips its one-message-per-100-ms resends cannot catch up in that time.
	srv.Faults().KillEvery.Store(20 << 10)
	if _, err := s.Write([]byte("stty -echo; i=0; while [ $i -lt 10000 ]; do i=$((i+1)); echo line$i; done\r")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(buf.String(), "line10000\r\n") {
		if time.Now().After(deadline) {
			t.Fatalf("no line10000 within 30 s; got %d bytes", buf.Len())
		}
		chunk := make([]byte, 32<<10)
		n, err := s.Read(chunk)
		buf.Write(chunk[:n])
		if err != nil {
			t.Fatalf("read: %v after %d bytes", err, buf.Len())
		}
	}
	srv.Faults().KillEvery.Store(0)
	if _, err := s.Write([]byte("exit\r")); err != nil {
		t.Fatal(err)
	}
	out := buf.String() + readAllWithin(t, s, 30*time.Second)
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(out, "\r", ""), "\n") {
		if strings.HasPrefix(l, "line") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 10000 {
		t.Fatalf("%d lines, want 10000", len(lines))
	}
	for i, l := range lines {
		if l != "line"+strconv.Itoa(i+1) {
			t.Fatalf("line %d is %q", i+1, l)
		}
	}
	if st := s.Stats(); st.Resumes < 3 {
		t.Fatalf("resumes %d: the test did not drop the websocket", st.Resumes)
	}
}

func TestRefusedResumeEndsSessionPromptly(t *testing.T) {
	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true})
	t.Cleanup(srv.Close)
	s := start(t, srv, "", nil)
	ctx := testkit.Context(t)
	s.Write([]byte("echo hi\r"))
	if _, err := s.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Faults().RefuseResume.Store(true)
	began := time.Now()
	srv.CloseClientConnections()
	select {
	case <-s.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("session still running a minute after its websocket dropped and resume was refused")
	}
	if !errors.Is(s.Err(), session.ErrConnectionLost) || !strings.Contains(s.Err().Error(), "ResumeSession") {
		t.Fatalf("Err = %v", s.Err())
	}
	t.Logf("ended after %v: %v", time.Since(began).Round(time.Millisecond), s.Err())
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestNoFileDescriptorLeaks(t *testing.T) {
	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true})
	t.Cleanup(srv.Close)
	// The API client's idle keep-alive connections (and the emulator's ends of them, in this process too)
	// would count; they are closed before each sample, so that only the sessions' own descriptors remain.
	tr := &http.Transport{}
	cfg := srv.AWSConfig()
	cfg.HTTPClient = &http.Client{Transport: tr}
	api := ssm.NewFromConfig(cfg)
	s0 := startWith(t, api, "", nil)
	s0.Close()
	// settled closes the idle connections and waits (at most 5 s) until the count is at most target, or, with
	// target -1, until it stops falling: the server closes its end of a connection once it reads the close.
	settled := func(target int) int {
		n := openFDs(t)
		for deadline := time.Now().Add(5 * time.Second); n > target && time.Now().Before(deadline); {
			tr.CloseIdleConnections()
			time.Sleep(10 * time.Millisecond)
			m := openFDs(t)
			if target < 0 && m >= n {
				return m
			}
			n = m
		}
		return n
	}
	before := settled(-1)
	for range 5 {
		s := startWith(t, api, "", nil)
		s.Write([]byte("exit\r"))
		readAllWithin(t, s, 10*time.Second) // ended by channel_closed
		s.Close()
		s2 := startWith(t, api, "", nil)
		s2.Close() // closed locally
		s3 := startWith(t, api, "", nil)
		s3.Terminate(context.Background()) // TerminateSession
	}
	// The emulator's agents (shells on ptys) live in this process too: end them all before counting.
	for _, id := range srv.SessionIDs() {
		api.TerminateSession(context.Background(), &ssm.TerminateSessionInput{SessionId: aws.String(id)})
		<-srv.Session(id).Done
	}
	if n := settled(before); n > before {
		ents, _ := os.ReadDir("/proc/self/fd")
		var names []string
		for _, e := range ents {
			l, _ := os.Readlink("/proc/self/fd/" + e.Name())
			names = append(names, l)
		}
		t.Fatalf("%d file descriptors before, %d after 15 sessions: %v", before, n, names)
	}
}

func TestWrongTokenIsAClearError(t *testing.T) {
	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true})
	t.Cleanup(srv.Close)
	api := newSSM(srv)
	out, err := api.StartSession(context.Background(), &ssm.StartSessionInput{Target: aws.String(ssmtest.DefaultInstanceID)})
	if err != nil {
		t.Fatal(err)
	}
	const wrong = "not-the-token-0123456789"
	s, err := session.Open(context.Background(), session.Info{SessionID: *out.SessionId, StreamURL: *out.StreamUrl, TokenValue: wrong},
		&session.Config{Credentials: api.Options().Credentials, Region: api.Options().Region,
			TrustedEndpoints: []string{aws.ToString(api.Options().BaseEndpoint)}})
	if err != nil {
		t.Fatal(err) // the websocket opens; the service refuses the OpenDataChannel frame
	}
	defer s.Close()
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a session with a wrong token did not end")
	}
	if !errors.Is(s.Err(), session.ErrConnectionLost) || !strings.Contains(s.Err().Error(), "1008") {
		t.Fatalf("Err = %v, want the service's policy-violation close", s.Err())
	}
	if strings.Contains(s.Err().Error(), wrong) {
		t.Fatal("the token appears in the error")
	}
}
