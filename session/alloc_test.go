package session

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/protocol"
)

// sinkTransport discards what the session writes and never delivers a frame: the test feeds the reader's
// handler directly, so only the session's own allocations are measured. It signals wrote when it has
// written a data message of full size (not an acknowledgement).
type sinkTransport struct {
	once   sync.Once
	closed chan struct{}
	wrote  chan struct{}
}

func newSink() *sinkTransport {
	return &sinkTransport{closed: make(chan struct{}), wrote: make(chan struct{}, 1)}
}

func (t *sinkTransport) ReadFrame([]byte) ([]byte, error) { <-t.closed; return nil, io.ErrClosedPipe }
func (t *sinkTransport) WriteBinary(p []byte) error {
	if len(p) == protocol.HeaderSize+DefaultMaxPayload {
		select {
		case t.wrote <- struct{}{}:
		default:
		}
	}
	return nil
}
func (t *sinkTransport) WriteText([]byte) error { return nil }
func (t *sinkTransport) Ping() error            { return nil }
func (t *sinkTransport) Close() error           { t.once.Do(func() { close(t.closed) }); return nil }

func openSink(tb testing.TB) (*Channel, *sinkTransport) {
	sink := newSink()
	return openDial(tb, func(context.Context, string, http.Header) (Transport, error) { return sink, nil }), sink
}

func openDial(tb testing.TB, dial func(context.Context, string, http.Header) (Transport, error)) *Channel {
	tb.Helper()
	s, err := Open(context.Background(), Info{SessionID: "s", StreamURL: "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s-1", TokenValue: "t"},
		&Config{Dial: dial})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// dataPath sends one full-size message and acknowledges it, and receives one full-size message and reads it:
// the steady state of a port forward.
type dataPath struct {
	s       *Channel
	payload []byte
	out     []byte // an output_stream_data frame, seq rewritten each round
	ack     []byte
	body    []byte
	readBuf []byte
	seq     int64
	wrote   chan struct{} // if set, signalled when the data message is written: the round waits for it
}

func newDataPath(tb testing.TB) *dataPath {
	s, sink := openSink(tb)
	d := newDataPathOn(tb, s)
	d.wrote = sink.wrote // the writer's write of each message is measured too
	return d
}

func newDataPathDial(tb testing.TB, dial func(context.Context, string, http.Header) (Transport, error)) *dataPath {
	return newDataPathOn(tb, openDial(tb, dial))
}

func newDataPathOn(tb testing.TB, s *Channel) *dataPath {
	d := &dataPath{s: s, payload: make([]byte, DefaultMaxPayload), readBuf: make([]byte, DefaultMaxPayload)}
	d.out = make([]byte, 0, protocol.HeaderSize+DefaultMaxPayload)
	d.ack = make([]byte, 0, 512)
	d.body = make([]byte, 0, 256)
	return d
}

func (d *dataPath) round(tb testing.TB) {
	s := d.s
	if err := s.Send(context.Background(), protocol.PayloadOutput, d.payload); err != nil {
		tb.Fatal(err)
	}
	if d.wrote != nil {
		<-d.wrote // else the acknowledgement may come first, and the writer skip the message
	}
	d.body = protocol.AppendAcknowledge(d.body[:0], protocol.TypeInputStreamData, [16]byte{1}, d.seq)
	m := protocol.Message{MessageType: protocol.TypeAcknowledge, SchemaVersion: 1, CreatedDate: 1, Flags: 3, Payload: d.body}
	d.ack, _ = m.AppendMarshal(d.ack[:0])
	s.handleFrame(d.ack)
	m = protocol.Message{MessageType: protocol.TypeOutputStreamData, SchemaVersion: 1, CreatedDate: 1, SequenceNumber: d.seq, PayloadType: protocol.PayloadOutput, Payload: d.payload}
	d.out, _ = m.AppendMarshal(d.out[:0])
	s.handleFrame(d.out)
	for n := 0; n < len(d.payload); {
		k, err := s.Read(d.readBuf)
		if err != nil {
			tb.Fatal(err)
		}
		n += k
	}
	d.seq++
}

func TestSteadyStateDataPathDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race; scripts/test runs this test without -race")
	}
	d := newDataPath(t)
	for range 50 {
		d.round(t) // warm the pools
	}
	testkit.WaitBlocked(t, "(*Channel).writeLoop") // the writer has sent everything the warm-up queued
	allocs := testing.AllocsPerRun(200, func() { d.round(t) })
	if allocs > 0 {
		t.Fatalf("%.1f allocations per message round trip, want 0", allocs)
	}
}

func BenchmarkDataPath(b *testing.B) {
	d := newDataPath(b)
	b.ReportAllocs()
	b.SetBytes(int64(2 * len(d.payload)))
	for b.Loop() {
		d.round(b)
	}
}

