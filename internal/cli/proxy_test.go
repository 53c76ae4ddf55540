package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

func TestParseProxyListen(t *testing.T) {
	tests := []struct {
		in       string
		addr     string
		loopback bool
		err      bool
	}{
		{"1080", "127.0.0.1:1080", true, false},
		{"0", "127.0.0.1:0", true, false},
		{"127.0.0.1:1080", "127.0.0.1:1080", true, false},
		{"localhost:1081", "127.0.0.1:1081", true, false},
		{"[::1]:1080", "[::1]:1080", true, false},
		{"0.0.0.0:1080", "0.0.0.0:1080", false, false},
		{"*:1080", "0.0.0.0:1080", false, false},
		{":1080", "0.0.0.0:1080", false, false},
		{"192.168.1.5:1080", "192.168.1.5:1080", false, false},
		{"[::]:1080", "[::]:1080", false, false},
		{"65536", "", false, true},
		{"socks", "", false, true},
		{"::1:1080", "", false, true},
		{"127.0.0.1:", "", false, true},
	}
	for _, tt := range tests {
		p, err := ParseProxyListen(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParseProxyListen(%q) error %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if err == nil && (p.Address() != tt.addr || p.Loopback() != tt.loopback) {
			t.Errorf("ParseProxyListen(%q) = %s loopback %v, want %s loopback %v", tt.in, p.Address(), p.Loopback(), tt.addr, tt.loopback)
		}
	}
}

// TestProxyWarnsBeyondLoopback: a proxy not bound to loopback warns that the port lends the user's AWS
// identity (192.0.2.1 is TEST-NET: nothing here owns it, so the listen then fails and nothing is exposed).
func TestProxyWarnsBeyondLoopback(t *testing.T) {
	h := newHarness(t, nil)
	r := h.run(t, nil, "proxy", "i-0123456789abcdef0", "192.0.2.1:0")
	if r.code != ExitError || !strings.Contains(r.stderr, "warning: the proxy listens on 192.0.2.1:0, not on loopback only") ||
		!strings.Contains(r.stderr, "with your AWS identity (profile default)") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	ev, errb, stop := h.startJSON(t, "proxy", "i-0123456789abcdef0", "127.0.0.1:0")
	ev.next(t, evTunnelUp)
	stop()
	if strings.Contains(errb.String(), "warning") {
		t.Errorf("warning for a loopback proxy:\n%s", errb.String())
	}
}

func TestProxyUsage(t *testing.T) {
	h := newHarness(t, nil)
	for _, args := range [][]string{{"proxy"}, {"proxy", "i-0123456789abcdef0", "1080", "extra"}, {"proxy", "i-0123456789abcdef0", "nope"}} {
		if r := h.run(t, nil, args...); r.code != ExitUsage {
			t.Errorf("%v: exit %d, stderr %s", args, r.code, r.stderr)
		}
	}
}

// TestProxyCommand runs `ssmwire proxy --json` against ssmtest and goes through it with SOCKS5 and HTTP
// CONNECT: a name only the target knows, reused sessions, and a refused destination reported on stderr and
// as JSON events.
func TestProxyCommand(t *testing.T) {
	h := newHarness(t, &ssmtest.Options{Hosts: map[string]string{"db.internal": "127.0.0.1"}})
	port := echoServer(t, "db")
	ev, errb, stop := h.startJSON(t, "proxy", "i-0123456789abcdef0", "127.0.0.1:0")
	up := ev.next(t, evTunnelUp)
	if up.Forward != "proxy" || up.Target != "i-0123456789abcdef0" || up.Remote != proxyRemote {
		t.Fatalf("tunnel_up %+v", up)
	}
	dest := net.JoinHostPort("db.internal", strconv.Itoa(port))
	for i := range 3 {
		c := testkit.Dial(t, up.Listen)
		if rep := testkit.SOCKS5Connect(t, c, "db.internal", port); rep != 0 {
			t.Fatalf("SOCKS5 reply %d; stderr:\n%s", rep, errb.String())
		}
		if got := exchange(t, c, fmt.Sprint("q", i)); got != fmt.Sprint("db:q", i) {
			t.Fatalf("through the proxy: %q", got)
		}
		c.Close()
	}
	c := testkit.Dial(t, up.Listen)
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", dest, dest)
	br := bufio.NewReader(c)
	if line, err := br.ReadString('\n'); !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("CONNECT: %q, %v", line, err)
	}
	br.ReadString('\n')
	io.WriteString(c, "h\n")
	if line, _ := br.ReadString('\n'); line != "db:h\n" {
		t.Fatalf("through CONNECT: %q", line)
	}
	c.Close()

	started := ev.next(t, evSessionStarted)
	if started.Remote != dest || started.Forward != "proxy "+dest || started.SessionID == "" {
		t.Errorf("session_started %+v", started)
	}
	opened := ev.next(t, evConnection)
	if opened.State != "open" || opened.Remote != dest || opened.Protocol != "socks5" {
		t.Errorf("connection event %+v", opened)
	}
	if n := len(h.srv.SessionIDs()); n != 1 {
		t.Errorf("%d sessions for one destination, want 1", n)
	}

	closed := testkit.ClosedPort(t)
	c = testkit.Dial(t, up.Listen)
	if rep := testkit.SOCKS5Connect(t, c, "db.internal", closed); rep != 5 {
		t.Errorf("SOCKS5 reply %d for a closed port, want 5", rep)
	}
	c.Close()
	e := ev.next(t, evError)
	if e.Reply != "SOCKS5 reply 5" || e.Remote != net.JoinHostPort("db.internal", strconv.Itoa(closed)) ||
		!strings.Contains(e.Error, "could not connect") {
		t.Errorf("error event %+v", e)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit code %d; stderr:\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "SOCKS5 reply 5") {
		t.Errorf("stderr does not give the reason:\n%s", errb.String())
	}
	for _, id := range h.srv.SessionIDs() {
		if info := h.srv.Session(id); !info.Ended {
			t.Errorf("session %s still running after the command stopped", id)
		}
	}
}

