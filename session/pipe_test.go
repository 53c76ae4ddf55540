package session

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/protocol"
)

// memTransport is one end of an in-memory frame pipe: the session's seam for tests of retransmission,
// reordering and duplicates without sockets.
type memTransport struct {
	in     chan frame
	out    chan frame
	peer   *memTransport
	once   *sync.Once    // shared by both ends
	closed chan struct{} // shared by both ends
	pings  atomic.Int64  // websocket pings sent from this end
}

type frame struct {
	text bool
	b    []byte
}

func newMemPipe() (client, agent *memTransport) {
	a2c := make(chan frame, 1024)
	c2a := make(chan frame, 1024)
	closed := make(chan struct{})
	once := new(sync.Once)
	client = &memTransport{in: a2c, out: c2a, closed: closed, once: once}
	agent = &memTransport{in: c2a, out: a2c, closed: closed, once: once}
	client.peer, agent.peer = agent, client
	return client, agent
}

func (t *memTransport) ReadFrame(buf []byte) ([]byte, error) {
	select {
	case f := <-t.in:
		return append(buf[:0], f.b...), nil
	case <-t.closed:
		return nil, io.ErrClosedPipe
	}
}

func (t *memTransport) write(f frame) error {
	select {
	case <-t.closed:
		return io.ErrClosedPipe
	default:
	}
	select {
	case t.out <- f:
		return nil
	case <-t.closed:
		return io.ErrClosedPipe
	}
}

func (t *memTransport) WriteBinary(p []byte) error {
	return t.write(frame{b: append([]byte(nil), p...)})
}
func (t *memTransport) WriteText(p []byte) error {
	return t.write(frame{text: true, b: append([]byte(nil), p...)})
}
func (t *memTransport) Ping() error {
	t.pings.Add(1)
	select {
	case <-t.closed:
		return io.ErrClosedPipe // as a websocket's ping fails once the connection is gone
	default:
		return nil
	}
}
func (t *memTransport) Close() error {
	t.once.Do(func() { close(t.closed) })
	return nil
}

// fakeAgent is the far end of a memTransport, scripted by the test with the protocol package.
type fakeAgent struct {
	t      testing.TB
	tr     *memTransport
	seq    int64
	opened protocol.OpenDataChannelInput
}

// next returns the next binary message from the client, failing the test after a timeout.
func (a *fakeAgent) next() protocol.Message {
	a.t.Helper()
	m, ok := a.nextWithin(5 * time.Second)
	if !ok {
		a.t.Fatal("no message from the client")
	}
	return m
}

func (a *fakeAgent) nextWithin(d time.Duration) (protocol.Message, bool) {
	a.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case f := <-a.tr.in:
			if f.text {
				if err := json.Unmarshal(f.b, &a.opened); err != nil {
					a.t.Errorf("OpenDataChannel frame: %v", err)
				}
				continue
			}
			var m protocol.Message
			if err := protocol.Parse(f.b, &m); err != nil {
				a.t.Errorf("client sent an invalid message: %v", err)
				continue
			}
			return m, true
		case <-timer.C:
			return protocol.Message{}, false
		}
	}
}

// nextData skips acknowledgements and returns the next input_stream_data message.
func (a *fakeAgent) nextData() protocol.Message {
	a.t.Helper()
	for {
		m := a.next()
		if m.MessageType == protocol.TypeInputStreamData {
			return m
		}
	}
}

// nextAck skips data and returns the sequence number of the next acknowledgement.
func (a *fakeAgent) nextAck() int64 {
	a.t.Helper()
	for {
		m := a.next()
		if m.MessageType == protocol.TypeAcknowledge {
			ack, err := protocol.ParseAcknowledge(m.Payload)
			if err != nil {
				a.t.Fatalf("bad ack: %v", err)
			}
			return ack.AcknowledgedMessageSequenceNumber
		}
	}
}

func (a *fakeAgent) sendRaw(b []byte) {
	if err := a.tr.WriteBinary(b); err != nil {
		a.t.Errorf("agent write: %v", err)
	}
}

func (a *fakeAgent) build(typ string, seq int64, pt protocol.PayloadType, payload []byte) []byte {
	m := protocol.Message{
		MessageType: typ, SchemaVersion: 1, CreatedDate: uint64(time.Now().UnixMilli()),
		SequenceNumber: seq, MessageID: newMessageID(), PayloadType: pt, Payload: payload,
	}
	b, err := m.AppendMarshal(nil)
	if err != nil {
		a.t.Fatal(err)
	}
	return b
}

// output sends output_stream_data with the agent's next sequence number.
func (a *fakeAgent) output(pt protocol.PayloadType, payload []byte) int64 {
	seq := a.seq
	a.seq++
	a.sendRaw(a.build(protocol.TypeOutputStreamData, seq, pt, payload))
	return seq
}

func (a *fakeAgent) outputAt(seq int64, pt protocol.PayloadType, payload []byte) {
	a.sendRaw(a.build(protocol.TypeOutputStreamData, seq, pt, payload))
}

func (a *fakeAgent) ack(m protocol.Message) {
	body := protocol.AppendAcknowledge(nil, m.MessageType, m.MessageID, m.SequenceNumber)
	a.sendRaw(a.build(protocol.TypeAcknowledge, 0, 0, body))
}

func (a *fakeAgent) control(typ string, payload []byte) {
	a.sendRaw(a.build(typ, 0, 0, payload))
}

func (a *fakeAgent) handshake(sessionType string, props string, actions ...protocol.RequestedClientAction) {
	p := json.RawMessage("null")
	if props != "" {
		p = json.RawMessage(props)
	}
	st, _ := json.Marshal(protocol.SessionTypeRequest{SessionType: sessionType, Properties: p})
	req := protocol.HandshakeRequest{AgentVersion: "3.3.987.0",
		RequestedClientActions: append([]protocol.RequestedClientAction{{ActionType: protocol.ActionSessionType, ActionParameters: st}}, actions...)}
	b, _ := json.Marshal(req)
	a.output(protocol.PayloadHandshakeRequest, b)
}

// openPipe opens a session over an in-memory pipe and returns it with its fake agent.
func openPipe(t testing.TB, cfg *Config) (*Channel, *fakeAgent) {
	t.Helper()
	client, agentEnd := newMemPipe()
	var c Config
	if cfg != nil {
		c = *cfg
	}
	c.Dial = func(ctx context.Context, url string, _ http.Header) (Transport, error) { return client, nil }
	s, err := Open(context.Background(), Info{SessionID: "s-1", StreamURL: "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s-1", TokenValue: "secret-token"}, &c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, &fakeAgent{t: t, tr: agentEnd}
}

var errTest = errors.New("test error")
