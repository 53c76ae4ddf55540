package plugincli

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

func TestShellSession(t *testing.T) {
	srv := newServer(t)
	id, resp := startSession(t, srv, "", nil)
	r := runMain(t, cliArgs(srv, resp), strings.NewReader("echo hel''lo; exit 3\n"), (&fakeEnv{}).env())
	if r.code != 0 {
		t.Errorf("exit code = %d, want 0 (a pty session carries no exit code); stderr %q", r.code, r.stderr)
	}
	start := fmt.Sprintf("\nStarting session with SessionId: %s\n", id)
	end := fmt.Sprintf("\n\nExiting session with sessionId: %s.\n\n", id)
	if !strings.HasPrefix(r.stdout, start) || !strings.HasSuffix(r.stdout, end) || !strings.Contains(r.stdout, "hello") {
		t.Errorf("stdout = %q, want the Starting line, hello, the Exiting line", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("stderr = %q", r.stderr)
	}
}

func TestShellSessionEnvVarForm(t *testing.T) {
	srv := newServer(t)
	id, resp := startSession(t, srv, "", nil)
	fe := &fakeEnv{vars: map[string]string{"AWS_SSM_START_SESSION_RESPONSE": resp}}
	args := cliArgs(srv, "AWS_SSM_START_SESSION_RESPONSE")
	r := runMain(t, args, strings.NewReader("exit\n"), fe.env())
	if r.code != 0 || !strings.Contains(r.stdout, "Exiting session with sessionId: "+id) {
		t.Errorf("code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if _, ok := fe.vars["AWS_SSM_START_SESSION_RESPONSE"]; ok {
		t.Error("the response variable is still set")
	}
	token := tokenOf(t, resp)
	if strings.Contains(r.stdout+r.stderr, token) {
		t.Error("the token appears in the output")
	}
}

func TestRunCommandExitCode(t *testing.T) {
	srv := newServer(t)
	id, resp := startSession(t, srv, ssmtest.DocRunCommand, map[string][]string{"command": {"sh -c 'echo out; echo err >&2; exit 3'"}})
	r := runMain(t, cliArgs(srv, resp), strings.NewReader("ignored input \x03\n"), (&fakeEnv{}).env())
	if r.code != 3 {
		t.Errorf("exit code = %d, want 3; stderr %q", r.code, r.stderr)
	}
	if r.stderr != "err\n" {
		t.Errorf("stderr = %q, want %q", r.stderr, "err\n")
	}
	want := fmt.Sprintf("\nStarting session with SessionId: %s\nout\n\n\nExiting session with sessionId: %s.\n\n", id, id)
	if r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
}

func TestRunCommandSignalForwarded(t *testing.T) {
	srv := newServer(t)
	_, resp := startSession(t, srv, ssmtest.DocRunCommand, map[string][]string{"command": {"sh -c 'echo started; exec sleep 30'"}})
	stdout, stderr := new(testkit.Buffer), new(testkit.Buffer)
	r := newRunner(newBlockingReader(t), stdout, stderr, (&fakeEnv{}).env())
	sigc := captureSignals(r)
	done := make(chan int, 1)
	go func() { done <- r.main(testkit.Context(t), cliArgs(srv, resp)) }()
	stdout.WaitFor(t, "started\n")
	(<-sigc) <- syscall.SIGINT // sent to the agent as 0x03, which interrupts the command
	select {
	case code := <-done:
		// The agent reports a command killed by a signal as EXIT_CODE: -1 (Go's ExitCode()).
		if code != -1 {
			t.Errorf("exit code = %d, want -1; stderr %q", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the session did not end after SIGINT")
	}
}

func TestMuxPortForwarding(t *testing.T) {
	// The agent refuses loopback hosts in …ToRemoteHost sessions: name a VPC address it reaches at 127.0.0.1.
	srv := newServerWith(t, &ssmtest.Options{Hosts: map[string]string{"10.0.0.20": "127.0.0.1"}})
	echo := strconv.Itoa(testkit.EchoServer(t))
	id, resp := startSession(t, srv, ssmtest.DocPortForwardingRemoteHost,
		map[string][]string{"host": {"10.0.0.20"}, "portNumber": {echo}})
	stdout, stderr := new(testkit.Buffer), new(testkit.Buffer)
	ctx, cancel := context.WithCancel(testkit.Context(t))
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, cliArgs(srv, resp), newBlockingReader(t), stdout, stderr, (&fakeEnv{}).env())
	}()

	out := stdout.WaitFor(t, "\nWaiting for connections...\n")
	m := regexp.MustCompile(`Port (\d+) opened for sessionId ` + regexp.QuoteMeta(id) + `\.\nWaiting`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("stdout = %q, no Port line", out)
	}
	for i := range 2 {
		c, err := net.Dial("tcp", "localhost:"+m[1])
		if err != nil {
			t.Fatal(err)
		}
		msg := fmt.Sprintf("hello through the session %d", i)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			t.Fatalf("echo = %q, %v", got, err)
		}
		c.Close()
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code = %d, want 0; stderr %q", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Main did not return after cancel")
	}
	want := fmt.Sprintf("\nStarting session with SessionId: %s\nPort %s opened for sessionId %s.\nWaiting for connections...\n"+
		"\nConnection accepted for session [%s]\nTerminate signal received, exiting.\n\n\nExiting session with sessionId: %s.\n\n",
		id, m[1], id, id, id)
	if got := stdout.String(); got != want {
		t.Errorf("stdout = %q\nwant     %q", got, want)
	}
	waitEnded(t, srv, id)
}

