package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/internal/version"
	"github.com/ssmwire/ssmwire/protocol"
)

func TestOpenSendsOpenDataChannel(t *testing.T) {
	s, a := openPipe(t, nil)
	if err := s.SendSize(context.Background(), 80, 24); err != nil {
		t.Fatal(err)
	}
	m := a.nextData()
	if a.opened.TokenValue != "secret-token" || a.opened.MessageSchemaVersion != "1.0" ||
		a.opened.ClientVersion != version.Version || a.opened.RequestId == "" || a.opened.ClientId == "" {
		t.Fatalf("OpenDataChannel = %+v", a.opened)
	}
	if m.SequenceNumber != 0 || m.PayloadType != protocol.PayloadSize || string(m.Payload) != `{"cols":80,"rows":24}` {
		t.Fatalf("first message = seq %d type %v %q", m.SequenceNumber, m.PayloadType, m.Payload)
	}
}

func TestNoHandshakeSessionReadyOnFirstOutput(t *testing.T) {
	s, a := openPipe(t, nil)
	a.output(protocol.PayloadOutput, []byte("sh-5.2$ "))
	hs, err := s.Ready(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if hs.SessionType != protocol.SessionTypeStandardStream || hs.Handshaked {
		t.Fatalf("handshake = %+v", hs)
	}
	buf := make([]byte, 100)
	n, err := s.Read(buf)
	if err != nil || string(buf[:n]) != "sh-5.2$ " {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if got := a.nextAck(); got != 0 {
		t.Fatalf("ack for seq %d, want 0", got)
	}
}

// TestPortHandshake runs in a synctest bubble, so "Ready has not returned yet" is checked once every goroutine
// is blocked, not after a guessed pause.
func TestPortHandshake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, a := openPipe(t, nil)
		a.handshake(protocol.SessionTypePort, `{"portNumber":"22","type":"LocalPortForwarding"}`,
			protocol.RequestedClientAction{ActionType: "FutureAction", ActionParameters: json.RawMessage(`{}`)})
		if got := a.nextAck(); got != 0 {
			t.Fatalf("ack seq %d", got)
		}
		m := a.nextData()
		if m.PayloadType != protocol.PayloadHandshakeResponse || m.SequenceNumber != 0 {
			t.Fatalf("got %v seq %d", m.PayloadType, m.SequenceNumber)
		}
		var resp protocol.HandshakeResponse
		if err := json.Unmarshal(m.Payload, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.ClientVersion != version.Version || len(resp.ProcessedClientActions) != 2 {
			t.Fatalf("response = %s", m.Payload)
		}
		if pa := resp.ProcessedClientActions[0]; pa.ActionType != protocol.ActionSessionType || pa.ActionStatus != protocol.ActionSuccess {
			t.Fatalf("SessionType action = %+v", pa)
		}
		// An action we do not know is answered as unsupported, never as success (the official plugin's bug).
		if pa := resp.ProcessedClientActions[1]; pa.ActionType != "FutureAction" || pa.ActionStatus != protocol.ActionUnsupported {
			t.Fatalf("unknown action = %+v", pa)
		}
		a.ack(m)
		readyErr := make(chan error, 1)
		go func() { _, err := s.Ready(context.Background()); readyErr <- err }()
		synctest.Wait()
		select {
		case err := <-readyErr:
			t.Fatalf("Ready returned before HandshakeComplete: %v", err)
		default:
		}
		hc, _ := json.Marshal(protocol.HandshakeComplete{HandshakeTimeToComplete: time.Second, CustomerMessage: "hello"})
		a.output(protocol.PayloadHandshakeComplete, hc)
		if err := <-readyErr; err != nil {
			t.Fatal(err)
		}
		hs, _ := s.Ready(context.Background())
		if hs.SessionType != protocol.SessionTypePort || hs.AgentVersion != "3.3.987.0" || hs.CustomerMessage != "hello" ||
			!hs.Handshaked || string(hs.Properties) != `{"portNumber":"22","type":"LocalPortForwarding"}` {
			t.Fatalf("handshake = %+v", hs)
		}
	})
}

func TestInvalidHandshakeJSONEndsSession(t *testing.T) {
	s, a := openPipe(t, nil)
	a.output(protocol.PayloadHandshakeRequest, []byte(`{"AgentVersion":`))
	_, err := s.Ready(context.Background())
	if !errors.Is(err, ErrHandshake) {
		t.Fatalf("Ready = %v, want ErrHandshake", err)
	}
	<-s.Done()
}

