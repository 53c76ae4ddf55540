package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
)

func TestSSHProxyBytes(t *testing.T) {
	for _, target := range []string{"ssmtest", "ecs:prod/0123456789abcdef"} {
		t.Run(target, func(t *testing.T) { testSSHProxyBytes(t, target) })
	}
}

func testSSHProxyBytes(t *testing.T, target string) {
	h := newHarness(t, nil)
	port := echoServer(t, "sshd")
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errb testkit.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"--endpoint-url", h.srv.URL, "ssh-proxy", target, fmt.Sprint(port)}, h.env, inR, outW, &errb)
		outW.Close()
	}()
	out := bufio.NewReader(outR)
	for i := range 3 {
		if _, err := fmt.Fprintf(inW, "SSH-2.0-test %d\n", i); err != nil {
			t.Fatal(err)
		}
		line, err := out.ReadString('\n')
		if want := fmt.Sprintf("sshd:SSH-2.0-test %d\n", i); line != want || err != nil {
			t.Fatalf("read %q, %v; want %q; stderr %s", line, err, want, errb.String())
		}
	}
	inW.Close() // ssh exits
	go io.Copy(io.Discard, out)
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d; stderr %s", code, errb.String())
		}
	case <-ctx.Done():
		t.Fatal("ssh-proxy did not exit after its input ended")
	}
	ids := h.srv.SessionIDs()
	if len(ids) != 1 {
		t.Fatalf("sessions %v", ids)
	}
	info := h.srv.Session(ids[0])
	if info.DocumentName != "AWS-StartSSHSession" {
		t.Errorf("document %s", info.DocumentName)
	}
	select {
	case <-info.Done:
	case <-ctx.Done():
		t.Error("session still running after ssh-proxy exited")
	}
}

// TestSSHProxyRefused: with nothing listening on the port, ssh-proxy says so on standard error (ssh shows
// it) and exits non-zero, rather than ending as if the server had closed the connection.
func TestSSHProxyRefused(t *testing.T) {
	h := newHarness(t, nil)
	port := testkit.ClosedPort(t)
	inR, inW := io.Pipe()
	defer inW.Close()
	r := h.run(t, inR, "ssh-proxy", "i-0123456789abcdef0", fmt.Sprint(port))
	if r.code != ExitError || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 ||
		!strings.Contains(r.stderr, fmt.Sprintf("i-0123456789abcdef0 port %d: the agent could not connect: ", port)) ||
		!strings.Contains(r.stderr, "connection refused") {
		t.Errorf("code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}
