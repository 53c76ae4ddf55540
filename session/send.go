package session

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/ssmwire/ssmwire/protocol"
)

// outMsg is one sent data message, kept until acknowledged.
type outMsg struct {
	seq       int64
	buf       []byte // the whole serialized message, resent unchanged
	size      int    // payload bytes counted in inflight
	lastSent  time.Time
	firstSent time.Time
	sends     int
	acked     bool
	popped    bool
	writing   bool
	pooled    *[]byte // framePool buffer holding buf, if any
}

var (
	outMsgPool = sync.Pool{New: func() any { return new(outMsg) }}
	// framePool holds buffers big enough for a default-sized message (the payload, encrypted or not, never
	// exceeds Config.MaxPayload).
	framePool = sync.Pool{New: func() any { b := make([]byte, 0, protocol.HeaderSize+DefaultMaxPayload); return &b }}
)

// Write sends p as Output data, split into messages of at most MaxPayload bytes. It blocks while the window
// of unacknowledged bytes is full. Write implements io.Writer, so a Channel can carry a byte stream (stdin,
// a TCP connection, an smux session).
func (s *Channel) Write(p []byte) (int, error) { return s.WriteContext(context.Background(), p) }

// WriteContext is Write with a context.
//
// The messages of one call are queued in batches (see sendBatch): one lock and one wake-up of the writer
// goroutine per batch, so that the writer sends them together, in one system call, instead of one message,
// one wake-up and one write at a time.
func (s *Channel) WriteContext(ctx context.Context, p []byte) (int, error) {
	n := 0
	var batch [sendBatch]prepared
	for len(p) > 0 {
		k := 0
		for k < len(batch) && len(p) > 0 {
			chunk := min(len(p), s.MaxPayload())
			m, err := s.prepare(protocol.PayloadOutput, p[:chunk])
			if err != nil {
				release(batch[:k])
				return n, err
			}
			batch[k] = m
			k++
			p = p[chunk:]
		}
		done, err := s.commit(ctx, batch[:k], true)
		for _, m := range batch[:done] {
			n += m.plain
		}
		if err != nil {
			release(batch[done:k])
			return n, err
		}
	}
	return n, nil
}

// sendBatch is how many messages WriteContext prepares before queueing them: 32 KiB with the defaults, one
// read of a copy loop.
const sendBatch = 32

// Send sends one input_stream_data message with the given payload type. Output payloads are encrypted in
// KMS sessions. The payload, after encryption, must fit MaxPayload.
func (s *Channel) Send(ctx context.Context, pt protocol.PayloadType, payload []byte) error {
	return s.enqueue(ctx, pt, payload, true)
}

// SendFlag sends a Flag payload (docs/protocol.md §2.3).
func (s *Channel) SendFlag(ctx context.Context, f protocol.PayloadFlag) error {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(f))
	return s.Send(ctx, protocol.PayloadTypeFlag, b[:])
}

// SendSize reports the terminal size (PayloadType Size).
func (s *Channel) SendSize(ctx context.Context, cols, rows uint32) error {
	b, err := json.Marshal(protocol.SizeData{Cols: cols, Rows: rows})
	if err != nil {
		return err
	}
	return s.Send(ctx, protocol.PayloadSize, b)
}

// prepared is a message serialized but not yet queued: its sequence number and time are still zero.
type prepared struct {
	buf    []byte
	pooled *[]byte // framePool buffer holding buf, if any
	size   int     // payload bytes on the wire (after encryption), counted in the window
	plain  int     // the caller's bytes it carries
}

// release gives back the buffers of messages that will not be queued.
func release(ms []prepared) {
	for _, m := range ms {
		if m.pooled != nil {
			framePool.Put(m.pooled)
		}
	}
}

