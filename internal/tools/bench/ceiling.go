package bench

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/gorilla/websocket"

	"github.com/ssmwire/ssmwire/protocol"
)

// relay is the ceiling client: the least a client can do to move bytes through a port session, built only
// from gorilla/websocket and the protocol codec. It answers the handshake, acknowledges every message at
// once, delivers payloads in order, and sends data in messages of a fixed size, keeping each until it is
// acknowledged (resent after 1 s, which on a clean link happens only at the start). The emulator models the
// service's back-pressure (ssmtest.Backlog) and closes the channel of a client that sends too far ahead, so
// the relay too stops on pause_publication until start_publication and keeps at most relayWindow bytes
// unacknowledged. Whatever rate it reaches is the emulator's, not a client's.
type relay struct {
	ws            *websocket.Conn
	chunk         int
	clientVersion string

	wmu      sync.Mutex // one websocket writer at a time; guards seq, unacked, abody, aframe
	seq      int64
	idHi     uint64
	idLo     atomic.Uint64
	unacked  map[int64]sentFrame // sent, not yet acknowledged; resent when overdue
	inflight int                 // payload bytes in unacked
	paused   bool                // pause_publication without start_publication since
	wake     chan struct{}       // cap 1: an acknowledgement or start_publication arrived
	abody    []byte
	aframe   []byte
	ready    chan struct{} // closed on HandshakeComplete

	in      chan []byte // Output payloads, in order
	rest    []byte      // the unread part of the payload Read is on
	done    chan struct{}
	errOnce sync.Once
	err     error
	acks    atomic.Uint64
	resends atomic.Uint64
}

// dialRelay attaches to the session's stream URL and completes the port session's handshake.
func dialRelay(ctx context.Context, s *started, chunk int, clientVersion string) (*relay, error) {
	// Sign the upgrade as plugins since 1.2.764.0 do (docs/protocol.md §3.5), with the SDK's signer.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.StreamURL, nil)
	if err != nil {
		return nil, fmt.Errorf("ceiling: %w", err)
	}
	creds := aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secretAccessKey}
	const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptySHA256, "ssmmessages", region, time.Now()); err != nil {
		return nil, fmt.Errorf("ceiling: sign: %w", err)
	}
	d := *websocket.DefaultDialer
	if s.roots != nil {
		d.TLSClientConfig = &tls.Config{RootCAs: s.roots}
	}
	ws, _, err := d.DialContext(ctx, s.StreamURL, req.Header)
	if err != nil {
		return nil, fmt.Errorf("ceiling: dial: %w", err)
	}
	open, err := json.Marshal(protocol.OpenDataChannelInput{
		MessageSchemaVersion: "1.0",
		RequestId:            newUUID(),
		TokenValue:           s.Token,
		ClientId:             newUUID(),
		ClientVersion:        clientVersion,
	})
	if err != nil {
		ws.Close()
		return nil, err
	}
	if err := ws.WriteMessage(websocket.TextMessage, open); err != nil {
		ws.Close()
		return nil, fmt.Errorf("ceiling: OpenDataChannel: %w", err)
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	r := &relay{
		ws:            ws,
		chunk:         chunk,
		clientVersion: clientVersion,
		idHi:          binary.BigEndian.Uint64(id[:8]),
		unacked:       map[int64]sentFrame{},
		wake:          make(chan struct{}, 1),
		ready:         make(chan struct{}),
		in:            make(chan []byte, 256),
		done:          make(chan struct{}),
	}
	go r.readLoop()
	go r.resendLoop()
	select {
	case <-r.ready:
		return r, nil
	case <-r.done:
		return nil, fmt.Errorf("ceiling: handshake: %w", r.err)
	case <-ctx.Done():
		r.Close()
		return nil, ctx.Err()
	}
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return string(protocol.AppendUUID(nil, b))
}

func (r *relay) fail(err error) {
	r.errOnce.Do(func() {
		r.err = err
		close(r.done)
		r.ws.Close()
	})
}

// Close ends the relay's websocket.
func (r *relay) Close() error {
	r.fail(net.ErrClosed)
	return nil
}

func (r *relay) messageID() [16]byte {
	var id [16]byte
	binary.BigEndian.PutUint64(id[:8], r.idHi)
	binary.BigEndian.PutUint64(id[8:], r.idLo.Add(1))
	return id
}

// send writes one input_stream_data message.
func (r *relay) send(pt protocol.PayloadType, payload []byte) error {
	r.wmu.Lock()
	for r.paused || (r.inflight > 0 && r.inflight+len(payload) > relayWindow) {
		r.wmu.Unlock()
		select {
		case <-r.wake:
		case <-r.done:
			return r.err
		}
		r.wmu.Lock()
	}
	defer r.wmu.Unlock()
	m := protocol.Message{
		MessageType:    protocol.TypeInputStreamData,
		SchemaVersion:  1,
		CreatedDate:    uint64(time.Now().UnixMilli()),
		SequenceNumber: r.seq,
		MessageID:      r.messageID(),
		PayloadType:    pt,
		Payload:        payload,
	}
	if r.seq == 0 {
		m.Flags = protocol.FlagSYN
	}
	b, err := m.AppendMarshal(make([]byte, 0, m.Size()))
	if err != nil {
		return err
	}
	r.unacked[r.seq] = sentFrame{frame: b, at: time.Now(), size: len(payload)}
	r.inflight += len(payload)
	r.seq++
	if err := r.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		r.fail(err)
		return err
	}
	return nil
}

