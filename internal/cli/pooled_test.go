package cli

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmwire/ssmwire/ssmtest"
)

func TestParseSessions(t *testing.T) {
	for in, want := range map[string]int{"1": 1, "4": 4, "64": 64, "auto": SessionsAuto, "AUTO": SessionsAuto, " 2 ": 2} {
		if got, err := ParseSessions(in); err != nil || got != want {
			t.Errorf("ParseSessions(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "-1", "65", "many", ""} {
		if _, err := ParseSessions(in); err == nil {
			t.Errorf("ParseSessions(%q) accepted", in)
		}
	}
}

func TestParseFileSessions(t *testing.T) {
	f, err := ParseFile("c.toml", []byte(`
[tunnels.a]
target = "web"
forwards = ["1:localhost:2"]
sessions = 4

[tunnels.b]
target = "web"
forwards = ["3:localhost:2"]
sessions = "auto"

[tunnels.c]
target = "web"
forwards = ["4:localhost:2"]
`))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{4, SessionsAuto, 0} {
		if got := f.Tunnels[i].Sessions; got != want {
			t.Errorf("tunnel %s: sessions %d, want %d", f.Tunnels[i].Name, got, want)
		}
	}
	for _, bad := range []string{`0`, `"lots"`, `100`} {
		_, err := ParseFile("c.toml", []byte("[tunnels.a]\ntarget = \"web\"\nforwards = [\"1:localhost:2\"]\nsessions = "+bad+"\n"))
		if err == nil || !strings.Contains(err.Error(), `c.toml:4: tunnel "a": sessions`) {
			t.Errorf("sessions = %s: error %v", bad, err)
		}
	}
}

// forward --sessions 3 spreads concurrent connections over three sessions and ends them all when stopped.
func TestForwardSessions(t *testing.T) {
	h := newHarness(t, nil)
	port := echoServer(t, "e")
	ev, _, stop := h.startJSON(t, "forward", "--sessions", "3", ssmtest.DefaultInstanceID, fmt.Sprintf("0:localhost:%d", port))
	first := ev.next(t, evSessionStarted)
	up := ev.next(t, evTunnelUp)
	var conns []net.Conn
	for i := range 4 {
		c, err := net.Dial("tcp", up.Listen)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := exchange(t, c, fmt.Sprint("hi", i)); got != fmt.Sprint("e:hi", i) {
			t.Fatalf("connection %d: %q", i, got)
		}
		conns = append(conns, c)
	}
	ids := map[string]bool{first.SessionID: true}
	for range 2 {
		ids[ev.next(t, evSessionStarted).SessionID] = true
	}
	if len(ids) != 3 || len(h.srv.SessionIDs()) != 3 {
		t.Fatalf("sessions started %v, on the service %v; want 3", ids, h.srv.SessionIDs())
	}
	for _, c := range conns {
		c.Close()
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	for id := range ids {
		if info := h.srv.Session(id); !info.Ended {
			t.Errorf("session %s still running after the command ended", id)
		}
	}
}

func TestForwardSessionsUsage(t *testing.T) {
	h := newHarness(t, nil)
	r := h.run(t, nil, "forward", "--sessions", "0", ssmtest.DefaultInstanceID, "0:localhost:1")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "sessions") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// sessions = "auto" in a named tunnel gives its forward a pool.
func TestUpSessionsAuto(t *testing.T) {
	h := newHarness(t, nil)
	port := echoServer(t, "p")
	cfg := filepath.Join(h.home, ".config", "ssmwire", "config.toml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cfg, fmt.Sprintf("[tunnels.db]\ntarget = \"ssmtest\"\nforwards = [\"0:localhost:%d\"]\nsessions = \"auto\"\n", port))
	ev, _, stop := h.startJSON(t, "up", "db")
	ev.next(t, evSessionStarted)
	up := ev.next(t, evTunnelUp)
	a, err := net.Dial("tcp", up.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := net.Dial("tcp", up.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if exchange(t, a, "1") != "p:1" || exchange(t, b, "2") != "p:2" {
		t.Fatal("echo through the pool failed")
	}
	ev.next(t, evSessionStarted) // the second connection found the first session busy
	if n := len(h.srv.SessionIDs()); n != 2 {
		t.Fatalf("%d sessions for two concurrent connections in auto mode, want 2", n)
	}
	a.Close()
	b.Close()
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