// prepare encrypts (Output payloads of KMS sessions) and serializes one message. It runs before the session
// lock is taken: the digest is most of a message's cost, and the reader goroutine takes the same lock for
// every acknowledgement. The sequence number and the time, known under the lock, are written in commit.
func (s *Channel) prepare(pt protocol.PayloadType, payload []byte) (prepared, error) {
	plain := len(payload)
	if pt == protocol.PayloadOutput {
		if c := s.hs.cipher(); c != nil {
			sealed, err := c.seal(payload)
			if err != nil {
				return prepared{}, fmt.Errorf("session: send: %w", err)
			}
			payload = sealed
		}
	}
	if len(payload) > s.cfg.MaxPayload {
		return prepared{}, fmt.Errorf("session: send: payload of %d bytes exceeds MaxPayload %d", len(payload), s.cfg.MaxPayload)
	}
	var buf []byte
	var pooled *[]byte
	if len(payload) <= DefaultMaxPayload {
		pooled = framePool.Get().(*[]byte)
		buf = (*pooled)[:0]
	}
	m := protocol.Message{
		MessageType:   protocol.TypeInputStreamData,
		SchemaVersion: 1,
		MessageID:     newMessageID(),
		PayloadType:   pt,
		Payload:       payload,
	}
	buf, err := m.AppendMarshal(buf)
	if err != nil {
		if pooled != nil {
			framePool.Put(pooled)
		}
		return prepared{}, fmt.Errorf("session: send: %w", err)
	}
	return prepared{buf: buf, pooled: pooled, size: len(payload), plain: plain}, nil
}

// enqueue prepares and queues one message. With block it waits for window space; the reader goroutine
// passes false for handshake replies.
func (s *Channel) enqueue(ctx context.Context, pt protocol.PayloadType, payload []byte, block bool) error {
	m, err := s.prepare(pt, payload)
	if err != nil {
		return err
	}
	batch := [1]prepared{m}
	if _, err := s.commit(ctx, batch[:], block); err != nil {
		release(batch[:])
		return err
	}
	return nil
}

// commit assigns the next sequence numbers to ms, appends them to the outgoing list and wakes the writer
// once. With block it waits for window space before each message that does not fit, after waking the writer
// for those already queued. It returns how many messages it queued; the caller releases the rest.
func (s *Channel) commit(ctx context.Context, ms []prepared, block bool) (int, error) {
	queued, fresh := 0, 0
	var bytes uint64
	wakeReader := false
	// account counts what was queued since the last wake-up and wakes the writer for it, and the reader
	// if it waits for room (recv.go, awaitRoom). It is called without s.mu.
	account := func() {
		if wakeReader {
			wakeReader = false
			select {
			case s.sendWake <- struct{}{}:
			default:
			}
		}
		if fresh > 0 {
			s.stats.sent.Add(uint64(fresh))
			s.stats.bytesSent.Add(bytes)
			fresh, bytes = 0, 0
			s.kick()
		}
	}
	s.mu.Lock()
	now := uint64(time.Now().UnixMilli())
	for queued < len(ms) {
		m := &ms[queued]
		for block && s.inflight > 0 && (s.inflight+m.size > s.bound || len(s.out) >= maxOutstandingMsgs) {
			s.mu.Unlock()
			account()
			select {
			case <-s.windowCh:
			case <-ctx.Done():
				return queued, fmt.Errorf("session: send: %w", ctx.Err())
			case <-s.done:
				return queued, s.endErr("send")
			}
			s.mu.Lock()
			now = uint64(time.Now().UnixMilli())
		}
		if s.isDone() {
			s.mu.Unlock()
			account()
			return queued, s.endErr("send")
		}
		binary.BigEndian.PutUint64(m.buf[protocol.OffsetCreatedDate:], now)
		binary.BigEndian.PutUint64(m.buf[protocol.OffsetSequenceNumber:], uint64(s.nextSeq))
		e := outMsgPool.Get().(*outMsg)
		*e = outMsg{seq: s.nextSeq, size: m.size, pooled: m.pooled}
		e.buf = m.buf
		s.nextSeq++
		s.out = append(s.out, e)
		s.inflight += e.size
		if s.recvWaiting {
			// The reader waits for the application to make room; it must read acknowledgements now.
			s.recvWaiting = false
			wakeReader = true
		}
		queued++
		fresh++
		bytes += uint64(m.size)
	}
	room := s.inflight < s.bound
	s.mu.Unlock()
	account()
	if room {
		// Pass a window wake-up on to another waiting writer.
		select {
		case s.windowCh <- struct{}{}:
		default:
		}
	}
	return queued, nil
}