func TestBasicPortForwardingSignal(t *testing.T) {
	srv := newServerWith(t, &ssmtest.Options{AgentVersion: "3.0.0.0"}) // ≤ 3.0.196.0: basic mode
	echo := strconv.Itoa(testkit.EchoServer(t))
	id, resp := startSession(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {echo}})
	stdout, stderr := new(testkit.Buffer), new(testkit.Buffer)
	r := newRunner(newBlockingReader(t), stdout, stderr, (&fakeEnv{}).env())
	sigc := captureSignals(r)
	var settled atomic.Int32
	r.settle = func() {
		if !strings.Contains(stdout.String(), "opened for sessionId "+id+".\n") {
			t.Error("settle ran before the port was announced")
		}
		settled.Add(1)
	}
	done := make(chan int, 1)
	go func() { done <- r.main(testkit.Context(t), cliArgs(srv, resp)) }()

	out := stdout.WaitFor(t, "opened for sessionId "+id+".\n")
	m := regexp.MustCompile(`Port (\d+) opened`).FindStringSubmatch(out)
	c, err := net.Dial("tcp", "localhost:"+m[1])
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "ping")
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo = %q, %v", got, err)
	}
	stdout.WaitFor(t, "Connection accepted for session "+id+".\n")
	(<-sigc) <- syscall.SIGINT
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code = %d; stderr %q", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Main did not return after SIGINT")
	}
	c.Close()
	if !strings.HasSuffix(stdout.String(), "Terminate signal received, exiting.\n\n\nExiting session with sessionId: "+id+".\n\n") {
		t.Errorf("stdout = %q", stdout.String())
	}
	if n := settled.Load(); n != 1 {
		t.Errorf("settle ran %d times, want once: after the port opened", n)
	}
	waitEnded(t, srv, id) // agent 3.0.0.0 takes Flag TerminateSession (> 2.3.722.0)
}

func TestStreamMode(t *testing.T) {
	srv := newServer(t)
	echo := strconv.Itoa(testkit.EchoServer(t))
	id, resp := startSession(t, srv, ssmtest.DocSSH, map[string][]string{"portNumber": {echo}})
	stdinR, stdinW := io.Pipe()
	t.Cleanup(func() { stdinW.Close() })
	stdout, stderr := new(testkit.Buffer), new(testkit.Buffer)
	done := make(chan int, 1)
	go func() {
		done <- Main(testkit.Context(t), cliArgs(srv, resp), stdinR, stdout, stderr, (&fakeEnv{}).env())
	}()
	if _, err := io.WriteString(stdinW, "SSH-2.0-test\r\n"); err != nil {
		t.Fatal(err)
	}
	stdout.WaitFor(t, "SSH-2.0-test\r\n")
	stdinW.Close() // ssh went away
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code = %d; stderr %q", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Main did not return after end of stdin")
	}
	if want := "\nStarting session with SessionId: " + id + "\nSSH-2.0-test\r\n"; stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
	waitEnded(t, srv, id)
}

