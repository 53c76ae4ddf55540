package session

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/protocol"
)

// sinkTransport discards what the session writes and never delivers a frame: the test feeds the reader's
// handler directly, so only the session's own allocations are measured.
type sinkTransport struct {
	once   sync.Once
	closed chan struct{}
	wrote  chan struct{}
}

func newSink() *sinkTransport {
	return &sinkTransport{closed: make(chan struct{}), wrote: make(chan struct{}, 1)}
}

func (t *sinkTransport) ReadFrame([]byte) ([]byte, error) { <-t.closed; return nil, io.ErrClosedPipe }
func (t *sinkTransport) WriteBinary([]byte) error {
	select {
	case t.wrote <- struct{}{}:
	default:
	}
	return nil
}
func (t *sinkTransport) WriteText([]byte) error { return nil }
func (t *sinkTransport) Ping() error            { return nil }
func (t *sinkTransport) Close() error           { t.once.Do(func() { close(t.closed) }); return nil }

func openSink(tb testing.TB) *Channel {
	tb.Helper()
	sink := newSink()
	s, err := Open(context.Background(), Info{SessionID: "s", StreamURL: "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s-1", TokenValue: "t"},
		&Config{Dial: func(context.Context, string, http.Header) (Transport, error) { return sink, nil }})
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
}

func newDataPath(tb testing.TB) *dataPath {
	d := &dataPath{s: openSink(tb), payload: make([]byte, DefaultMaxPayload), readBuf: make([]byte, DefaultMaxPayload)}
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
