package cli

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/testkit"
)

func TestPacingFlagsRejectBadValues(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct {
		args     []string
		code     int
		inStderr string
	}{
		{[]string{"--max-payload", "big", "targets"}, ExitUsage, "want a positive number of bytes"},
		{[]string{"--window", "0", "targets"}, ExitUsage, "want a positive number of bytes"},
		{[]string{"--max-payload", "10", "targets"}, ExitError, "MaxPayload 10 out of range"},
		{[]string{"--max-payload", "65536", "--window", "4096", "targets"}, ExitError, "Window 4096 smaller than MaxPayload 65536"},
	} {
		r := h.run(t, nil, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.inStderr) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.inStderr)
		}
	}
}

func TestPacingConfigKeys(t *testing.T) {
	f, err := ParseFile("c.toml", []byte("[tunnels.db]\ntarget = \"i-0123456789abcdef0\"\nforwards = [\"5432:localhost:5432\"]\nmax_payload = 16384\nwindow = 1048576\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p := f.Tunnels[0].Pacing; p != (pacing{MaxPayload: 16384, Window: 1 << 20}) {
		t.Fatalf("pacing %+v", p)
	}
	for src, want := range map[string]string{
		"max_payload = -5\n":                   `c.toml:4: tunnel "db": max_payload -5`,
		"max_payload = 65536\nwindow = 4096\n": "Window 4096 smaller than MaxPayload 65536",
		"max_payload = \"big\"\n":              "max_payload",
	} {
		_, err := ParseFile("c.toml", []byte("[tunnels.db]\ntarget = \"i-0123456789abcdef0\"\nforwards = [\"5432:localhost:5432\"]\n"+src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", src, err, want)
		}
	}
	if p := (pacing{MaxPayload: 16384, Window: 1 << 20}).over(pacing{Window: 4096}); p != (pacing{MaxPayload: 16384, Window: 4096}) {
		t.Errorf("flags over keys: %+v", p)
	}
}

// uploadToSink sends size random bytes through a tunnel's listener and waits for the slow sink to have them all.
func uploadToSink(t *testing.T, listen string, sink *testkit.SlowSink, size int) {
	t.Helper()
	c, err := net.Dial("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, size)
	rand.Read(data)
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	c.Close()
	got := sink.Next(t, 3*time.Minute)
	if got.Bytes != int64(size) || got.SHA256 != sha256.Sum256(data) {
		t.Fatalf("destination got %d bytes (same hash: %v), want %d", got.Bytes, got.SHA256 == sha256.Sum256(data), size)
	}
}

// TestPacingKeysTakeEffect: a tunnel's max_payload reaches its sessions.
func TestPacingKeysTakeEffect(t *testing.T) {
	h := newHarness(t, nil)
	sink := testkit.NewSlowSink(t, 64<<20)
	cfg := filepath.Join(h.home, "c.toml")
	writeFile(t, cfg, fmt.Sprintf("[tunnels.up]\ntarget = \"i-0123456789abcdef0\"\nforwards = [\"0:localhost:%d\"]\nmax_payload = 8192\n", sink.Port))
	ev, errb, stop := h.startJSON(t, "--config", cfg, "up")
	up := ev.next(t, evTunnelUp)
	uploadToSink(t, up.Listen, sink, 1<<20)
	if code := stop(); code != 0 {
		t.Errorf("exit %d; stderr %s", code, errb.String())
	}
	for _, id := range h.srv.SessionIDs() {
		if m := h.srv.Session(id).Stats.MaxClientMessage; m <= ssmwire.DefaultMaxPayload || m > 8192 {
			t.Errorf("largest client message %d bytes with max_payload = 8192", m)
		}
	}
}

// TestForwardSlowDestination64MiB uploads 64 MiB through `ssmwire forward` to a destination reading 2 MiB/s
// with the default pacing: every byte arrives, the emulated service's back-pressure never closes the
// channel, and no data message is sent while paused.
func TestForwardSlowDestination64MiB(t *testing.T) {
	h := newHarness(t, nil)
	sink := testkit.NewSlowSink(t, 2<<20)
	ev, errb, stop := h.startJSON(t, "forward", "i-0123456789abcdef0", fmt.Sprintf("0:localhost:%d", sink.Port))
	up := ev.next(t, evTunnelUp)
	uploadToSink(t, up.Listen, sink, 64<<20)
	if code := stop(); code != 0 {
		t.Errorf("exit %d; stderr %s", code, errb.String())
	}
	for _, id := range h.srv.SessionIDs() {
		st := h.srv.Session(id).Stats
		t.Logf("service: %d pauses, %d sent while paused, %d overflows, max backlog %d, %d client resends, largest message %d",
			st.BacklogPauses, st.SentWhilePaused, st.Overflows, st.MaxBacklog, st.ClientResends, st.MaxClientMessage)
		if st.Overflows != 0 || st.SentWhilePaused != 0 {
			t.Errorf("%d channel_closed for overflow, %d data messages sent while paused", st.Overflows, st.SentWhilePaused)
		}
	}
}
