package ssmtest

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// attachFake starts a shell session on a fake-agent server and attaches a websocket,
// returning it after the fake agent's "ready" output.
func attachFake(t *testing.T, s *Server) (string, *websocket.Conn, *fakeAgent) {
	t.Helper()
	id, url, token := startShell(t, s)
	ws := dial(t, url, token)
	expectOutput(t, ws, "ready")
	ss := s.lookup(id)
	<-ss.agentReady
	return id, ws, ss.currentAgent().(*fakeAgent)
}

// nextDelivered returns the next frame the fake agent received, decoded.
func nextDelivered(t *testing.T, a *fakeAgent) *wire.Message {
	t.Helper()
	select {
	case b := <-a.delivered:
		m, err := wire.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("agent received nothing")
		return nil
	}
}

func noDelivery(t *testing.T, a *fakeAgent, within time.Duration) {
	t.Helper()
	select {
	case b := <-a.delivered:
		m, _ := wire.Decode(b)
		t.Fatalf("agent received %+v", m)
	case <-time.After(within):
	}
}

func TestFaultDropAndDuplicate(t *testing.T) {
	s := newTestServer(t, nil, true)
	id, ws, a := attachFake(t, s)
	s.Faults().Set(ToAgent, LinkFaults{Drop: 1})
	ws.WriteMessage(websocket.BinaryMessage, input(t, 0, "lost"))
	noDelivery(t, a, 100*time.Millisecond)

	s.Faults().Set(ToAgent, LinkFaults{Duplicate: 1})
	ws.WriteMessage(websocket.BinaryMessage, input(t, 0, "twice"))
	if m1, m2 := nextDelivered(t, a), nextDelivered(t, a); string(m1.Payload) != "twice" || string(m2.Payload) != "twice" {
		t.Errorf("delivered %q, %q", m1.Payload, m2.Payload)
	}
	f := s.Session(id).Stats.Faults
	if f.ToAgent.Dropped != 1 || f.ToAgent.Duplicated != 1 || f.ToClient != (LinkFaultStats{}) || f.Total() != 2 {
		t.Errorf("faults %+v", f)
	}
}

func TestFaultCorruptDigest(t *testing.T) {
	s := newTestServer(t, nil, true)
	id, ws, _ := attachFake(t, s)
	s.Faults().Set(ToClient, LinkFaults{Corrupt: 1})
	ws.WriteMessage(websocket.BinaryMessage, input(t, 0, "x"))
	for range 2 { // the ack and the echo
		m, err := readMessage(t, ws)
		if err != nil {
			t.Fatal(err)
		}
		if m.DigestOK() {
			t.Errorf("%s seq %d arrived with a valid digest", m.Type, m.Seq)
		}
	}
	if got := s.Session(id).Stats.Faults.ToClient.Corrupted; got != 2 {
		t.Errorf("Corrupted = %d, want 2", got)
	}
}

func TestFaultDelay(t *testing.T) {
	s := newTestServer(t, nil, true)
	id, ws, a := attachFake(t, s)
	s.Faults().Set(ToAgent, LinkFaults{Delay: 1, DelayBy: 150 * time.Millisecond})
	start := time.Now()
	ws.WriteMessage(websocket.BinaryMessage, input(t, 0, "slow"))
	nextDelivered(t, a)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("delivered after %v, want ≥ 150ms", d)
	}
	if got := s.Session(id).Stats.Faults.ToAgent.Delayed; got != 1 {
		t.Errorf("Delayed = %d", got)
	}
}

func TestFaultReorder(t *testing.T) {
	s := newTestServer(t, nil, true)
	id, ws, a := attachFake(t, s)
	s.Faults().Set(ToAgent, LinkFaults{Reorder: 1, ReorderHold: 5 * time.Second})
	ws.WriteMessage(websocket.BinaryMessage, input(t, 0, "first"))
	ws.WriteMessage(websocket.BinaryMessage, input(t, 1, "second"))
	if m1, m2 := nextDelivered(t, a), nextDelivered(t, a); m1.Seq != 1 || m2.Seq != 0 {
		t.Errorf("delivered seq %d then %d, want 1 then 0", m1.Seq, m2.Seq)
	}
	// With nothing following, a held frame goes out after ReorderHold.
	s.Faults().Set(ToAgent, LinkFaults{Reorder: 1, ReorderHold: 20 * time.Millisecond})
	ws.WriteMessage(websocket.BinaryMessage, input(t, 2, "third"))
	if m := nextDelivered(t, a); m.Seq != 2 {
		t.Errorf("delivered seq %d, want 2", m.Seq)
	}
	if got := s.Session(id).Stats.Faults.ToAgent.Reordered; got != 2 {
		t.Errorf("Reordered = %d, want 2", got)
	}
}

