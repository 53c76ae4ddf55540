package agent

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// Deliver hands the agent one frame from MGS. Acknowledgements and publication control are handled at once;
// input_stream_data is queued for the session's processor goroutine, so Deliver blocks only while that
// queue is full (the agent's single reader does the same back-pressure).
func (a *Agent) Deliver(frame []byte) {
	select {
	case <-a.quit:
		return
	default:
	}
	frame = bytes.Clone(frame)
	m, err := wire.Decode(frame)
	if err != nil {
		a.log.Debug("dropping invalid frame", "err", err)
		return
	}
	switch m.Type {
	case wire.Acknowledge:
		a.ch.paused.Store(false)
		var ack wire.AckBody
		if err := json.Unmarshal(m.Payload, &ack); err != nil {
			a.log.Debug("bad acknowledge", "err", err)
			return
		}
		a.stats.acksIn.Add(1)
		a.ch.acked(ack.AcknowledgedMessageSequenceNumber)
	case wire.PausePublication:
		a.ch.paused.Store(true)
	case wire.StartPublication:
		a.ch.paused.Store(false)
	case wire.InputStreamData:
		a.ch.paused.Store(false)
		a.stats.messagesIn.Add(1)
		a.stats.bytesIn.Add(uint64(len(m.Payload)))
		select {
		case a.in <- m:
		case <-a.quit:
		}
	default:
		a.log.Debug("ignoring message", "type", m.Type)
	}
}

// processLoop owns the incoming sequence state: expected sequence number and the out-of-order buffer.
func (a *Agent) processLoop() {
	defer a.wg.Done()
	st := &inState{pending: make(map[int64]*wire.Message)}
	for {
		select {
		case <-a.quit:
			return
		case m := <-a.in:
			a.handleStream(st, m)
		case <-a.readyKick:
			a.drainPending(st)
		}
	}
}

type inState struct {
	expected int64
	pending  map[int64]*wire.Message // messages with seq > expected
}

// handleStream applies §4.2 with the agent's rules: in order → process then ack (no ack when the plugin is
// not ready); ahead → ack and buffer; behind → ack again.
func (a *Agent) handleStream(st *inState, m *wire.Message) {
	switch {
	case m.Seq == st.expected:
		if err := a.dispatch(m); errors.Is(err, errNotReady) {
			return // no ack: the client resends
		} else if err != nil {
			a.log.Debug("input failed", "seq", m.Seq, "err", err)
		}
		a.sendAck(m)
		st.expected++
		a.drainPending(st)
	case m.Seq > st.expected:
		if _, ok := st.pending[m.Seq]; ok {
			a.stats.duplicatesIn.Add(1)
			a.sendAck(m)
			return
		}
		if len(st.pending) >= incomingCapacity {
			return
		}
		st.pending[m.Seq] = m // its payload is in the frame Deliver cloned; nothing else holds it
		a.sendAck(m)
	default:
		a.stats.duplicatesIn.Add(1)
		a.sendAck(m)
	}
}

// drainPending processes buffered messages that have become in order. A message the plugin is not ready
// for stays buffered (it is already acknowledged) until the plugin comes up.
func (a *Agent) drainPending(st *inState) {
	for {
		m, ok := st.pending[st.expected]
		if !ok {
			return
		}
		if err := a.dispatch(m); errors.Is(err, errNotReady) {
			return
		} else if err != nil {
			a.log.Debug("input failed", "seq", m.Seq, "err", err)
		}
		delete(st.pending, st.expected)
		st.expected++
	}
}

// dispatch hands one in-order payload to the handshake or the plugin.
func (a *Agent) dispatch(m *wire.Message) error {
	if !a.handshakeDone.Load() {
		switch m.PayloadType {
		case wire.PTHandshakeResponse:
			var r wire.HandshakeResponse
			if err := json.Unmarshal(m.Payload, &r); err != nil {
				return err
			}
			select {
			case a.hsResponse <- &r:
			default:
			}
		case wire.PTEncChallengeResponse:
			var c wire.EncryptionChallenge
			if err := json.Unmarshal(m.Payload, &c); err != nil {
				return err
			}
			select {
			case a.hsChallenge <- c.Challenge:
			default:
			}
		default:
			// During the handshake anything else is acknowledged and discarded.
		}
		return nil
	}
	box := a.plugin.Load()
	if box == nil {
		return errNotReady
	}
	payload := m.Payload
	if m.PayloadType == wire.PTOutput {
		if cp := a.crypt.Load(); cp != nil {
			plain, err := cp.open(payload)
			if err != nil {
				return err
			}
			payload = plain
		}
	}
	return box.p.input(m.PayloadType, payload)
}
