package session

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ssmwire/ssmwire/protocol"
)

// nextDataIn returns the next input_stream_data message and when it arrived (bubble time), waiting up to d.
func (a *fakeAgent) nextDataIn(d time.Duration) (protocol.Message, time.Time) {
	a.t.Helper()
	deadline := time.Now().Add(d)
	for {
		m, ok := a.nextWithin(time.Until(deadline))
		if !ok {
			a.t.Fatalf("no data message within %v", d)
		}
		if m.MessageType == protocol.TypeInputStreamData {
			return m, time.Now()
		}
	}
}

// TestRTOBacksOffExponentially sends one message that is never acknowledged: every expiry doubles the
// retransmission timeout (RFC 6298 §5.5), far past the official 1 s ceiling.
func TestRTOBacksOffExponentially(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, a := openPipe(t, &Config{MinRTO: 200 * time.Millisecond, ResendTick: 10 * time.Millisecond,
			AckTimeout: time.Hour, PingInterval: time.Hour})
		if err := s.Send(context.Background(), protocol.PayloadOutput, []byte("x")); err != nil {
			t.Fatal(err)
		}
		_, last := a.nextDataIn(time.Second)
		want := 200 * time.Millisecond
		for i := range 9 {
			m, at := a.nextDataIn(time.Minute)
			if m.SequenceNumber != 0 {
				t.Fatalf("resent seq %d", m.SequenceNumber)
			}
			gap := at.Sub(last)
			// The writer looks every ResendTick (10 ms here) and resends once the wait exceeds the timeout.
			if gap <= want || gap > want+20*time.Millisecond {
				t.Fatalf("resend %d after %v, want just over %v", i+1, gap, want)
			}
			last = at
			want = min(2*want, maxRTO)
		}
		if want != maxRTO {
			t.Fatalf("timeout %v after 9 expiries, want the %v ceiling", want, maxRTO)
		}
		if got := s.Stats().Resent; got != 9 {
			t.Fatalf("Resent = %d, want 9", got)
		}
	})
}

// TestKarnsRule checks that an acknowledgement of a resent message gives no RTT sample (the backed-off
// timeout stays), and that the next message acknowledged after one send resets the timeout from its sample.
func TestKarnsRule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, a := openPipe(t, &Config{MinRTO: 200 * time.Millisecond, ResendTick: 10 * time.Millisecond,
			AckTimeout: time.Hour, PingInterval: time.Hour})
		ctx := context.Background()
		if err := s.Send(ctx, protocol.PayloadOutput, []byte("a")); err != nil {
			t.Fatal(err)
		}
		a.nextDataIn(time.Second)
		a.nextDataIn(time.Minute) // resent after 200 ms: the timeout doubles to 400 ms
		m, _ := a.nextDataIn(time.Minute)
		if got := s.currentRTO(); got != 800*time.Millisecond {
			t.Fatalf("RTO after two expiries = %v, want 800ms", got)
		}
		// A long-delayed acknowledgement of the resent message must not be taken as an RTT of 10 s.
		time.Sleep(100 * time.Millisecond)
		a.ack(m)
		synctest.Wait()
		if s.outstanding() {
			t.Fatal("acknowledgement not processed")
		}
		if got := s.currentRTO(); got != 800*time.Millisecond {
			t.Fatalf("RTO after acknowledging a resent message = %v, want 800ms kept (Karn's rule)", got)
		}
		if err := s.Send(ctx, protocol.PayloadOutput, []byte("b")); err != nil {
			t.Fatal(err)
		}
		m, _ = a.nextDataIn(time.Second)
		time.Sleep(50 * time.Millisecond)
		a.ack(m)
		synctest.Wait()
		if s.outstanding() {
			t.Fatal("acknowledgement not processed")
		}
		// srtt 100 ms, rttvar 0 → R = 50 ms: rttvar 12.5 ms, srtt 93.75 ms, RTO 143.75 ms → MinRTO.
		if got := s.currentRTO(); got != 200*time.Millisecond {
			t.Fatalf("RTO after a fresh sample = %v, want 200ms", got)
		}
		if got := s.Stats().Resent; got != 2 {
			t.Fatalf("Resent = %d, want 2", got)
		}
	})
}

// TestLateAcknowledgementsResendOnlyTheOldest: with nothing acknowledged the acknowledgements are late, not
// lost (a slow destination), so an expiry resends only the oldest message. Once a later message is
// acknowledged, every overdue message before it is lost and goes out again at once.
func TestLateAcknowledgementsResendOnlyTheOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, a := openPipe(t, &Config{MinRTO: 200 * time.Millisecond, ResendTick: 10 * time.Millisecond,
			AckTimeout: time.Hour, PingInterval: time.Hour})
		for _, p := range []string{"a", "b", "c", "d"} {
			if err := s.Send(context.Background(), protocol.PayloadOutput, []byte(p)); err != nil {
				t.Fatal(err)
			}
		}
		var sent []protocol.Message
		for range 4 {
			m, _ := a.nextDataIn(time.Second)
			sent = append(sent, m)
		}
		start := time.Now()
		m, at := a.nextDataIn(time.Minute)
		if m.SequenceNumber != 0 || at.Sub(start) > 220*time.Millisecond {
			t.Fatalf("first resend: seq %d after %v, want seq 0 after 200 ms", m.SequenceNumber, at.Sub(start))
		}
		// The next expiry (400 ms later) resends seq 0 again, nothing else.
		m, _ = a.nextDataIn(time.Minute)
		if m.SequenceNumber != 0 {
			t.Fatalf("second resend: seq %d, want 0 only", m.SequenceNumber)
		}
		a.ack(sent[3])
		got := map[int64]bool{}
		for len(got) < 3 {
			m, _ := a.nextDataIn(time.Minute)
			got[m.SequenceNumber] = true
		}
		if !got[0] || !got[1] || !got[2] {
			t.Fatalf("after seq 3 was acknowledged, resent %v; want 0, 1 and 2", got)
		}
		if r := s.Stats().Resent; r != 5 {
			t.Fatalf("Resent = %d, want 5", r)
		}
	})
}
