package session

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ssmwire/ssmwire/protocol"
)

// quiet reports whether the client has sent nothing since the last read, once every goroutine settled.
func (a *fakeAgent) quiet() bool {
	synctest.Wait()
	for {
		select {
		case f := <-a.tr.in:
			if f.text {
				continue
			}
			var m protocol.Message
			if protocol.Parse(f.b, &m) == nil && m.MessageType == protocol.TypeInputStreamData {
				a.t.Logf("sent seq %d %q", m.SequenceNumber, m.Payload)
				return false
			}
		default:
			return true
		}
	}
}

func pacingConfig() *Config {
	return &Config{MaxPayload: 1024, Window: 16 << 10, MinRTO: 200 * time.Millisecond, ResendTick: 10 * time.Millisecond,
		AckTimeout: time.Hour, PingInterval: time.Hour}
}

func sendN(t *testing.T, s *Channel, payloads ...string) {
	t.Helper()
	for _, p := range payloads {
		if err := s.Send(context.Background(), protocol.PayloadOutput, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPauseHoldsAgainstAcknowledgements: pause_publication stops new data and resends at once and halves the
// bound; acknowledgements of data in flight arriving within a second do not undo it; the first one a second
// or more after the pause does.
func TestPauseHoldsAgainstAcknowledgements(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, a := openPipe(t, pacingConfig())
		sendN(t, s, "0", "1", "2", "3")
		var sent []protocol.Message
		for range 4 {
			m, _ := a.nextDataIn(time.Second)
			sent = append(sent, m)
		}
		a.control(protocol.TypePausePublication, nil)
		synctest.Wait()
		if st := s.Stats(); st.Pauses != 1 || st.Bound != 8<<10 {
			t.Fatalf("after a pause: Pauses %d, Bound %d; want 1, 8192", st.Pauses, st.Bound)
		}
		sendN(t, s, "held")
		// Well past the 200 ms timeout: no resends while paused either.
		time.Sleep(500 * time.Millisecond)
		if !a.quiet() {
			t.Fatal("sent while paused")
		}
		a.ack(sent[0])
		time.Sleep(400 * time.Millisecond)
		a.ack(sent[1])
		if !a.quiet() {
			t.Fatal("an acknowledgement 0.9 s into the pause resumed sending")
		}
		time.Sleep(100 * time.Millisecond)
		a.ack(sent[2])
		m, _ := a.nextDataIn(time.Millisecond)
		if string(m.Payload) != "held" {
			t.Fatalf("after the hold got seq %d %q", m.SequenceNumber, m.Payload)
		}
	})
}

// TestStartPublicationResumesAtOnce.
func TestStartPublicationResumesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, a := openPipe(t, pacingConfig())
		a.control(protocol.TypePausePublication, nil)
		synctest.Wait()
		sendN(t, s, "held")
		time.Sleep(100 * time.Millisecond)
		if !a.quiet() {
			t.Fatal("sent while paused")
		}
		a.control(protocol.TypeStartPublication, nil)
		start := time.Now()
		m, at := a.nextDataIn(time.Second)
		if string(m.Payload) != "held" || at != start {
			t.Fatalf("got %q %v after start_publication", m.Payload, at.Sub(start))
		}
	})
}

// TestPauseEndsWhenNothingAwaitsAcknowledgement: with nothing in flight no acknowledgement can come; a pause
// without start_publication must not stall the session for ever. (With something in flight the pause holds
// until the far end answers: TestAckTimeoutWaitsWhilePaused.)
func TestPauseEndsWhenNothingAwaitsAcknowledgement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, a := openPipe(t, pacingConfig())
		a.control(protocol.TypePausePublication, nil)
		synctest.Wait()
		paused := time.Now()
		sendN(t, s, "held")
		m, at := a.nextDataIn(5 * time.Second)
		if d := at.Sub(paused); string(m.Payload) != "held" || d < pauseHold || d > pauseHold+20*time.Millisecond {
			t.Fatalf("got %q %v after the pause, want just after %v", m.Payload, d, pauseHold)
		}
	})
}

// TestBoundGrowsBackAdditively: after a pause halves the bound, each bound's worth of acknowledged bytes
// (about a round trip) adds Window/32, up to Window; a second pause halves it again, down to a floor.
func TestBoundGrowsBackAdditively(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := pacingConfig()
		cfg.Window = 64 << 10 // step 2 KiB
		s, a := openPipe(t, cfg)
		a.control(protocol.TypePausePublication, nil)
		a.control(protocol.TypeStartPublication, nil)
		synctest.Wait()
		if b := s.Stats().Bound; b != 32<<10 {
			t.Fatalf("bound after a pause %d, want 32768", b)
		}
		payload := string(make([]byte, 1024))
		exchange := func(n int) {
			for range n {
				sendN(t, s, payload)
				m, _ := a.nextDataIn(time.Second)
				a.ack(m)
				synctest.Wait()
			}
		}
		exchange(31)
		if b := s.Stats().Bound; b != 32<<10 {
			t.Fatalf("bound %d before a bound's worth was acknowledged, want 32768", b)
		}
		exchange(1)
		if b := s.Stats().Bound; b != 34<<10 {
			t.Fatalf("bound %d after 32 KiB acknowledged, want 34816", b)
		}
		exchange(34)
		if b := s.Stats().Bound; b != 36<<10 {
			t.Fatalf("bound %d, want 36864", b)
		}
		exchange(2000)
		if b := s.Stats().Bound; b != 64<<10 {
			t.Fatalf("bound %d after many round trips, want the 64 KiB cap", b)
		}
		for range 10 {
			a.control(protocol.TypePausePublication, nil)
			a.control(protocol.TypeStartPublication, nil)
		}
		synctest.Wait()
		if b := s.Stats().Bound; b != 4<<10 {
			t.Fatalf("bound %d after 10 pauses, want the floor of 4 messages", b)
		}
	})
}

// TestWriterBlocksOnHalvedBound: after a pause the writers wait for the smaller bound.
func TestWriterBlocksOnHalvedBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, a := openPipe(t, pacingConfig()) // 16 KiB window
		a.control(protocol.TypePausePublication, nil)
		a.control(protocol.TypeStartPublication, nil)
		synctest.Wait()
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.Write(make([]byte, 12<<10))
		}()
		var got []protocol.Message
		for range 8 {
			m, _ := a.nextDataIn(time.Second)
			got = append(got, m)
		}
		if !a.quiet() {
			t.Fatal("sent beyond the halved bound of 8 KiB")
		}
		for _, m := range got {
			a.ack(m)
		}
		for range 4 {
			a.nextDataIn(time.Second)
		}
		<-done
	})
}
