package agent

import (
	"bytes"
	"container/list"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// Reliability constants of the agent (§4).
const (
	outgoingCapacity = 100000
	incomingCapacity = 100000
	defaultRTT       = 100 * time.Millisecond
	defaultRTO       = 200 * time.Millisecond
	maxRTO           = time.Second
	clockGranularity = 10 * time.Millisecond
	resendInterval   = 100 * time.Millisecond
	rttAlpha         = 1.0 / 8
	rttBeta          = 1.0 / 4
)

// channel is the agent's outgoing half of the data channel: sequence numbers, the list of unacknowledged
// messages and the retransmission timeout.
type channel struct {
	sendMu  sync.Mutex // orders sequence assignment with transmission, as the agent does
	nextSeq int64

	writeMu sync.Mutex // one writer on the websocket at a time

	mu      sync.Mutex
	out     *list.List // of *outEntry, oldest first
	srtt    float64    // ns
	rttvar  float64    // ns
	rto     time.Duration
	emptied chan struct{} // signalled when out becomes empty

	paused atomic.Bool
}

type outEntry struct {
	seq      int64
	frame    []byte
	lastSent time.Time
}

func (c *channel) init() {
	c.out = list.New()
	c.srtt = float64(defaultRTT)
	c.rto = defaultRTO
	c.emptied = make(chan struct{}, 1)
}

// transmit hands a frame to MGS. Each call gets its own slice.
func (a *Agent) transmit(frame []byte) {
	select {
	case <-a.quit:
		return
	default:
	}
	a.ch.writeMu.Lock()
	defer a.ch.writeMu.Unlock()
	a.cfg.Send(frame)
}

// sendStream sends one output_stream_data message: sequenced, transmitted unless publication is paused, then
// buffered for retransmission (while the buffer has room). Output, StdErr and ExitCode payloads are
// encrypted once KMS encryption is on.
func (a *Agent) sendStream(payloadType uint32, payload []byte) error {
	if cp := a.crypt.Load(); cp != nil && (payloadType == wire.PTOutput || payloadType == wire.PTStdErr || payloadType == wire.PTExitCode) {
		sealed, err := cp.seal(payload)
		if err != nil {
			return err
		}
		payload = sealed
	}
	c := &a.ch
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	seq := c.nextSeq
	var flags uint64
	if seq == 0 {
		flags = wire.SYN
	}
	frame, err := wire.Encode(&wire.Message{
		Type: wire.OutputStreamData, SchemaVersion: 1, CreatedDate: nowMillis(), Seq: seq, Flags: flags,
		ID: wire.NewID(), PayloadType: payloadType, Payload: payload,
	})
	if err != nil {
		return err
	}
	c.nextSeq++
	a.stats.messagesOut.Add(1)
	a.stats.bytesOut.Add(uint64(len(payload)))
	// The agent writes the message to the websocket first and only then adds it to its resend buffer: an
	// acknowledgement arriving in between matches nothing, and the message is resent once overdue (the
	// client's acknowledgement of the duplicate then removes it).
	if !c.paused.Load() {
		a.transmit(bytes.Clone(frame))
	}
	now := time.Now()
	c.mu.Lock()
	if c.out.Len() < outgoingCapacity {
		c.out.PushBack(&outEntry{seq: seq, frame: frame, lastSent: now})
	}
	c.mu.Unlock()
	return nil
}

// acked removes the entry with sequence number seq and updates the RTO from it (§4.3).
func (c *channel) acked(seq int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.out.Front(); e != nil; e = e.Next() {
		ent := e.Value.(*outEntry)
		if ent.seq != seq {
			continue
		}
		r := float64(time.Since(ent.lastSent))
		diff := c.srtt - r
		if diff < 0 {
			diff = -diff
		}
		c.rttvar = (1-rttBeta)*c.rttvar + rttBeta*diff
		c.srtt = (1-rttAlpha)*c.srtt + rttAlpha*r
		rto := time.Duration(c.srtt + max(float64(clockGranularity), 4*c.rttvar))
		c.rto = min(rto, maxRTO)
		c.out.Remove(e)
		if c.out.Len() == 0 {
			select {
			case c.emptied <- struct{}{}:
			default:
			}
		}
		return
	}
}

// overdueHead returns the head's frame if it is overdue, and marks it sent now (the agent writes
// LastSentTime back, so the head goes out at most once per RTO).
func (c *channel) overdueHead(now time.Time) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.out.Front()
	if e == nil {
		return nil
	}
	ent := e.Value.(*outEntry)
	if now.Sub(ent.lastSent) <= c.rto {
		return nil
	}
	ent.lastSent = now
	return bytes.Clone(ent.frame)
}

func (c *channel) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Len()
}

// drain waits until every sent message is acknowledged, or timeout.
func (c *channel) drain(timeout time.Duration) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for c.pending() > 0 {
		select {
		case <-c.emptied:
		case <-t.C:
			return
		}
	}
}

// resendLoop is the agent's resend scheduler: every 100 ms, resend the oldest message if overdue.
func (a *Agent) resendLoop() {
	defer a.wg.Done()
	t := time.NewTicker(resendInterval)
	defer t.Stop()
	for {
		select {
		case <-a.quit:
			return
		case now := <-t.C:
			if a.ch.paused.Load() {
				continue
			}
			if frame := a.ch.overdueHead(now); frame != nil {
				a.stats.resends.Add(1)
				a.transmit(frame)
			}
		}
	}
}

// sendAck acknowledges one client message (seq 0, flags SYN|FIN, payload type 0).
func (a *Agent) sendAck(m *wire.Message) {
	if a.cfg.StopAcking != nil && a.cfg.StopAcking.Load() {
		return
	}
	frame, err := wire.Encode(&wire.Message{
		Type: wire.Acknowledge, SchemaVersion: 1, CreatedDate: nowMillis(), Seq: 0, Flags: wire.SYN | wire.FIN,
		ID: wire.NewID(), Payload: ackBody(m),
	})
	if err != nil {
		return
	}
	a.stats.acksOut.Add(1)
	a.transmit(frame)
}

// ackBody is the JSON of the acknowledgement of m, byte for byte what json.Marshal makes of wire.AckBody,
// written directly when the message type needs no escaping (every type a client sends); json.Marshal's
// reflection was a tenth of the cost of acknowledging a 1 KiB message.
func ackBody(m *wire.Message) []byte {
	for i := 0; i < len(m.Type); i++ {
		if c := m.Type[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			body, _ := json.Marshal(wire.AckBody{
				AcknowledgedMessageType:           m.Type,
				AcknowledgedMessageId:             wire.FormatID(m.ID),
				AcknowledgedMessageSequenceNumber: m.Seq,
				IsSequentialMessage:               true,
			})
			return body
		}
	}
	b := make([]byte, 0, 176)
	b = append(b, `{"AcknowledgedMessageType":"`...)
	b = append(b, m.Type...)
	b = append(b, `","AcknowledgedMessageId":"`...)
	b = append(b, wire.FormatID(m.ID)...)
	b = append(b, `","AcknowledgedMessageSequenceNumber":`...)
	b = strconv.AppendInt(b, m.Seq, 10)
	return append(b, `,"IsSequentialMessage":true}`...)
}

func nowMillis() uint64 { return uint64(time.Now().UnixMilli()) }
