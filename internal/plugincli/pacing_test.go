package plugincli

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

func TestPacingEnv(t *testing.T) {
	for _, tc := range []struct {
		vars               map[string]string
		maxPayload, window int
		wantErr            string
	}{
		{vars: nil},
		{vars: map[string]string{envMaxPayload: "32768", envWindow: "1048576"}, maxPayload: 32768, window: 1048576},
		{vars: map[string]string{envWindow: "65536"}, window: 65536},
		{vars: map[string]string{envMaxPayload: "32k"}, wantErr: `SSMWIRE_MAX_PAYLOAD="32k": want a positive number of bytes`},
		{vars: map[string]string{envWindow: "-1"}, wantErr: `SSMWIRE_WINDOW="-1"`},
		{vars: map[string]string{envMaxPayload: "10"}, wantErr: "MaxPayload 10 out of range"},
		{vars: map[string]string{envMaxPayload: "65536", envWindow: "4096"}, wantErr: "Window 4096 smaller than MaxPayload 65536"},
	} {
		var cfg ssmwire.ChannelConfig
		err := pacing((&fakeEnv{vars: tc.vars}).env(), &cfg)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err %v, want %q", tc.vars, err, tc.wantErr)
			}
		case err != nil || cfg.MaxPayload != tc.maxPayload || cfg.Window != tc.window:
			t.Errorf("%v: MaxPayload %d, Window %d, err %v", tc.vars, cfg.MaxPayload, cfg.Window, err)
		}
	}
}

// TestPacingEnvInvalidExits: a bad value is a clear error and exit status 1, before any connection.
func TestPacingEnvInvalidExits(t *testing.T) {
	srv := newServer(t)
	_, resp := startSession(t, srv, "", nil)
	r := runMain(t, cliArgs(srv, resp), nil, (&fakeEnv{vars: map[string]string{envMaxPayload: "lots"}}).env())
	if r.code != 1 || !strings.Contains(r.stderr, `SSMWIRE_MAX_PAYLOAD="lots"`) {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if st := srv.Stats(); st.WebsocketsAccepted != 0 {
		t.Fatalf("%d websockets accepted after a bad setting", st.WebsocketsAccepted)
	}
}

// portForward runs Main for a port forwarding session to port with env and returns the local port it opened
// and a function that stops Main and checks its exit status.
func portForward(t *testing.T, srv *ssmtest.Server, port int, env map[string]string) (id, local string, stop func()) {
	t.Helper()
	id, resp := startSession(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {strconv.Itoa(port)}})
	stdout, stderr := new(testkit.Buffer), new(testkit.Buffer)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, cliArgs(srv, resp), newBlockingReader(t), stdout, stderr, (&fakeEnv{vars: env}).env())
	}()
	m := regexp.MustCompile(`Port (\d+) opened`).FindStringSubmatch(stdout.WaitFor(t, "\nWaiting for connections...\n"))
	if m == nil {
		cancel()
		t.Fatalf("no Port line: %q", stdout.String())
	}
	return id, m[1], func() {
		t.Helper()
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit %d; stderr %q", code, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("Main did not return after cancel")
		}
	}
}

// TestPacingEnvTakesEffect: with the opt-in variables set the plugin sends larger messages. (The window stays
// within the emulated service's back-pressure limit: a 1 MiB window can overflow it when the agent lags.)
func TestPacingEnvTakesEffect(t *testing.T) {
	srv := newServer(t)
	id, local, stop := portForward(t, srv, testkit.EchoServer(t), map[string]string{envMaxPayload: "16384", envWindow: "262144"})
	c, err := net.Dial("tcp", "localhost:"+local)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1<<20)
	rand.Read(data)
	go c.Write(data)
	got := make([]byte, len(data))
	c.SetReadDeadline(time.Now().Add(testkit.Timeout))
	if _, err := io.ReadFull(c, got); err != nil || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("echo: %v", err)
	}
	c.Close()
	stop()
	if m := srv.Session(id).Stats.MaxClientMessage; m <= ssmwire.DefaultMaxPayload || m > 16384 {
		t.Fatalf("largest client message %d bytes with SSMWIRE_MAX_PAYLOAD=16384", m)
	}
}

// TestSlowDestinationUpload64MiB uploads 64 MiB through the plugin to a destination reading 2 MiB/s, with
// the default pacing: every byte arrives, the emulated service's back-pressure never closes the channel,
// and no data message is sent while paused. (With the old defaults, 32 KiB messages and 1 MiB unacknowledged
// with acknowledgements ending every pause, this failed: see BENCHMARKS.md, "Pacing".)
func TestSlowDestinationUpload64MiB(t *testing.T) {
	const size, rate = 64 << 20, 2 << 20
	srv := newServer(t)
	sink := testkit.NewSlowSink(t, rate)
	id, local, stop := portForward(t, srv, sink.Port, nil)
	c, err := net.Dial("tcp", "localhost:"+local)
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
	stop()
	st := srv.Session(id).Stats
	t.Logf("service: %d pauses, %d starts, %d sent while paused, %d overflows, max backlog %d, %d client resends, largest message %d",
		st.BacklogPauses, st.BacklogStarts, st.SentWhilePaused, st.Overflows, st.MaxBacklog, st.ClientResends, st.MaxClientMessage)
	if got.Bytes != size || got.SHA256 != sha256.Sum256(data) {
		t.Fatalf("destination got %d bytes (same hash: %v), want %d", got.Bytes, got.SHA256 == sha256.Sum256(data), size)
	}
	if st.Overflows != 0 || st.SentWhilePaused != 0 {
		t.Fatalf("%d channel_closed for overflow, %d data messages sent while paused", st.Overflows, st.SentWhilePaused)
	}
}
