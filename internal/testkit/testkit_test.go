package testkit

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestEchoServerEchoesAndCleanupClosesConnections(t *testing.T) {
	var conn net.Conn
	t.Run("server", func(t *testing.T) {
		port := EchoServer(t)
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatal(err)
		}
		conn = c
		if _, err := io.WriteString(c, "ping"); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("echo = %q, %v", buf, err)
		}
	})
	// The subtest's cleanup closed the server's end: the client reads EOF instead of hanging.
	defer conn.Close()
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes after cleanup, want an error", n)
	}
}

func TestGoroutinesFilters(t *testing.T) {
	stop := make(chan struct{})
	go func() { parkedForTestGoroutinesFilters(stop) }()
	defer close(stop)
	keep := func(g string) bool { return strings.Contains(g, "parkedForTestGoroutinesFilters") }
	WaitFor(t, "the parked goroutine", func() bool { return len(Goroutines(keep)) == 1 })
	for _, g := range Goroutines(nil) {
		if strings.Contains(g, "testing.tRunner") {
			t.Fatalf("Goroutines listed a test goroutine:\n%s", g)
		}
	}
}

func parkedForTestGoroutinesFilters(stop chan struct{}) { <-stop }

func TestWaitBlocked(t *testing.T) {
	release := make(chan struct{})
	done := make(chan struct{})
	go func() { waitingForTestWaitBlocked(release); close(done) }()
	WaitBlocked(t, "waitingForTestWaitBlocked")
	close(release)
	<-done
	if blocked("goroutine 1 [running]:\nmain.main()") || !blocked("goroutine 9 [select, 2 minutes]:\nx()") {
		t.Fatal("blocked misreads a stack header")
	}
}

func waitingForTestWaitBlocked(release chan struct{}) { <-release }

func TestBufferWaitFor(t *testing.T) {
	var b Buffer
	go func() {
		for _, s := range []string{"one ", "two ", "three"} {
			b.Write([]byte(s))
		}
	}()
	if got := b.WaitFor(t, "three"); got != "one two three" {
		t.Fatalf("WaitFor returned %q", got)
	}
	if b.Len() != len("one two three") {
		t.Fatalf("Len = %d", b.Len())
	}
	ch := b.Changed()
	select {
	case <-ch:
		t.Fatal("Changed closed without a Write")
	default:
	}
	b.Write([]byte("!"))
	<-ch
}

func TestAPIErrorServer(t *testing.T) {
	srv := APIErrorServer(t, "AccessDeniedException", `not "allowed"`)
	resp, err := http.Post(srv.URL, "application/x-amz-json-1.1", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "AccessDeniedException" ||
		body.Type != "AccessDeniedException" || body.Message != `not "allowed"` {
		t.Errorf("HTTP %d, X-Amzn-ErrorType %q, body %+v", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
	}
}

func TestCaptureStderr(t *testing.T) {
	old := os.Stderr
	got := CaptureStderr(t, func() { fmt.Fprint(os.Stderr, "to the terminal") })
	if got != "to the terminal" || os.Stderr != old {
		t.Errorf("captured %q; os.Stderr restored: %v", got, os.Stderr == old)
	}
}
