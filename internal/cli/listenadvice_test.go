package cli

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// TestForwardPortBusy: a local port in use fails with what to do.
func TestForwardPortBusy(t *testing.T) {
	h := newHarness(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	r := h.run(t, nil, "forward", "i-0123456789abcdef0", fmt.Sprintf("%d:localhost:22", port))
	if r.code != ExitError || !strings.Contains(r.stderr, "address already in use") ||
		!strings.Contains(r.stderr, fmt.Sprintf("another program listens on local port %d", port)) ||
		!strings.Contains(r.stderr, "or 0 for any free one") {
		t.Errorf("code %d stderr %q", r.code, r.stderr)
	}
}

// TestForwardBeyondLoopbackWarns: a forward on a non-loopback address warns before it listens, as the
// proxy does (192.0.2.1, a documentation address, is on no interface: the listen then fails).
func TestForwardBeyondLoopbackWarns(t *testing.T) {
	h := newHarness(t, nil)
	r := h.run(t, nil, "forward", "i-0123456789abcdef0", "192.0.2.1:0:localhost:22")
	if r.code != ExitError || !strings.Contains(r.stderr, "warning: forward 192.0.2.1:0:localhost:22 listens on 192.0.2.1:0, not on loopback only") {
		t.Errorf("code %d stderr %q", r.code, r.stderr)
	}
	r = h.run(t, nil, "forward", "i-0123456789abcdef0", "127.0.0.1:0:localhost:22", "localhost:0:localhost:23", "192.0.2.1:0:localhost:22")
	if n := strings.Count(r.stderr, "not on loopback only"); n != 1 {
		t.Errorf("%d warnings for one non-loopback forward: %q", n, r.stderr)
	}
}