func (r *relay) ack(m *protocol.Message) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.abody = protocol.AppendAcknowledge(r.abody[:0], m.MessageType, m.MessageID, m.SequenceNumber)
	a := protocol.Message{
		MessageType:   protocol.TypeAcknowledge,
		SchemaVersion: 1,
		CreatedDate:   uint64(time.Now().UnixMilli()),
		Flags:         protocol.FlagSYN | protocol.FlagFIN,
		MessageID:     r.messageID(),
		Payload:       r.abody,
	}
	b, err := a.AppendMarshal(r.aframe[:0])
	if err != nil {
		return err
	}
	r.aframe = b
	if err := r.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		r.fail(err)
		return err
	}
	return nil
}

type sentFrame struct {
	frame []byte
	at    time.Time
	size  int // payload bytes
}

// resendAfter is how long the relay waits for an acknowledgement before sending a message again. On a
// clean link only one thing needs it: the agent drops, unacknowledged, data that arrives before its port
// plugin is up (docs/protocol.md §4.2 as the agent does it).
const resendAfter = time.Second

// relayWindow bounds the relay's unacknowledged bytes, as the emulated service's back-pressure requires.
const relayWindow = 256 << 10

// signal wakes a sender waiting for an acknowledgement or start_publication.
func (r *relay) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *relay) resendLoop() {
	t := time.NewTicker(resendAfter / 3)
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case now := <-t.C:
			r.wmu.Lock()
			if r.paused {
				r.wmu.Unlock()
				continue
			}
			for seq, f := range r.unacked {
				if now.Sub(f.at) < resendAfter {
					continue
				}
				if err := r.ws.WriteMessage(websocket.BinaryMessage, f.frame); err != nil {
					r.wmu.Unlock()
					r.fail(err)
					return
				}
				r.unacked[seq] = sentFrame{frame: f.frame, at: now, size: f.size}
				r.resends.Add(1)
			}
			r.wmu.Unlock()
		}
	}
}

// readLoop acknowledges and delivers the agent's messages in sequence order.
func (r *relay) readLoop() {
	var expected int64
	pending := map[int64]protocol.Message{}
	for {
		_, frame, err := r.ws.ReadMessage()
		if err != nil {
			r.fail(err)
			close(r.in)
			return
		}
		var m protocol.Message
		if err := protocol.Parse(frame, &m); err != nil {
			r.fail(fmt.Errorf("ceiling: %w", err))
			close(r.in)
			return
		}
		switch m.MessageType {
		case protocol.TypeAcknowledge:
			r.acks.Add(1)
			if a, err := protocol.ParseAcknowledge(m.Payload); err == nil {
				r.wmu.Lock()
				if f, ok := r.unacked[a.AcknowledgedMessageSequenceNumber]; ok {
					r.inflight -= f.size
					delete(r.unacked, a.AcknowledgedMessageSequenceNumber)
				}
				r.wmu.Unlock()
				r.signal()
			}
			continue
		case protocol.TypePausePublication, protocol.TypeStartPublication:
			r.wmu.Lock()
			r.paused = m.MessageType == protocol.TypePausePublication
			r.wmu.Unlock()
			r.signal()
			continue
		case protocol.TypeChannelClosed:
			r.fail(io.EOF)
			close(r.in)
			return
		case protocol.TypeOutputStreamData:
		default:
			continue
		}
		if err := r.ack(&m); err != nil {
			close(r.in)
			return
		}
		if m.SequenceNumber < expected {
			continue
		}
		pending[m.SequenceNumber] = m
		for {
			next, ok := pending[expected]
			if !ok {
				break
			}
			delete(pending, expected)
			expected++
			if err := r.dispatch(&next); err != nil {
				r.fail(err)
				close(r.in)
				return
			}
		}
	}
}

func (r *relay) dispatch(m *protocol.Message) error {
	switch m.PayloadType {
	case protocol.PayloadHandshakeRequest:
		var req protocol.HandshakeRequest
		if err := json.Unmarshal(m.Payload, &req); err != nil {
			return err
		}
		resp := protocol.HandshakeResponse{ClientVersion: r.clientVersion}
		for _, a := range req.RequestedClientActions {
			st := protocol.ActionSuccess
			if a.ActionType != protocol.ActionSessionType {
				st = protocol.ActionUnsupported
			}
			resp.ProcessedClientActions = append(resp.ProcessedClientActions, protocol.ProcessedClientAction{
				ActionType: a.ActionType, ActionStatus: st, ActionResult: json.RawMessage("null"),
			})
		}
		b, err := json.Marshal(resp)
		if err != nil {
			return err
		}
		go func() { _ = r.send(protocol.PayloadHandshakeResponse, b) }() // not on the reader: send may block
	case protocol.PayloadHandshakeComplete:
		close(r.ready)
	case protocol.PayloadOutput:
		select {
		case r.in <- m.Payload: // ReadMessage gave us a fresh frame; the payload aliases it
		case <-r.done:
		}
	}
	return nil
}

// Read reads the agent's Output stream.
func (r *relay) Read(p []byte) (int, error) {
	for len(r.rest) == 0 {
		b, ok := <-r.in
		if !ok {
			if errors.Is(r.err, net.ErrClosed) {
				return 0, io.EOF
			}
			return 0, r.err
		}
		r.rest = b
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

// Write sends p as Output messages of at most chunk bytes.
func (r *relay) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := p[:min(len(p), r.chunk)]
		if err := r.send(protocol.PayloadOutput, c); err != nil {
			return n, err
		}
		n += len(c)
		p = p[len(c):]
	}
	return n, nil
}
