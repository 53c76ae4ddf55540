package agent

import (
	"bytes"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// catSession starts a port session in stream mode to an echo server: every input payload comes back as
// output (NonInteractiveCommands would not do: the agent gives commands no standard input).
func catSession(t *testing.T, cfg Config) *testClient {
	echo := startEcho(t)
	cfg.SessionType = Port
	cfg.Properties = portProps("", echo.port, "")
	c := startClient(t, cfg)
	c.handshake("1.2.677.0")
	return c
}

func TestOutOfOrderAndDuplicates(t *testing.T) {
	c := catSession(t, Config{})
	c.mu.Lock()
	c.sendSeq(2, wire.PTOutput, []byte("b"))
	c.sendSeq(1, wire.PTOutput, []byte("a"))
	c.mu.Unlock()
	c.waitAck(2) // ahead of the expected one: acknowledged and buffered
	if got := c.readOutput("ab"); got != "ab" {
		t.Fatalf("output %q", got)
	}
	c.waitAck(1)

	c.mu.Lock()
	c.sendSeq(1, wire.PTOutput, []byte("a")) // old: re-acknowledged, not processed
	c.sendSeq(4, wire.PTOutput, []byte("d"))
	c.sendSeq(4, wire.PTOutput, []byte("d")) // already buffered: a duplicate too
	c.sendSeq(3, wire.PTOutput, []byte("c"))
	c.seq = 5
	c.mu.Unlock()
	c.waitAck(1)
	if got := c.readOutput("cd"); got != "cd" {
		t.Fatalf("output %q", got)
	}
	if d := c.a.Stats().DuplicatesIn; d < 2 {
		t.Fatalf("DuplicatesIn = %d, want ≥ 2", d)
	}
}

func TestStopAcking(t *testing.T) {
	var stop atomic.Bool
	c := catSession(t, Config{StopAcking: &stop})
	stop.Store(true)
	before := c.a.Stats().AcksOut
	seq := c.send(wire.PTOutput, []byte("x"))
	c.readOutput("x")
	if n := c.a.Stats().AcksOut; n != before {
		t.Fatalf("AcksOut went from %d to %d while acks were stopped", before, n)
	}
	// While acks are withheld the client resends; the agent sees duplicates and still acknowledges nothing.
	testkit.WaitFor(t, "client resends counted as duplicates", func() bool { return c.a.Stats().DuplicatesIn > 0 })
	if n := c.a.Stats().AcksOut; n != before {
		t.Fatalf("AcksOut went from %d to %d while acks were stopped", before, n)
	}
	stop.Store(false)
	c.waitAck(seq) // the next resend is a duplicate and is acknowledged again
}

func TestResendHeadAfterDrop(t *testing.T) {
	c := catSession(t, Config{})
	c.dropNext.Store(true)
	if err := c.a.sendStream(wire.PTOutput, []byte("lost once")); err != nil {
		t.Fatal(err)
	}
	if got := c.readOutput("lost once"); got != "lost once" {
		t.Fatalf("output %q", got)
	}
	if r := c.a.Stats().Resends; r == 0 {
		t.Fatal("Resends = 0")
	}
}

func TestPausePublication(t *testing.T) {
	c := catSession(t, Config{})
	// The agent stores a message only after writing it, so an acknowledgement can beat it and the handshake's
	// last message then waits for its resend; the acknowledgement of that resend would also end the pause
	// (§4.6). Start from an empty store.
	testkit.WaitFor(t, "handshake messages acknowledged", func() bool { return c.a.ch.pending() == 0 })
	resends := c.a.Stats().Resends
	c.control(wire.PausePublication)
	if err := c.a.sendStream(wire.PTOutput, []byte("while paused")); err != nil {
		t.Fatal(err)
	}
	if c.a.ch.pending() != 1 || c.a.Stats().MessagesOut == 0 {
		t.Fatal("paused message not sequenced and buffered")
	}
	// Longer than the RTO: the resend scheduler idles while paused.
	select {
	case m := <-c.msgs:
		t.Fatalf("message %q transmitted while paused", m.Payload)
	case <-time.After(400 * time.Millisecond):
	}
	if r := c.a.Stats().Resends; r != resends {
		t.Fatalf("Resends went from %d to %d while paused", resends, r)
	}
	c.control(wire.StartPublication)
	if got := c.readOutput("while paused"); got != "while paused" {
		t.Fatalf("output %q", got)
	}
}

func TestOverdueHeadWritesBack(t *testing.T) {
	var ch channel
	ch.init()
	now := time.Now()
	ch.out.PushBack(&outEntry{seq: 7, frame: []byte("frame"), lastSent: now.Add(-time.Second)})
	if f := ch.overdueHead(now); !bytes.Equal(f, []byte("frame")) {
		t.Fatalf("overdue head not returned: %q", f)
	}
	if f := ch.overdueHead(now.Add(100 * time.Millisecond)); f != nil {
		t.Fatal("head resent again before the RTO passed (LastSentTime not written back)")
	}
	if f := ch.overdueHead(now.Add(300 * time.Millisecond)); f == nil {
		t.Fatal("head not resent after the RTO")
	}
}

func TestRTOUpdate(t *testing.T) {
	var ch channel
	ch.init()
	ch.out.PushBack(&outEntry{seq: 0, lastSent: time.Now().Add(-50 * time.Millisecond)})
	ch.out.PushBack(&outEntry{seq: 1, lastSent: time.Now()})
	ch.acked(0)
	// RTTVAR = ¾·0 + ¼·|100−50| = 12.5 ms; SRTT = ⅞·100 + ⅛·50 = 93.75 ms; RTO = 93.75 + max(10, 50).
	want := 143.75
	if got := float64(ch.rto) / float64(time.Millisecond); math.Abs(got-want) > 3 {
		t.Fatalf("RTO = %.2f ms, want ≈ %.2f", got, want)
	}
	if ch.pending() != 1 || ch.out.Front().Value.(*outEntry).seq != 1 {
		t.Fatal("acked entry not removed")
	}
	ch.acked(42) // unknown: no change
	if ch.pending() != 1 {
		t.Fatal("unknown ack removed an entry")
	}
}
