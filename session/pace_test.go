package session

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ssmwire/ssmwire/protocol"
)

// arrivals sends n full messages after a first one acknowledged rtt later (the path's round-trip sample),
// and returns when each of the n reached the agent, relative to the first of them.
func arrivals(t *testing.T, rtt time.Duration, n int) []time.Duration {
	s, a := openPipe(t, pacingConfig())
	sendN(t, s, "probe")
	m, _ := a.nextDataIn(time.Second)
	time.Sleep(rtt)
	a.ack(m)
	synctest.Wait()
	payload := strings.Repeat("x", 1024)
	go func() {
		for range n {
			if err := s.Send(context.Background(), protocol.PayloadOutput, []byte(payload)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var at []time.Duration
	var first time.Time
	for i := range n {
		_, when := a.nextDataIn(time.Minute)
		if i == 0 {
			first = when
		}
		at = append(at, when.Sub(first))
	}
	return at
}

// TestPacingSpreadsTheWindow: over a 100 ms path a window of 16 messages does not leave at once. A burst
// of two (paceBurst: an eighth of the 16 KiB bound, at least two messages) goes at once, the rest at
// 1.25 × bound per round trip (16 KiB per 80 ms, one message every 5 ms), so the window is out within the
// round trip and no faster.
func TestPacingSpreadsTheWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at := arrivals(t, 100*time.Millisecond, 15)
		for i := range 2 {
			if at[i] != 0 {
				t.Fatalf("message %d of the burst arrived %v after the first", i, at[i])
			}
		}
		for i := 2; i < len(at); i++ {
			want := time.Duration(i-1) * 5 * time.Millisecond
			if at[i] < want-time.Microsecond || at[i] > want+time.Millisecond {
				t.Fatalf("message %d arrived %v after the first, want %v (arrivals %v)", i, at[i], want, at)
			}
		}
		if last := at[len(at)-1]; last >= 100*time.Millisecond {
			t.Fatalf("the window took %v, longer than the round trip", last)
		}
	})
}

// TestNoPacingOnShortPaths: below paceMinRTT (loopback, a local network) the window leaves at once.
func TestNoPacingOnShortPaths(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at := arrivals(t, time.Millisecond, 15)
		for i, d := range at {
			if d != 0 {
				t.Fatalf("message %d arrived %v after the first on a 1 ms path", i, d)
			}
		}
	})
}

// TestPaceBucket: the bucket fills at the rate and holds at most a burst; a held-back writer waits for a
// quantum of tokens (a sixteenth of the bound), not for one message, and says how long.
func TestPaceBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Channel{cfg: Config{MaxPayload: 1024}, bound: 64 << 10}
		s.pace.sampleRTT(10*time.Millisecond, time.Now())
		// rate: 1.25 × 64 KiB per 10 ms = 8 KiB per ms; burst: 8 KiB; quantum: 4 KiB.
		for i := range 8 {
			if !s.paceLocked(1024) {
				t.Fatalf("message %d of a full bucket held back", i)
			}
		}
		if s.paceLocked(1024) {
			t.Fatal("a ninth message went with an empty bucket")
		}
		if want := 500 * time.Microsecond; s.pace.wait < want || s.pace.wait > want+time.Microsecond {
			t.Fatalf("wait %v, want %v (a quantum)", s.pace.wait, want)
		}
		time.Sleep(200 * time.Microsecond) // tokens for one message, not for a quantum
		if s.paceLocked(1024) {
			t.Fatal("a held-back writer sent before a quantum of tokens came in")
		}
		time.Sleep(300 * time.Microsecond)
		for i := range 4 {
			if !s.paceLocked(1024) {
				t.Fatalf("message %d of a quantum held back", i)
			}
		}
		if s.paceLocked(1024) {
			t.Fatal("a fifth message went on a quantum of four")
		}
		time.Sleep(time.Hour)
		for i := range 8 {
			if !s.paceLocked(1024) {
				t.Fatalf("after an hour, message %d held back", i)
			}
		}
		if s.paceLocked(1024) {
			t.Fatal("the bucket held more than a burst")
		}
		if got := s.stats.paced.Load(); got != 4 {
			t.Fatalf("paced %d, want 4", got)
		}
	})
}

