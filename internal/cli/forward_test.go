package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// echoServer listens on 127.0.0.1 and echoes every connection, prefixed with tag so tests can tell servers
// apart. It returns its port.
func echoServer(t testing.TB, tag string) int {
	t.Helper()
	return testkit.Serve(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if _, err := io.WriteString(c, tag+":"+line); err != nil {
				return
			}
		}
	})
}

// eventWriter decodes --json output line by line into a channel.
type eventWriter struct {
	mu  sync.Mutex
	buf []byte
	ch  chan event
	all []string

	exited chan struct{} // closed when the command has returned
	errb   *testkit.Buffer
}

func newEventWriter() *eventWriter {
	return &eventWriter{ch: make(chan event, 1000), exited: make(chan struct{}), errb: &testkit.Buffer{}}
}

func (w *eventWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		w.all = append(w.all, line)
		var e event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			e = event{Event: "unparsed", Error: line}
		}
		w.ch <- e
	}
}

// next waits for the next event of kind ev (skipping others), failing the test after a timeout.
func (w *eventWriter) next(t testing.TB, ev string) event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case e := <-w.ch:
			if e.Event == ev {
				return e
			}
		case <-w.exited:
			select {
			case e := <-w.ch:
				if e.Event == ev {
					return e
				}
				continue
			default:
			}
			t.Fatalf("command exited before a %s event; stderr:\n%s", ev, w.errb.String())
		case <-timeout:
			w.mu.Lock()
			defer w.mu.Unlock()
			t.Fatalf("no %s event; output so far:\n%s\nstderr:\n%s", ev, strings.Join(w.all, "\n"), w.errb.String())
		}
	}
}

// startJSON runs a long-lived command with --json and returns its events.
func (h *harness) startJSON(t testing.TB, args ...string) (*eventWriter, *testkit.Buffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ew := newEventWriter()
	errb := ew.errb
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, append([]string{"--endpoint-url", h.srv.URL, "--json"}, args...), h.env, strings.NewReader(""), ew, errb)
		close(ew.exited)
	}()
	var once sync.Once
	code := -1
	stop := func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(20 * time.Second):
				t.Errorf("command did not stop; stderr:\n%s", errb.String())
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return ew, errb, stop
}

// roundTrip sends a line over a new connection to addr and returns the answer.
func roundTrip(t testing.TB, network, addr, line string) string {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return exchange(t, c, line)
}

func exchange(t testing.TB, c net.Conn, line string) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read answer to %q: %v", line, err)
	}
	return strings.TrimSuffix(got, "\n")
}

func TestForwardTwoSpecs(t *testing.T) {
	// 10.0.0.20 is a host of the emulated VPC, where b listens; a loopback remote host means the target.
	h := newHarness(t, &ssmtest.Options{Hosts: map[string]string{"10.0.0.20": "127.0.0.1"}})
	a, b := echoServer(t, "a"), echoServer(t, "b")
	ev, errb, stop := h.startJSON(t, "forward", "i-0123456789abcdef0",
		fmt.Sprintf("0:localhost:%d", a), fmt.Sprintf("127.0.0.1:0:10.0.0.20:%d", b), fmt.Sprintf("0:[::1]:%d", a))
	up1, up2, up3 := ev.next(t, evTunnelUp), ev.next(t, evTunnelUp), ev.next(t, evTunnelUp)
	listen := map[string]string{up1.Remote: up1.Listen, up2.Remote: up2.Listen, up3.Remote: up3.Listen}
	la, lb, l6 := listen[fmt.Sprintf("localhost:%d", a)], listen[fmt.Sprintf("10.0.0.20:%d", b)], listen[fmt.Sprintf("[::1]:%d", a)]
	if la == "" || lb == "" || l6 == "" {
		t.Fatalf("tunnel_up events %+v %+v %+v", up1, up2, up3)
	}
	if got := roundTrip(t, "tcp", l6, "six"); got != "a:six" {
		t.Errorf("through %s: %q", l6, got)
	}
	for i := range 3 {
		if got := roundTrip(t, "tcp", la, fmt.Sprint("hello", i)); got != fmt.Sprint("a:hello", i) {
			t.Errorf("through %s: %q", la, got)
		}
		if got := roundTrip(t, "tcp", lb, fmt.Sprint("hi", i)); got != fmt.Sprint("b:hi", i) {
			t.Errorf("through %s: %q", lb, got)
		}
	}
	docs := map[string]bool{}
	for _, id := range h.srv.SessionIDs() {
		info := h.srv.Session(id)
		docs[info.DocumentName] = true
		if host := info.Properties["host"]; host != nil && host != "10.0.0.20" {
			t.Errorf("session %s names host %v; loopback must use AWS-StartPortForwardingSession", id, host)
		}
	}
	if !docs["AWS-StartPortForwardingSession"] || !docs["AWS-StartPortForwardingSessionToRemoteHost"] {
		t.Errorf("documents used: %v", docs)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit code %d; stderr %s", code, errb.String())
	}
	// Interrupting ends every session on the service.
	for _, id := range h.srv.SessionIDs() {
		if info := h.srv.Session(id); !info.Ended {
			t.Errorf("session %s (%s) still running after the command stopped", id, info.DocumentName)
		}
	}
}