func TestRunCommandSuccessWithoutStdin(t *testing.T) {
	srv := newServer(t)
	// Exit status 0 reported by the agent, no stdin at all.
	id, resp := startSession(t, srv, ssmtest.DocRunCommand, map[string][]string{"command": {"true"}})
	r := runMain(t, cliArgs(srv, resp), nil, (&fakeEnv{}).env())
	if r.code != 0 || !strings.HasSuffix(r.stdout, "\n\nExiting session with sessionId: "+id+".\n\n") {
		t.Errorf("code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

// captureSignals replaces r's signal.Notify with one that hands the test each registered channel.
func captureSignals(r *runner) <-chan chan<- os.Signal {
	ch := make(chan chan<- os.Signal, 8)
	r.notify = func(c chan<- os.Signal, sig ...os.Signal) {
		for _, s := range sig {
			if s == syscall.SIGINT {
				ch <- c
				return
			}
		}
	}
	r.stop = func(chan<- os.Signal) {}
	return ch
}

// waitEnded waits until the emulator reports the session over.
func waitEnded(t testing.TB, srv *ssmtest.Server, id string) {
	t.Helper()
	info := srv.Session(id)
	if info == nil {
		t.Fatalf("no session %s", id)
	}
	select {
	case <-info.Done:
	case <-time.After(10 * time.Second):
		t.Fatalf("session %s did not end on the service side", id)
	}
}

func tokenOf(t testing.TB, resp string) string {
	t.Helper()
	m := regexp.MustCompile(`"TokenValue":"([^"]+)"`).FindStringSubmatch(resp)
	if m == nil {
		t.Fatal("no token in response")
	}
	return m[1]
}

func TestMuxUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "fwd.sock")
	echo := strconv.Itoa(testkit.EchoServer(t))
	srv := newServerWith(t, &ssmtest.Options{Documents: map[string]ssmtest.Document{
		"Test-UnixSocket": {
			SessionType: ssmtest.SessionTypePort,
			Properties: map[string]any{"type": "LocalPortForwarding", "portNumber": echo,
				"localConnectionType": "unix", "localUnixSocket": sock},
		},
	}})
	id, resp := startSession(t, srv, "Test-UnixSocket", nil)
	stdout, stderr := new(testkit.Buffer), new(testkit.Buffer)
	ctx, cancel := context.WithCancel(testkit.Context(t))
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, cliArgs(srv, resp), newBlockingReader(t), stdout, stderr, (&fakeEnv{}).env())
	}()
	want := "\nStarting session with SessionId: " + id + "\nUnix socket " + sock + " opened for sessionId " + id +
		".\nWaiting for connections...\n"
	stdout.WaitFor(t, want)
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "over a unix socket")
	got := make([]byte, len("over a unix socket"))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "over a unix socket" {
		t.Fatalf("echo = %q, %v", got, err)
	}
	c.Close()
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit code %d; stderr %q", code, stderr.String())
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket file left behind: %v", err)
	}
	waitEnded(t, srv, id)
}

// TestTerminateOnSIGTERM: SIGTERM ends a shell session with TerminateSession, sent to the endpoint argument
// as the AWS CLI passes it (verbatim --endpoint-url, here with a trailing slash).
func TestTerminateOnSIGTERM(t *testing.T) {
	srv := newServer(t)
	id, resp := startSession(t, srv, "", nil)
	args := cliArgs(srv, resp)
	args[5] += "/"
	stdout, stderr := new(testkit.Buffer), new(testkit.Buffer)
	r := newRunner(newBlockingReader(t), stdout, stderr, (&fakeEnv{}).env())
	sigc := captureSignals(r)
	done := make(chan int, 1)
	go func() { done <- r.main(testkit.Context(t), args) }()
	stdout.WaitFor(t, "Starting session with SessionId: "+id)
	(<-sigc) <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	waitEnded(t, srv, id)
}
