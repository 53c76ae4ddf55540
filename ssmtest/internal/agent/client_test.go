package agent

import (
	"bytes"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

const waitLimit = 10 * time.Second

// testClient plays the Session Manager client against an Agent, using only the wire package. A reader
// goroutine acknowledges every output_stream_data message (unless noAck), drops duplicates and hands
// in-order messages to msgs; acknowledgements from the agent go to acks.
type testClient struct {
	t    testing.TB
	a    *Agent
	msgs chan *wire.Message
	acks chan int64

	noAck atomic.Bool

	noResend atomic.Bool // the test sends each message once (resendLoop idles)
	dropNext atomic.Bool // drop the next output frame as if lost on the way

	mu      sync.Mutex // client sequence numbers, in Deliver order; unacknowledged frames
	seq     int64
	unacked map[int64][]byte

	frames  chan []byte
	stopped chan struct{}
	rawMu   sync.Mutex
	raw     []*wire.Message // every output_stream_data frame received, resends included
}

// startClient starts an agent with cfg (Send is filled in) and a client for it. The agent is terminated and
// checked for leaked goroutines at cleanup.
func startClient(t testing.TB, cfg Config) *testClient {
	t.Helper()
	testkit.CheckGoroutines(t, nil)
	c := &testClient{t: t, msgs: make(chan *wire.Message, 10000), acks: make(chan int64, 10000),
		frames: make(chan []byte, 100000), stopped: make(chan struct{}), unacked: make(map[int64][]byte)}
	cfg.Send = func(frame []byte) {
		select {
		case c.frames <- frame:
		default:
			t.Errorf("test client inbox full")
		}
	}
	if cfg.Version == "" {
		cfg.Version = "3.3.987.0"
	}
	if cfg.SessionID == "" {
		cfg.SessionID = "sess-1"
		cfg.TargetID = "i-0123456789abcdef0"
	}
	a, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	c.a = a
	go c.readLoop()
	go c.resendLoop()
	t.Cleanup(func() {
		a.Terminate()
		select {
		case <-a.Done():
		case <-time.After(waitLimit):
			t.Errorf("agent did not end after Terminate")
		}
		close(c.stopped)
	})
	return c
}

func (c *testClient) readLoop() {
	var expected int64
	for {
		var frame []byte
		select {
		case frame = <-c.frames:
		case <-c.stopped:
			return
		}
		m, err := wire.Decode(frame)
		if err != nil || !m.DigestOK() {
			c.t.Errorf("agent sent a bad frame: %v", err)
			continue
		}
		switch m.Type {
		case wire.Acknowledge:
			var ack wire.AckBody
			if err := json.Unmarshal(m.Payload, &ack); err != nil {
				c.t.Errorf("bad ack payload %q", m.Payload)
				continue
			}
			if m.Seq != 0 || m.Flags != 3 || m.PayloadType != 0 || !ack.IsSequentialMessage || ack.AcknowledgedMessageType != wire.InputStreamData {
				c.t.Errorf("bad ack %+v %+v", m, ack)
			}
			c.mu.Lock()
			delete(c.unacked, ack.AcknowledgedMessageSequenceNumber)
			c.mu.Unlock()
			c.acks <- ack.AcknowledgedMessageSequenceNumber
		case wire.OutputStreamData:
			if c.dropNext.CompareAndSwap(true, false) {
				continue
			}
			c.rawMu.Lock()
			c.raw = append(c.raw, m)
			c.rawMu.Unlock()
			wantFlags := uint64(0)
			if m.Seq == 0 {
				wantFlags = wire.SYN
			}
			if m.Flags != wantFlags {
				c.t.Errorf("output seq %d has flags %d", m.Seq, m.Flags)
			}
			if m.Seq > expected {
				continue // lost predecessor: wait for the resend of the gap (agent resends the head)
			}
			if !c.noAck.Load() {
				c.ack(m)
			}
			if m.Seq == expected {
				expected++
				m.Payload = bytes.Clone(m.Payload)
				c.msgs <- m
			}
		default:
			c.t.Errorf("unexpected message type %q from agent", m.Type)
		}
	}
}

func (c *testClient) ack(m *wire.Message) {
	body, _ := json.Marshal(wire.AckBody{AcknowledgedMessageType: m.Type, AcknowledgedMessageId: wire.FormatID(m.ID),
		AcknowledgedMessageSequenceNumber: m.Seq, IsSequentialMessage: true})
	c.deliver(&wire.Message{Type: wire.Acknowledge, SchemaVersion: 1, CreatedDate: nowMillis(), Flags: 3,
		ID: wire.NewID(), Payload: body})
}

func (c *testClient) deliver(m *wire.Message) {
	frame, err := wire.Encode(m)
	if err != nil {
		c.t.Errorf("encode: %v", err)
		return
	}
	c.a.Deliver(frame)
}

// send sends one input_stream_data message with the next sequence number and returns that number.
func (c *testClient) send(payloadType uint32, payload []byte) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq := c.seq
	c.seq++
	c.sendSeq(seq, payloadType, payload)
	return seq
}