func TestForwardUnixSocket(t *testing.T) {
	h := newHarness(t, nil)
	a := echoServer(t, "a")
	sock := filepath.Join(t.TempDir(), "db.sock")
	ev, _, _ := h.startJSON(t, "forward", "i-0123456789abcdef0", fmt.Sprintf("%s:localhost:%d", sock, a))
	up := ev.next(t, evTunnelUp)
	if up.Listen != sock {
		t.Errorf("listen %q, want %q", up.Listen, sock)
	}
	if got := roundTrip(t, "unix", sock, "x"); got != "a:x" {
		t.Errorf("got %q", got)
	}
}

// ssmClient is an SDK client for the harness's server, to act on sessions from outside ssmwire.
func (h *harness) ssmClient() *ssm.Client {
	return ssm.NewFromConfig(h.srv.AWSConfig())
}

func TestForwardSurvivesTerminatedSession(t *testing.T) {
	h := newHarness(t, nil)
	a := echoServer(t, "a")
	ev, _, _ := h.startJSON(t, "forward", "i-0123456789abcdef0", fmt.Sprintf("0:localhost:%d", a))
	first := ev.next(t, evSessionStarted)
	up := ev.next(t, evTunnelUp)

	inflight, err := net.Dial("tcp", up.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer inflight.Close()
	if got := exchange(t, inflight, "before"); got != "a:before" {
		t.Fatalf("got %q", got)
	}

	// Someone else ends the session.
	if _, err := h.ssmClient().TerminateSession(context.Background(), &ssm.TerminateSessionInput{SessionId: aws.String(first.SessionID)}); err != nil {
		t.Fatal(err)
	}
	if e := ev.next(t, evSessionEnded); e.SessionID != first.SessionID {
		t.Fatalf("session_ended for %s, want %s", e.SessionID, first.SessionID)
	}
	// The connection in flight was closed cleanly.
	inflight.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := inflight.Read(make([]byte, 10)); err != io.EOF {
		t.Errorf("in-flight connection: read %d, %v; want EOF", n, err)
	}

	// The listener stayed; the next connection starts a new session.
	if got := roundTrip(t, "tcp", up.Listen, "after"); got != "a:after" {
		t.Fatalf("got %q", got)
	}
	second := ev.next(t, evSessionStarted)
	if second.SessionID == first.SessionID || second.SessionID == "" {
		t.Errorf("second session %q, first %q", second.SessionID, first.SessionID)
	}
}

func TestUpTwoTunnels(t *testing.T) {
	h := newHarness(t, nil)
	a, b := echoServer(t, "a"), echoServer(t, "b")
	cfg := filepath.Join(h.home, ".config", "ssmwire", "config.toml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cfg, fmt.Sprintf(`
[tunnels.alpha]
target = "ssmtest"
forwards = ["0:localhost:%d"]

[tunnels.beta]
region = "eu-west-1"
target = "i-0123456789abcdef0"
forwards = ["0:127.0.0.1:%d"]

[tunnels.unused]
target = "i-0123456789abcdef0"
forwards = ["0:localhost:1"]
`, a, b))
	ev, _, stop := h.startJSON(t, "up", "alpha", "beta")
	ups := map[string]event{}
	for range 2 {
		e := ev.next(t, evTunnelUp)
		ups[e.Tunnel] = e
	}
	if got := roundTrip(t, "tcp", ups["alpha"].Listen, "1"); got != "a:1" {
		t.Errorf("alpha: %q", got)
	}
	if got := roundTrip(t, "tcp", ups["beta"].Listen, "2"); got != "b:2" {
		t.Errorf("beta: %q", got)
	}
	if ups["alpha"].Target != "i-0123456789abcdef0" {
		t.Errorf("alpha's target resolved to %q", ups["alpha"].Target)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if n := len(h.srv.SessionIDs()); n != 2 {
		t.Errorf("%d sessions started, want 2", n)
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestForwardDestinationRefused(t *testing.T) {
	h := newHarness(t, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	ev, _, _ := h.startJSON(t, "forward", "i-0123456789abcdef0", fmt.Sprintf("0:localhost:%d", closed))
	up := ev.next(t, evTunnelUp)
	c, err := net.Dial("tcp", up.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x\n"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	// Closed either way: EOF, or a reset because the "x\n" it never read was still in its buffer.
	if n, err := c.Read(make([]byte, 10)); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read %d, %v; want EOF or a reset", n, err)
	}
	if e := ev.next(t, evError); !strings.Contains(e.Error, "could not connect") {
		t.Errorf("error event %+v", e)
	}
}
