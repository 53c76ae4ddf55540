package session

import (
	"encoding/json"
	"time"

	"github.com/ssmwire/ssmwire/protocol"
)

// handleFrame processes one websocket frame on the reader goroutine.
func (s *Channel) handleFrame(frame []byte) {
	var m protocol.Message
	if err := protocol.Parse(frame, &m); err != nil {
		// A corrupt message is dropped unacknowledged; the agent sends it again.
		s.stats.rejected.Add(1)
		s.cfg.Logger.Debug("dropping invalid message", "session", s.id, "err", err)
		return
	}
	switch m.MessageType {
	case protocol.TypeOutputStreamData:
		s.heard(time.Now())
		s.onStreamData(&m, frame)
	case protocol.TypeAcknowledge:
		ack, err := protocol.ParseAcknowledge(m.Payload)
		if err != nil {
			s.stats.rejected.Add(1)
			s.cfg.Logger.Debug("dropping invalid acknowledgement", "session", s.id, "err", err)
			return
		}
		s.onAck(ack.AcknowledgedMessageSequenceNumber)
	case protocol.TypeChannelClosed:
		s.onChannelClosed(m.Payload)
	case protocol.TypePausePublication:
		s.onPause(time.Now())
	case protocol.TypeStartPublication:
		s.onStart(time.Now())
	default:
		s.cfg.Logger.Debug("ignoring message", "session", s.id, "type", m.MessageType)
	}
}

// onStreamData implements the receive side of docs/protocol.md §4.2, with duplicates re-acknowledged.
func (s *Channel) onStreamData(m *protocol.Message, frame []byte) {
	seq := m.SequenceNumber
	switch {
	case seq == s.expected:
		if m.PayloadType == protocol.PayloadOutput {
			if s.stdout.fits(len(m.Payload)) {
				s.stalled = false
			} else if !s.stalled && !s.awaitRoom(len(m.Payload)) {
				s.stats.deferred.Add(1)
				return // the websocket or the session ended meanwhile: unacknowledged, the agent resends
			}
		}
		// Refusing an in-order message costs a whole agent retransmission timeout (the agent resends only
		// its oldest message, once per RTO), so while the room kept for out-of-order messages is unused the
		// receive buffer may borrow it: memory stays within RecvBuffer plus the out-of-order bound. This
		// happens only when awaitRoom does not wait (messages of ours await acknowledgement, or Read has
		// stalled), or for StdErr.
		borrow := s.stdout.len()+s.stderr.len()+len(m.Payload) <= s.cfg.RecvBuffer+s.cfg.OutOfOrderBuffer-s.oooBytes
		if !s.dispatch(m, borrow) {
			s.stats.deferred.Add(1)
			return // not accepted now: no ack, the agent resends
		}
		s.queueAck(m)
		s.expected++
		s.drainOutOfOrder()
	case seq > s.expected:
		if _, ok := s.ooo[seq]; ok {
			s.stats.duplicates.Add(1)
			s.queueAck(m)
			return
		}
		if len(s.ooo) >= maxOutOfOrder || s.oooBytes+len(frame) > s.cfg.OutOfOrderBuffer {
			return // no room: unacknowledged, so it comes again
		}
		s.ooo[seq] = append([]byte(nil), frame...)
		s.oooBytes += len(frame)
		s.stats.outOfOrder.Add(1)
		s.queueAck(m)
	default:
		s.stats.duplicates.Add(1)
		s.queueAck(m)
	}
}

// awaitRoom waits, on the reader goroutine, until Read has made room in the receive buffer for an Output
// payload of n bytes. This is back-pressure, as in AWS's plugin, which writes what it receives to the local
// side on its websocket reader: while the application is slower than the agent, the websocket is not read,
// TCP's window closes, and the agent's data waits in the kernel and on the agent rather than in our heap.
// The alternative, refusing the message, costs a whole agent retransmission timeout per refusal.
//
// Not reading the websocket also delays the acknowledgements of what we send, and anything else the
// service says, so the reader waits only while nothing of ours awaits acknowledgement. A message queued
// meanwhile (a local client that writes while it does not read, a stream being opened, a flag) ends the
// wait, and the message may then borrow room as it did before (onStreamData): no deadlock, no spurious
// retransmission, no acknowledgement timeout. A pause_publication or ping that arrives during the wait is
// read after it, which is harmless as we have nothing to send.
//
// An application that stops reading altogether (a paused terminal) must not hold the websocket unread for
// long, though: a service that cannot write to a client for some seconds drops the connection (ssmtest's
// emulated MGS after 10 s), which costs a resume, or the session where none is possible. So after
// stallTimeout without room the reader stops waiting and goes back to borrowing (Channel.stalled) until
// Read has caught up.
//
// It returns true to go on with the message, false when the websocket or the session ended meanwhile.
func (s *Channel) awaitRoom(n int) bool {
	var connDone <-chan struct{}
	if s.recvConn != nil {
		connDone = s.recvConn.done
	}
	waited := false
	defer func() {
		s.mu.Lock()
		s.recvWaiting = false
		s.mu.Unlock()
		s.stdout.disarm()
		if waited {
			s.stallTimer.Stop()
		}
	}()
	for {
		s.mu.Lock()
		busy := s.inflight > 0 || len(s.out) > 0
		s.recvWaiting = !busy
		s.mu.Unlock()
		if busy || !s.stdout.arm(n) {
			return true
		}
		if !waited {
			waited = true
			s.stats.waits.Add(1)
			if s.stallTimer == nil {
				s.stallTimer = time.NewTimer(stallTimeout)
			} else {
				s.stallTimer.Reset(stallTimeout)
			}
		}
		select {
		case <-s.stdout.room:
		case <-s.sendWake:
		case <-s.stallTimer.C:
			s.stalled = true
			return true
		case <-connDone:
			return false
		case <-s.done:
			return false
		}
	}
}