// TestNoGoroutineLeaks opens and ends sessions in each way they can end and counts goroutines after.
func TestNoGoroutineLeaks(t *testing.T) {
	testkit.CheckGoroutines(t, nil) // first, so that it checks after every cleanup
	for range 5 {
		s, a := openPipe(t, nil)
		a.output(protocol.PayloadOutput, []byte("x"))
		s.Close()
		s2, a2 := openPipe(t, nil)
		a2.tr.Close()
		<-s2.Done()
		s2.Close()
		s3, _ := openResumable(t, &fakeSSM{noToken: true})
		s3.Close()
	}
}

// sinkServer is a websocket server that reads and discards what it is sent, without allocating (gorilla's
// reader would allocate per message, and AllocsPerRun counts every goroutine's allocations).
func sinkServer(tb testing.TB, useTLS bool) (string, *Dialer) {
	return wsServer(tb, useTLS, func(ws *websocket.Conn) {
		buf := make([]byte, 64<<10)
		for {
			if _, err := ws.NetConn().Read(buf); err != nil {
				return
			}
		}
	})
}

// TestWebsocketWriteDoesNotAllocate: writing a data message on the real websocket transport, in a batch as
// the writer does, allocates nothing, plain and over TLS.
func TestWebsocketWriteDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race; scripts/test runs this test without -race")
	}
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "tls"}[useTLS], func(t *testing.T) {
			url, d := sinkServer(t, useTLS)
			tr := dialWS(t, url, d)
			msg := make([]byte, protocol.HeaderSize+DefaultMaxPayload)
			batch := func() {
				tr.Cork()
				for range 8 {
					if err := tr.WriteBinary(msg); err != nil {
						t.Fatal(err)
					}
				}
				if err := tr.Uncork(); err != nil {
					t.Fatal(err)
				}
			}
			for range 50 {
				batch()
			}
			if allocs := testing.AllocsPerRun(200, batch); allocs > 0 {
				t.Fatalf("%.2f allocations per batch of 8 messages, want 0", allocs)
			}
			if allocs := testing.AllocsPerRun(200, func() {
				if err := tr.WriteBinary(msg); err != nil {
					t.Fatal(err)
				}
			}); allocs > 0 {
				t.Fatalf("%.2f allocations per message outside a batch, want 0", allocs)
			}
		})
	}
}

// signalTransport signals wrote when it has written a data message of full size (not an acknowledgement).
type signalTransport struct {
	*wsTransport
	wrote chan struct{}
}

func (t signalTransport) WriteBinary(p []byte) error {
	err := t.wsTransport.WriteBinary(p)
	if len(p) == protocol.HeaderSize+DefaultMaxPayload {
		select {
		case t.wrote <- struct{}{}:
		default: // a resend's signal is still waiting
		}
	}
	return err
}

// TestSteadyStateDataPathOverWebsocketDoesNotAllocate is TestSteadyStateDataPathDoesNotAllocate with the
// session's writer writing every message to a real websocket on loopback.
func TestSteadyStateDataPathOverWebsocketDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race; scripts/test runs this test without -race")
	}
	url, d := sinkServer(t, false)
	wrote := make(chan struct{}, 1)
	dp := newDataPathDial(t, func(ctx context.Context, _ string, h http.Header) (Transport, error) {
		tr, err := d.Dial(ctx, url, h)
		if err != nil {
			return nil, err
		}
		return signalTransport{tr.(*wsTransport), wrote}, nil
	})
	dp.wrote = wrote
	for range 50 {
		dp.round(t)
	}
	testkit.WaitBlocked(t, "(*Channel).writeLoop")
	allocs := testing.AllocsPerRun(200, func() { dp.round(t) })
	if allocs > 0 {
		t.Fatalf("%.1f allocations per message round trip, want 0", allocs)
	}
}

// TestWebsocketReadDoesNotAllocate: reading messages from the real websocket transport, a ping among them,
// allocates nothing once the message buffer has grown, plain and over TLS.
func TestWebsocketReadDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race; scripts/test runs this test without -race")
	}
	msg := serverFrame(true, opBinary, make([]byte, protocol.HeaderSize+DefaultMaxPayload))
	ping := serverFrame(true, opPing, []byte("ping"))
	stream := append(bytes.Repeat(msg, 7), ping...)
	stream = append(stream, msg...)
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "tls"}[useTLS], func(t *testing.T) {
			url, d := wsServer(t, useTLS, func(ws *websocket.Conn) {
				go io.Copy(io.Discard, ws.NetConn()) // the pongs
				for {
					if _, err := ws.NetConn().Write(stream); err != nil {
						return
					}
				}
			})
			tr := dialWS(t, url, d)
			tr.SetWakeup(func() {})
			var buf []byte
			read8 := func() {
				for range 8 {
					m, err := tr.ReadFrame(buf)
					if err != nil {
						t.Fatal(err)
					}
					buf = m
				}
				if err := tr.WritePong(); err != nil {
					t.Fatal(err)
				}
			}
			for range 50 {
				read8()
			}
			if allocs := testing.AllocsPerRun(200, read8); allocs > 0 {
				t.Fatalf("%.2f allocations per 8 messages and a ping, want 0", allocs)
			}
		})
	}
}