func TestInOrderDeliveryDuplicatesAndReordering(t *testing.T) {
	s, a := openPipe(t, nil)
	a.outputAt(2, protocol.PayloadOutput, []byte("c"))
	a.outputAt(1, protocol.PayloadOutput, []byte("b"))
	a.outputAt(1, protocol.PayloadOutput, []byte("b")) // duplicate of a buffered one
	a.outputAt(0, protocol.PayloadOutput, []byte("a"))
	a.outputAt(0, protocol.PayloadOutput, []byte("a")) // duplicate of a delivered one
	a.outputAt(3, protocol.PayloadOutput, []byte("d"))
	got := make(map[int64]int)
	for range 6 {
		got[a.nextAck()]++
	}
	if got[0] != 2 || got[1] != 2 || got[2] != 1 || got[3] != 1 {
		t.Fatalf("acks per seq = %v; every message and every duplicate must be acknowledged", got)
	}
	var buf bytes.Buffer
	p := make([]byte, 10)
	for buf.Len() < 4 {
		n, err := s.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(p[:n])
	}
	if buf.String() != "abcd" {
		t.Fatalf("delivered %q, want abcd", buf.String())
	}
	if st := s.Stats(); st.DuplicatesReceived != 2 || st.OutOfOrder != 2 || st.MessagesReceived != 4 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestDigestMismatchIsDroppedUnacknowledged(t *testing.T) {
	s, a := openPipe(t, nil)
	b := a.build(protocol.TypeOutputStreamData, 0, protocol.PayloadOutput, []byte("good"))
	b[len(b)-1] ^= 0xff
	a.sendRaw(b)
	a.outputAt(0, protocol.PayloadOutput, []byte("good"))
	if got := a.nextAck(); got != 0 {
		t.Fatal(got)
	}
	p := make([]byte, 10)
	n, _ := s.Read(p)
	if string(p[:n]) != "good" {
		t.Fatalf("read %q", p[:n])
	}
	if st := s.Stats(); st.Rejected != 1 || st.AcksSent != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestWindowBackPressureAndAck(t *testing.T) {
	s, a := openPipe(t, &Config{MaxPayload: 1024, Window: 4096})
	for i := range 4 {
		if err := s.Send(context.Background(), protocol.PayloadOutput, bytes.Repeat([]byte{byte(i)}, 1024)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := s.Send(ctx, protocol.PayloadOutput, []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send with a full window = %v, want it to block until the deadline", err)
	}
	first := a.nextData()
	done := make(chan error, 1)
	go func() { done <- s.Send(context.Background(), protocol.PayloadOutput, []byte("y")) }()
	a.ack(first)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for want := int64(1); want <= 4; want++ {
		if m := a.nextData(); m.SequenceNumber != want {
			t.Fatalf("seq %d, want %d", m.SequenceNumber, want)
		}
	}
}

func TestPausePublicationStopsTransmission(t *testing.T) {
	s, a := openPipe(t, nil)
	a.control(protocol.TypePausePublication, nil)
	testkit.WaitFor(t, "pause", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.paused })
	if err := s.Send(context.Background(), protocol.PayloadOutput, []byte("held")); err != nil {
		t.Fatal(err)
	}
	if m, ok := a.nextWithin(50 * time.Millisecond); ok {
		t.Fatalf("sent %q while paused", m.Payload)
	}
	a.control(protocol.TypeStartPublication, nil)
	if m := a.nextData(); string(m.Payload) != "held" {
		t.Fatalf("got %q", m.Payload)
	}
}

func TestChannelClosed(t *testing.T) {
	for _, tc := range []struct {
		output  string
		wantErr bool
	}{{"", false}, {"command failed to start", true}} {
		t.Run(fmt.Sprintf("output=%q", tc.output), func(t *testing.T) {
			s, a := openPipe(t, nil)
			a.output(protocol.PayloadOutput, []byte("bye"))
			cc, _ := json.Marshal(protocol.ChannelClosed{SessionId: "s-1", MessageType: "channel_closed", SchemaVersion: 1, Output: tc.output})
			a.nextAck()
			a.control(protocol.TypeChannelClosed, cc)
			<-s.Done()
			b, err := io.ReadAll(s)
			if err != nil || string(b) != "bye" {
				t.Fatalf("ReadAll = %q, %v", b, err)
			}
			var ce *ChannelClosedError
			if got := errors.As(s.Err(), &ce); got != tc.wantErr {
				t.Fatalf("Err = %v", s.Err())
			}
			if out, ok := s.ChannelClosedOutput(); !ok || out != tc.output {
				t.Fatalf("ChannelClosedOutput = %q, %v", out, ok)
			}
		})
	}
}

// TestFullReceiveBufferLeavesMessageUnacknowledged runs in a synctest bubble: "no answer" means none once every
// goroutine is blocked, not none within a guessed pause. A message of ours awaits acknowledgement, so the
// reader does not wait for room (it must read the acknowledgement): in-order data borrows, then is refused.
func TestFullReceiveBufferLeavesMessageUnacknowledged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 8 bytes of receive buffer and 4 of out-of-order room, which in-order data may borrow.
		s, a := openPipe(t, &Config{RecvBuffer: 8, OutOfOrderBuffer: 4})
		if err := s.Send(context.Background(), protocol.PayloadOutput, []byte("unacknowledged")); err != nil {
			t.Fatal(err)
		}
		a.nextData()
		a.output(protocol.PayloadOutput, []byte("12345678"))
		a.nextAck()
		a.outputAt(1, protocol.PayloadOutput, []byte("abc")) // borrowed room
		if got := a.nextAck(); got != 1 {
			t.Fatal(got)
		}
		a.outputAt(2, protocol.PayloadOutput, []byte("de")) // 13 bytes would exceed 8+4
		synctest.Wait()
		select {
		case f := <-a.tr.in:
			t.Fatalf("client answered a message it could not take (a %d-byte frame)", len(f.b))
		default:
		}
		p := make([]byte, 11)
		if n, _ := io.ReadFull(s, p); n != 11 || string(p) != "12345678abc" {
			t.Fatal(n, string(p))
		}
		a.outputAt(2, protocol.PayloadOutput, []byte("de")) // the agent's retransmission
		if got := a.nextAck(); got != 2 {
			t.Fatal(got)
		}
		// The refused copy is counted as deferred only, not as received.
		if st := s.Stats(); st.MessagesReceived != 3 || st.BytesReceived != 13 || st.Deferred != 1 || st.Waits != 0 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

func TestExitCodeStdErrAndFlags(t *testing.T) {
	flags := make(chan protocol.PayloadFlag, 1)
	s, a := openPipe(t, &Config{OnFlag: func(f protocol.PayloadFlag) { flags <- f }})
	a.output(protocol.PayloadStdErr, []byte("oops\n"))
	a.output(protocol.PayloadTypeFlag, protocol.AppendFlag(nil, protocol.FlagConnectToPortError))
	a.output(protocol.PayloadExitCode, []byte("EXIT_CODE: 3"))
	if f := <-flags; f != protocol.FlagConnectToPortError {
		t.Fatal(f)
	}
	p := make([]byte, 10)
	n, err := s.Stderr().Read(p)
	if err != nil || string(p[:n]) != "oops\n" {
		t.Fatalf("stderr %q %v", p[:n], err)
	}
	testkit.WaitFor(t, "exit code", func() bool { _, ok := s.ExitCode(); return ok })
	if c, _ := s.ExitCode(); c != 3 {
		t.Fatal(c)
	}
}

// TestBlockingCallsUnblockOnClose runs in a synctest bubble so that Close comes exactly when every call blocks.
func TestBlockingCallsUnblockOnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := openPipe(t, &Config{MaxPayload: 1024, Window: 1024})
		if err := s.Send(context.Background(), protocol.PayloadOutput, make([]byte, 1024)); err != nil {
			t.Fatal(err)
		}
		errs := make(chan string, 4)
		go func() { _, err := s.Read(make([]byte, 1)); errs <- "Read: " + fmt.Sprint(err) }()
		go func() { _, err := s.Stderr().Read(make([]byte, 1)); errs <- "Stderr: " + fmt.Sprint(err) }()
		go func() { _, err := s.Ready(context.Background()); errs <- "Ready: " + fmt.Sprint(err) }()
		go func() { _, err := s.Write([]byte("blocked by the window")); errs <- "Write: " + fmt.Sprint(err) }()
		synctest.Wait() // all four are blocked now: Close must be what ends them
		s.Close()
		for range 4 {
			select {
			case e := <-errs:
				if !strings.Contains(e, "closed") {
					t.Errorf("%s: want an error naming the close", e)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a blocking call did not return after Close")
			}
		}
	})
}

func TestDroppedConnectionWithoutSSMEndsSession(t *testing.T) {
	s, a := openPipe(t, nil)
	a.tr.Close()
	<-s.Done()
	if !errors.Is(s.Err(), ErrConnectionLost) {
		t.Fatalf("Err = %v", s.Err())
	}
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("Read = %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{{MaxPayload: 10}, {MaxPayload: 4096, Window: 1024}, {RecvBuffer: -1}, {PingInterval: -1}} {
		if _, err := c.withDefaults(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	_, err := Open(context.Background(), Info{SessionID: "x", StreamURL: "http://x", TokenValue: "t"}, nil)
	if err == nil || strings.Contains(err.Error(), "t\"") {
		t.Fatalf("Open with an http URL = %v", err)
	}
}

var _ = errTest