// TestMinRTTEpochs: the path's round trip is the smallest sample of this epoch and the last, so a path that
// got longer is learnt within two epochs.
func TestMinRTTEpochs(t *testing.T) {
	var p pacer
	t0 := time.Unix(1000, 0)
	p.sampleRTT(5*time.Millisecond, t0)
	p.sampleRTT(9*time.Millisecond, t0.Add(time.Second))
	if got := p.pathRTT(); got != 5*time.Millisecond {
		t.Fatalf("pathRTT %v, want 5ms", got)
	}
	p.sampleRTT(30*time.Millisecond, t0.Add(minRTTEpoch))
	if got := p.pathRTT(); got != 5*time.Millisecond {
		t.Fatalf("one epoch on: pathRTT %v, want the last epoch's 5ms", got)
	}
	p.sampleRTT(40*time.Millisecond, t0.Add(2*minRTTEpoch))
	if got := p.pathRTT(); got != 30*time.Millisecond {
		t.Fatalf("two epochs on: pathRTT %v, want 30ms", got)
	}
	p.sampleRTT(0, t0.Add(2*minRTTEpoch))
	if got := p.pathRTT(); got != 30*time.Millisecond {
		t.Fatalf("a zero sample changed pathRTT to %v", got)
	}
}

// TestPingMeasuresTheRoundTrip: the pong of our ping reports the round trip, once per ping; a pong nobody
// asked for reports nothing.
func TestPingMeasuresTheRoundTrip(t *testing.T) {
	url, d := wsServer(t, false, func(ws *websocket.Conn) {
		ws.SetPingHandler(func(data string) error {
			time.Sleep(20 * time.Millisecond) // the service's side of the round trip
			return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		_ = ws.WriteControl(websocket.PongMessage, nil, time.Now().Add(time.Second)) // unsolicited
		_ = ws.WriteMessage(websocket.BinaryMessage, []byte("ready"))
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	})
	tr := dialWS(t, url, d)
	rtts := make(chan time.Duration, 4)
	tr.SetRTTHandler(func(d time.Duration) { rtts <- d })
	if got, err := tr.ReadFrame(nil); err != nil || string(got) != "ready" {
		t.Fatalf("ReadFrame = %q, %v", got, err)
	}
	select {
	case d := <-rtts:
		t.Fatalf("an unsolicited pong reported a round trip of %v", d)
	default:
	}
	go func() {
		for {
			if _, err := tr.ReadFrame(nil); err != nil {
				return
			}
		}
	}()
	if err := tr.Ping(); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-rtts:
		if d < 20*time.Millisecond {
			t.Fatalf("round trip %v, shorter than the server's 20 ms", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no round trip reported")
	}
	tr.Close()
	select {
	case d := <-rtts:
		t.Fatalf("a second round trip reported (%v) for one ping", d)
	default:
	}
}

// TestPaceBurstAndQuantum: the burst is an eighth of the bound and never below two messages, so 32 KiB
// messages of the opt-in leave two at a time rather than a fifth of the service's back-pressure mark each;
// a held-back writer waits for a sixteenth of the bound, at least a message, at most a burst.
func TestPaceBurstAndQuantum(t *testing.T) {
	for _, c := range []struct {
		payload, bound int
		burst, quantum float64
	}{
		{1 << 10, 256 << 10, 32 << 10, 16 << 10},  // the defaults
		{32 << 10, 512 << 10, 64 << 10, 32 << 10}, // the opt-in README suggests
		{32 << 10, 1 << 20, 128 << 10, 64 << 10},
		{1 << 10, 4 << 10, 2 << 10, 1 << 10}, // a bound halved to its floor
	} {
		s := &Channel{cfg: Config{MaxPayload: c.payload}, bound: c.bound}
		if b, q := s.paceBurst(), s.paceQuantum(); b != c.burst || q != c.quantum {
			t.Errorf("payload %d, bound %d: burst %v, quantum %v; want %v, %v", c.payload, c.bound, b, q, c.burst, c.quantum)
		}
	}
}