func TestFaultKillEvery(t *testing.T) {
	s := newTestServer(t, nil, true)
	id, ws, a := attachFake(t, s)
	s.Faults().KillEvery.Store(2000)
	// 900 payload bytes in and their 900-byte echo stay under the budget: the frames' headers and the
	// acknowledgement (about 400 bytes more) are not counted. 200 more bytes go over it.
	ws.WriteMessage(websocket.BinaryMessage, input(t, 0, string(make([]byte, 900))))
	nextDelivered(t, a)
	expectType(t, ws, wire.OutputStreamData)
	if got := s.Session(id).Stats.Faults.Kills; got != 0 {
		t.Fatalf("killed after 900 payload bytes: Kills = %d", got)
	}
	ws.WriteMessage(websocket.BinaryMessage, input(t, 1, string(make([]byte, 200))))
	if code := closeCode(t, ws); code != websocket.CloseAbnormalClosure && code != -1 {
		t.Errorf("close code %d, want an abrupt close (1006 or a reset)", code)
	}
	if got := s.Session(id).Stats.Faults.Kills; got != 1 {
		t.Errorf("Kills = %d", got)
	}
}

func TestFaultCloseNormalAndCloseClientConnections(t *testing.T) {
	s := newTestServer(t, nil, true)
	id, ws, _ := attachFake(t, s)
	s.Faults().CloseNormal()
	if code := closeCode(t, ws); code != websocket.CloseNormalClosure {
		t.Errorf("CloseNormal: close code %d, want 1000", code)
	}
	info := s.Session(id)
	if info.Ended || info.Stats.Faults.NormalCloses != 1 {
		t.Errorf("after CloseNormal: ended %v, faults %+v", info.Ended, info.Stats.Faults)
	}
	_, url, token := startShell(t, s)
	ws = dial(t, url, token)
	expectOutput(t, ws, "ready")
	s.CloseClientConnections()
	if code := closeCode(t, ws); code != websocket.CloseAbnormalClosure {
		t.Errorf("CloseClientConnections: close code %d, want 1006", code)
	}
	if st := s.Stats(); st.Faults.Kills != 1 || st.Faults.NormalCloses != 1 || st.SessionsActive != 2 {
		t.Errorf("server stats %+v", st)
	}
}

func TestFaultPause(t *testing.T) {
	s := newTestServer(t, nil, true)
	id, ws, a := attachFake(t, s)
	s.Faults().Pause(30 * time.Millisecond)
	if m := expectType(t, ws, wire.PausePublication); m == nil {
		return
	}
	expectType(t, ws, wire.StartPublication)
	if m1, m2 := nextDelivered(t, a), nextDelivered(t, a); m1.Type != wire.PausePublication || m2.Type != wire.StartPublication {
		t.Errorf("agent got %s then %s", m1.Type, m2.Type)
	}
	if got := s.Session(id).Stats.Faults.Pauses; got != 1 {
		t.Errorf("Pauses = %d", got)
	}
}

func TestFaultStopAcking(t *testing.T) {
	s := newTestServer(t, nil, true)
	id, ws, _ := attachFake(t, s)
	s.Faults().StopAcking.Store(true)
	ws.WriteMessage(websocket.BinaryMessage, input(t, 0, "hello"))
	if m := expectOutput(t, ws, "hello"); m.Seq != 1 {
		t.Errorf("echo seq %d", m.Seq)
	}
	st := s.Session(id).Stats
	if st.AcksToClient != 0 || st.Faults.WithheldAcks != 1 {
		t.Errorf("stats %+v", st)
	}
	s.Faults().Reset()
	if s.Faults().StopAcking.Load() || s.Faults().Link(ToAgent) != (LinkFaults{}) {
		t.Error("Reset left faults on")
	}
}

func TestFaultSeedReproducible(t *testing.T) {
	run := func(seed uint64) (drops []bool) {
		f := newFaults(nil, seed)
		f.Set(ToClient, LinkFaults{Drop: 0.5})
		for range 64 {
			drops = append(drops, f.decide(ToClient).drop)
		}
		return drops
	}
	a, b, c := run(7), run(7), run(8)
	if !equalBools(a, b) {
		t.Error("same seed, different decisions")
	}
	if equalBools(a, c) {
		t.Error("different seeds, same 64 decisions")
	}
}

func equalBools(a, b []bool) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	testkit.CheckGoroutines(t, nil) // first, so that it checks after every cleanup
	s := NewServer(&Options{NoPacing: true})
	_, url, token := startShell(t, s)
	c := &rawClient{t: t, ws: dial(t, url, token)}
	c.until(func() bool { return c.stdout.Len() > 0 }) // a real agent with a running shell
	s.Faults().Pause(time.Hour)                        // a pending timer
	s.Close()
	c.ws.Close()
}

func TestCloseReportsStuckWork(t *testing.T) {
	s := NewServer(&Options{CloseTimeout: 10 * time.Millisecond})
	var report testkit.Buffer
	s.closeReport = &report
	release := make(chan struct{})
	s.goTask("stuck task", func() { <-release })
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	testkit.WaitFor(t, "a report", func() bool { return strings.Contains(report.String(), "stuck task (1)") })
	select {
	case <-closed:
		t.Fatal("Close returned while a task was running")
	default:
	}
	close(release)
	<-closed
}