// maxOutstandingMsgs bounds the outgoing list by count as well as bytes, so tiny writes cannot grow it
// without limit.
const maxOutstandingMsgs = 8192

// nextToSend returns the next message not yet sent on the current conn, marked as being written, or nil.
func (s *Channel) nextToSend() *outMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pace.wait = 0
	if s.paused || s.conn == nil {
		return nil
	}
	for len(s.out) > 0 {
		idx := s.sentUpTo - s.out[0].seq
		if idx < 0 {
			s.sentUpTo = s.out[0].seq
			continue
		}
		if idx >= int64(len(s.out)) {
			return nil
		}
		e := s.out[idx]
		if e.acked {
			s.sentUpTo++
			continue
		}
		if e.sends == 0 && !s.paceLocked(e.size) {
			return nil
		}
		s.sentUpTo++
		s.markSending(e)
		return e
	}
	return nil
}

// nextOverdue returns an unacknowledged, already sent message that has waited longer than rto and looks
// lost, or nil. The agent acknowledges in sequence order (out-of-order arrivals included), so a message is
// taken for lost when a later one was acknowledged. Otherwise only the oldest is resent: the acknowledgements
// are merely late (a slow destination: the agent acknowledges after writing), and resending the whole window
// would only add to the far end's backlog; the bound on unacknowledged bytes paces the sender, not the timer.
// After a reconnect everything unacknowledged goes out again anyway (startConn).
func (s *Channel) nextOverdue(rto time.Duration) *outMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused || s.conn == nil || len(s.out) == 0 {
		return nil
	}
	now := time.Now()
	limit := s.sentUpTo - s.out[0].seq
	head := true
	for i := int64(0); i < limit && i < int64(len(s.out)); i++ {
		e := s.out[i]
		if e.acked {
			continue
		}
		if !head && e.seq > s.highAcked {
			return nil
		}
		head = false
		if !e.writing && now.Sub(e.lastSent) > rto {
			s.markSending(e)
			return e
		}
	}
	return nil
}

func (s *Channel) markSending(e *outMsg) {
	e.writing = true
	e.lastSent = time.Now()
	if e.sends == 0 {
		e.firstSent = e.lastSent
	}
	e.sends++
}

// ackOverdue reports whether the oldest unacknowledged message has waited longer than AckTimeout.
func (s *Channel) ackOverdue() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused || s.conn == nil {
		return false
	}
	for _, e := range s.out {
		if !e.acked {
			return e.sends > 0 && time.Since(e.firstSent) > s.cfg.AckTimeout
		}
	}
	return false
}

// outstanding reports whether any message awaits acknowledgement.
func (s *Channel) outstanding() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight > 0 || len(s.out) > 0
}

// resendInterval is how long the writer waits before looking for overdue messages: half the current
// timeout, between 5 ms and ResendTick.
func (s *Channel) resendInterval() time.Duration {
	return min(max(s.currentRTO()/2, 5*time.Millisecond), s.cfg.ResendTick)
}

// onAck processes an acknowledgement of our message seq: RTT sample (RFC 6298, docs/protocol.md §4.3; samples
// from retransmitted messages are skipped, Karn's rule), window release, and removal from the list.
func (s *Channel) onAck(seq int64) {
	now := time.Now()
	s.mu.Lock()
	if s.heardLocked(now) {
		defer s.kick() // the pause is over: the writer sends what waited
	}
	if len(s.out) == 0 {
		s.mu.Unlock()
		return
	}
	idx := seq - s.out[0].seq
	if idx < 0 || idx >= int64(len(s.out)) || s.out[idx].acked {
		s.mu.Unlock()
		return
	}
	e := s.out[idx]
	e.acked = true
	s.highAcked = max(s.highAcked, seq)
	s.inflight -= e.size
	s.growLocked(e.size)
	if e.sends == 1 {
		s.updateRTO(float64(now.Sub(e.lastSent)))
		s.pace.sampleRTT(now.Sub(e.lastSent), now)
	}
	s.maybeFree(e)
	n := 0
	for n < len(s.out) && s.out[n].acked {
		s.out[n].popped = true
		s.maybeFree(s.out[n])
		n++
	}
	if n > 0 {
		// Compact in place so the list's backing array is reused, not reallocated.
		k := copy(s.out, s.out[n:])
		clear(s.out[k:])
		s.out = s.out[:k]
	}
	// A writer blocked on the bound is woken only once a few messages fit (windowWake), so that it queues
	// them together and the writer goroutine sends them with one system call, instead of one message, one
	// wake-up of each goroutine and one write per acknowledgement. Nothing else waits for an
	// acknowledgement: the writer goroutine sends whatever is queued and is woken by enqueue.
	wake := s.bound-s.inflight >= s.windowWake() || s.inflight == 0
	s.mu.Unlock()
	s.stats.acksReceived.Add(1)
	if wake {
		select {
		case s.windowCh <- struct{}{}:
		default:
		}
	}
}