// TestUpWithProxy: a named tunnel may carry a proxy instead of (or besides) forwards.
func TestUpWithProxy(t *testing.T) {
	h := newHarness(t, nil)
	cfg := filepath.Join(h.home, "config.toml")
	port := echoServer(t, "t")
	err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
[tunnels.jump]
target = "i-0123456789abcdef0"
proxy  = "127.0.0.1:0"
forwards = ["0:localhost:%d"]
`, port)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ev, _, stop := h.startJSON(t, "--config", cfg, "up", "jump")
	var proxyListen string
	for range 2 {
		up := ev.next(t, evTunnelUp)
		if up.Tunnel != "jump" {
			t.Errorf("tunnel_up %+v", up)
		}
		if up.Forward == "proxy" {
			proxyListen = up.Listen
		}
	}
	if proxyListen == "" {
		t.Fatal("no tunnel_up for the proxy")
	}
	c := testkit.Dial(t, proxyListen)
	if rep := testkit.SOCKS5Connect(t, c, "localhost", port); rep != 0 {
		t.Fatalf("SOCKS5 reply %d", rep)
	}
	if got := exchange(t, c, "x"); got != "t:x" {
		t.Fatalf("through the proxy: %q", got)
	}
	c.Close()
	stop()

	r := h.run(t, nil, "--config", cfg, "list")
	if !strings.Contains(r.stdout, "proxy 127.0.0.1:0") {
		t.Errorf("list:\n%s", r.stdout)
	}
}

func TestConfigProxy(t *testing.T) {
	f, err := ParseFile("c.toml", []byte("[tunnels.a]\ntarget = \"i-1\"\nproxy = \"1080\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p := f.Tunnels[0].Proxy; p == nil || p.Address() != "127.0.0.1:1080" || len(f.Tunnels[0].Forwards) != 0 {
		t.Fatalf("tunnel %+v", f.Tunnels[0])
	}
	for _, bad := range []struct{ src, want string }{
		{"[tunnels.a]\ntarget = \"i-1\"\n", "no forwards"},
		{"[tunnels.a]\ntarget = \"i-1\"\nproxy = \"x:y\"\n", "c.toml:3: tunnel \"a\": proxy"},
		{"[tunnels.a]\ntarget = \"i-1\"\nproxy = \"1080\"\n[tunnels.b]\ntarget = \"i-2\"\nforwards = [\"1080:db:5432\"]\n", "both listen on 127.0.0.1:1080"},
	} {
		if _, err := ParseFile("c.toml", []byte(bad.src)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseFile(%q) = %v, want %q", bad.src, err, bad.want)
		}
	}
}

// TestProxySessions: --sessions 2 spreads busy connections to one destination over two sessions.
func TestProxySessions(t *testing.T) {
	h := newHarness(t, &ssmtest.Options{Hosts: map[string]string{"db.internal": "127.0.0.1"}})
	port := echoServer(t, "db")
	ev, errb, stop := h.startJSON(t, "proxy", "--sessions", "2", "i-0123456789abcdef0", "127.0.0.1:0")
	up := ev.next(t, evTunnelUp)
	var conns []net.Conn
	for i := range 3 {
		c := testkit.Dial(t, up.Listen)
		if rep := testkit.SOCKS5Connect(t, c, "db.internal", port); rep != 0 {
			t.Fatalf("SOCKS5 reply %d; stderr:\n%s", rep, errb.String())
		}
		if got := exchange(t, c, fmt.Sprint("p", i)); got != fmt.Sprint("db:p", i) {
			t.Fatalf("through the proxy: %q", got)
		}
		conns = append(conns, c) // kept open: busy
	}
	if n := len(h.srv.SessionIDs()); n != 2 {
		t.Errorf("%d sessions for three busy connections with --sessions 2, want 2", n)
	}
	for _, c := range conns {
		c.Close()
	}
	if code := stop(); code != 0 {
		t.Errorf("exit code %d; stderr:\n%s", code, errb.String())
	}
	if r := h.run(t, nil, "proxy", "--sessions", "0", "i-0123456789abcdef0"); r.code != ExitUsage {
		t.Errorf("--sessions 0: exit %d", r.code)
	}
}

// TestProxyStatusLine: on a terminal a proxy has a status line after the forwards', redrawn with its counts.
func TestProxyStatusLine(t *testing.T) {
	pl, _ := ParseProxyListen("1080")
	p := &proxyRunner{tunnel: "staging", pl: pl, target: "i-0123456789abcdef0"}
	p.sessionsOpen.Store(2)
	p.conns.Store(3)
	p.open.Store(1)
	p.bytesUp.Store(1500)
	p.bytesDn.Store(42)
	var out bytes.Buffer
	r := &reporter{mode: reportTerminal, out: &out, errw: &out, now: time.Now}
	r.addLine(p.statusLine)
	r.mu.Lock()
	r.drawLocked()
	r.clearLocked()
	r.mu.Unlock()
	want := "staging proxy    127.0.0.1:1080 → any host via i-0123456789abcdef0  sessions 2  conns 3 (1 open)  ↑1.5 kB ↓42 B\n\x1b[1A\x1b[J"
	if out.String() != want {
		t.Errorf("drawn %q\nwant  %q", out.String(), want)
	}
}