// stallTimeout is how long the reader waits for Read to make room before it reads on (see awaitRoom):
// far longer than a busy application takes to read, far shorter than a service's write timeout.
const stallTimeout = 2 * time.Second

// drainOutOfOrder delivers buffered messages that are now in order. They were acknowledged when they
// arrived, so they are delivered even past the receive buffer's limit (which the out-of-order cap bounds).
func (s *Channel) drainOutOfOrder() {
	for len(s.ooo) > 0 {
		raw, ok := s.ooo[s.expected]
		if !ok {
			return
		}
		delete(s.ooo, s.expected)
		s.oooBytes -= len(raw)
		var m protocol.Message
		if err := protocol.Parse(raw, &m); err == nil {
			s.dispatch(&m, true)
		}
		s.expected++
	}
}

// dispatch hands an in-order payload to its consumer. It reports false when the consumer cannot take it now.
// It counts the message before its payload becomes readable, so Stats never lag behind what Read returned,
// and takes the count back when the message is refused (it will come again).
func (s *Channel) dispatch(m *protocol.Message, force bool) bool {
	n := uint64(len(m.Payload))
	s.stats.received.Add(1)
	s.stats.bytesReceived.Add(n)
	if !s.handle(m, force) {
		s.stats.received.Add(^uint64(0))
		s.stats.bytesReceived.Add(-n)
		return false
	}
	return true
}

// handle is dispatch without the counting.
func (s *Channel) handle(m *protocol.Message, force bool) bool {
	switch m.PayloadType {
	case protocol.PayloadHandshakeRequest:
		s.onHandshakeRequest(m.Payload)
	case protocol.PayloadEncChallengeRequest:
		s.onChallengeRequest(m.Payload)
	case protocol.PayloadHandshakeComplete:
		s.onHandshakeComplete(m.Payload)
	case protocol.PayloadOutput, protocol.PayloadStdErr, protocol.PayloadExitCode:
		return s.deliver(m, force)
	case protocol.PayloadTypeFlag:
		f, err := protocol.ParseFlag(m.Payload)
		if err != nil {
			s.cfg.Logger.Debug("ignoring invalid flag", "session", s.id, "err", err)
		} else if h := s.onFlag.Load(); h != nil && *h != nil {
			(*h)(f)
		}
	default:
		s.cfg.Logger.Debug("ignoring payload", "session", s.id, "payloadType", m.PayloadType)
	}
	return true
}

// deliver decrypts (in KMS sessions) and queues an Output, StdErr or ExitCode payload.
func (s *Channel) deliver(m *protocol.Message, force bool) bool {
	payload := m.Payload
	if c := s.hs.cipher(); c != nil {
		plain, err := c.open(payload)
		if err != nil {
			s.fail(ErrDecrypt)
			return false
		}
		payload = plain
	}
	switch m.PayloadType {
	case protocol.PayloadOutput:
		if !s.stdout.push(payload, force) {
			return false
		}
		s.hs.sawOutput()
	case protocol.PayloadStdErr:
		return s.stderr.push(payload, force)
	case protocol.PayloadExitCode:
		code, err := protocol.ParseExitCode(payload)
		if err != nil {
			s.cfg.Logger.Debug("ignoring invalid exit code", "session", s.id, "err", err)
			return true
		}
		s.exitCode.Store(int64(code))
	}
	return true
}

// onChannelClosed ends the session as the service asked (docs/protocol.md §2.5).
func (s *Channel) onChannelClosed(payload []byte) {
	var cc protocol.ChannelClosed
	if err := json.Unmarshal(payload, &cc); err != nil {
		s.cfg.Logger.Debug("invalid channel_closed payload", "session", s.id, "err", err)
	}
	out := cc.Output
	s.closedOut.Store(&out)
	if out != "" {
		s.finish(&ChannelClosedError{SessionID: s.id, Output: out})
		return
	}
	s.finish(nil)
}