// windowWake is how much room in the bound wakes a writer blocked on it: a sixteenth of the bound, at most
// four full messages (4 KiB with the defaults), at least one byte. Called with mu held.
func (s *Channel) windowWake() int {
	return max(min(s.bound/16, 4*s.cfg.MaxPayload), 1)
}

func (s *Channel) updateRTO(r float64) {
	const alpha, beta = 1.0 / 8, 1.0 / 4
	s.rttvar = (1-beta)*s.rttvar + beta*math.Abs(s.srtt-r)
	s.srtt = (1-alpha)*s.srtt + alpha*r
	rto := time.Duration(s.srtt + max(float64(clockGranularity), 4*s.rttvar))
	s.rto = min(max(rto, s.cfg.MinRTO), maxRTO)
}

// backOff doubles the retransmission timeout after it expired (RFC 6298 §5.5), up to maxRTO. The next RTT
// sample from a message sent only once sets it afresh (§5.7). Against a slow destination the agent
// acknowledges only after writing, so acknowledgements come late but nothing is lost; without the backoff
// every late acknowledgement would cost a resend, each of which the destination must also absorb.
func (s *Channel) backOff(from time.Duration) {
	s.mu.Lock()
	if s.rto <= from {
		s.rto = min(2*from, maxRTO)
	}
	s.mu.Unlock()
}

// currentRTO returns the retransmission timeout.
func (s *Channel) currentRTO() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rto
}

// maybeFree recycles e once it is acknowledged and not being written; the struct itself once it also left
// the list. Called with mu held.
func (s *Channel) maybeFree(e *outMsg) {
	if !e.acked || e.writing {
		return
	}
	if e.pooled != nil {
		*e.pooled = e.buf[:0]
		framePool.Put(e.pooled)
		e.pooled = nil
	}
	e.buf = nil
	if e.popped {
		*e = outMsg{}
		outMsgPool.Put(e)
	}
}

// queueAck asks the writer to acknowledge a received data message.
func (s *Channel) queueAck(m *protocol.Message) {
	a := ackReq{seq: m.SequenceNumber, id: m.MessageID, msgType: m.MessageType}
	s.mu.Lock()
	s.pendingAcks = append(s.pendingAcks, a)
	s.recentAcks[s.recentNext%len(s.recentAcks)] = a
	s.recentNext++
	s.mu.Unlock()
	s.kick()
}

// replayRecentAcks queues the acknowledgements of the last messages received again, for a new websocket.
// Acknowledgements in flight when the old one dropped are lost, and the agent resends only its oldest
// unacknowledged message, once per timeout: without the replay it would take a timeout per lost
// acknowledgement to recover. Acknowledging a message twice is harmless. Called with mu held.
func (s *Channel) replayRecentAcks() {
	n := min(s.recentNext, len(s.recentAcks))
	for i := s.recentNext - n; i < s.recentNext; i++ {
		s.pendingAcks = append(s.pendingAcks, s.recentAcks[i%len(s.recentAcks)])
	}
}

// buildAck serializes an acknowledge message (docs/protocol.md §2.4) carrying body into buf.
func buildAck(buf, body []byte) ([]byte, error) {
	m := protocol.Message{
		MessageType:   protocol.TypeAcknowledge,
		SchemaVersion: 1,
		CreatedDate:   uint64(time.Now().UnixMilli()),
		Flags:         protocol.FlagSYN | protocol.FlagFIN,
		MessageID:     newMessageID(),
		Payload:       body,
	}
	return m.AppendMarshal(buf)
}