// sendSeq sends with an explicit sequence number (reordering, duplicates). The caller holds c.mu.
func (c *testClient) sendSeq(seq int64, payloadType uint32, payload []byte) {
	frame, err := wire.Encode(&wire.Message{Type: wire.InputStreamData, SchemaVersion: 1, CreatedDate: nowMillis(),
		Seq: seq, ID: wire.NewID(), PayloadType: payloadType, Payload: payload})
	if err != nil {
		c.t.Errorf("encode: %v", err)
		return
	}
	if c.unacked[seq] == nil {
		c.unacked[seq] = frame
	}
	c.a.Deliver(frame)
}

// resendLoop resends every unacknowledged message every 200 ms, like a client's resend scheduler.
func (c *testClient) resendLoop() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.stopped:
			return
		case <-t.C:
		}
		if c.noResend.Load() {
			continue
		}
		c.mu.Lock()
		for _, f := range c.unacked {
			c.a.Deliver(f)
		}
		c.mu.Unlock()
	}
}

func (c *testClient) control(typ string) {
	c.deliver(&wire.Message{Type: typ, SchemaVersion: 1, CreatedDate: nowMillis(), ID: wire.NewID()})
}

// next returns the next in-order message from the agent.
func (c *testClient) next() *wire.Message {
	c.t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(waitLimit):
		c.t.Fatalf("no message from the agent")
		return nil
	}
}

// nextOf returns the next message, which must have payload type pt.
func (c *testClient) nextOf(pt uint32) *wire.Message {
	c.t.Helper()
	m := c.next()
	if m.PayloadType != pt {
		c.t.Fatalf("got payload type %d (%q), want %d", m.PayloadType, m.Payload, pt)
	}
	return m
}

// waitAck waits for the acknowledgement of seq, skipping others.
func (c *testClient) waitAck(seq int64) {
	c.t.Helper()
	c.waitAckUntil(seq, nil)
}

// waitAckOrEnd waits for the acknowledgement of seq, or for the session to end first: a session that fails
// as soon as it has what it needs (a denied host after the handshake) closes before it acknowledges, as the
// agent's acknowledgement follows the handling of the message.
func (c *testClient) waitAckOrEnd(seq int64) {
	c.t.Helper()
	c.waitAckUntil(seq, c.a.Done())
}

// waitAckUntil waits for the acknowledgement of seq, skipping others, until end is closed (nil: never).
func (c *testClient) waitAckUntil(seq int64, end <-chan struct{}) {
	c.t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case s := <-c.acks:
			if s == seq {
				return
			}
		case <-end:
			return
		case <-timeout:
			c.t.Fatalf("no ack for seq %d", seq)
		}
	}
}

// readOutput collects PT1 payloads until want appears in them.
func (c *testClient) readOutput(want string) string {
	c.t.Helper()
	var got []byte
	for !bytes.Contains(got, []byte(want)) {
		m := c.next()
		if m.PayloadType == wire.PTOutput {
			got = append(got, m.Payload...)
		}
	}
	return string(got)
}

// handshake answers the agent's HandshakeRequest with success and waits for HandshakeComplete.
func (c *testClient) handshake(clientVersion string) (wire.HandshakeRequest, wire.HandshakeComplete) {
	c.t.Helper()
	m := c.nextOf(wire.PTHandshakeRequest)
	var req wire.HandshakeRequest
	if err := json.Unmarshal(m.Payload, &req); err != nil {
		c.t.Fatal(err)
	}
	resp := wire.HandshakeResponse{ClientVersion: clientVersion}
	for _, act := range req.RequestedClientActions {
		resp.ProcessedClientActions = append(resp.ProcessedClientActions,
			wire.ProcessedClientAction{ActionType: act.ActionType, ActionStatus: wire.StatusSuccess})
	}
	body, _ := json.Marshal(resp)
	c.waitAckOrEnd(c.send(wire.PTHandshakeResponse, body))
	var done wire.HandshakeComplete
	if err := json.Unmarshal(c.nextOf(wire.PTHandshakeComplete).Payload, &done); err != nil {
		c.t.Fatal(err)
	}
	return req, done
}

// waitDone waits for the session to end and returns Err.
func (c *testClient) waitDone() error {
	c.t.Helper()
	select {
	case <-c.a.Done():
		return c.a.Err()
	case <-time.After(waitLimit):
		c.t.Fatalf("session did not end")
		return nil
	}
}

// rawMessages returns every output_stream_data message received so far, resends included, in arrival order.
func (c *testClient) rawMessages() []*wire.Message {
	c.rawMu.Lock()
	defer c.rawMu.Unlock()
	return append([]*wire.Message(nil), c.raw...)
}
