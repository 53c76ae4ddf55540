package ssmtest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
	"sync"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// Default marks of the back-pressure model; see [Backlog].
const (
	DefaultBacklogHighWater = 128 << 10
	DefaultBacklogLowWater  = 32 << 10
	DefaultBacklogLimit     = 512 << 10
)

// Backlog sets the marks of MGS's back-pressure model: how much client data may wait for the agent.
//
// This is a model, not a copy of the service, whose limits are not published. What is known (field report
// cited in docs/protocol.md §8.1): under a fast upload the real MGS sends the client pause_publication, and a
// client that goes on sending (one that ignores the pause, or keeps a large amount unacknowledged) then gets
// channel_closed; 1 KiB messages with at most 256 KiB unacknowledged, pausing when told, came through.
//
// The model: each input_stream_data message the server relays to the agent joins the session's backlog when
// MGS hands it on and leaves it when the agent's acknowledgement of its sequence number passes back through.
// The emulated agent, like the real one, acknowledges only after it has written the payload to its
// destination, so a slow destination makes the backlog grow. Counting until the acknowledgement (rather than
// until a socket towards the agent accepts the bytes) leaves the model no hidden buffer, which makes it at
// least as harsh as the service. Resent messages already in the backlog do not count twice.
//
//   - When the backlog exceeds HighWater, the server sends pause_publication to the client, followed by a
//     websocket ping. The client's pong shows that it has read the pause: every data message read after the
//     pong and before start_publication is counted in SessionStats.SentWhilePaused.
//   - When the backlog falls to LowWater or below, the server sends start_publication.
//   - When a data message takes the backlog past Limit, the server sends channel_closed with the output
//     [ErrBacklogOverflow] and ends the session (SessionStats.Overflows).
//
// A client reconnecting starts unpaused; the backlog (the agent's state) carries over, and the next data
// message pauses the new websocket if it is still above HighWater.
type Backlog struct {
	HighWater int // default [DefaultBacklogHighWater]
	LowWater  int // default [DefaultBacklogLowWater]; at most HighWater
	Limit     int // default [DefaultBacklogLimit]; at least HighWater
}

func (b Backlog) withDefaults() Backlog {
	if b.HighWater <= 0 {
		b.HighWater = DefaultBacklogHighWater
	}
	if b.LowWater <= 0 {
		b.LowWater = min(DefaultBacklogLowWater, b.HighWater/4)
	}
	b.LowWater = min(b.LowWater, b.HighWater)
	if b.Limit <= 0 {
		b.Limit = max(DefaultBacklogLimit, 4*b.HighWater)
	}
	b.Limit = max(b.Limit, b.HighWater)
	return b
}

// ErrBacklogOverflow is why the server ended a session whose client sent past the back-pressure model's
// Limit; its text is the channel_closed output.
var ErrBacklogOverflow = errors.New("ssmtest: channel closed: the client kept sending while its data waited for the agent (back-pressure limit exceeded)")

// backlog is one session's state of the model. Its methods are called from the session's websocket reader
// (client frames, pongs) and from the agent's sender (acknowledgements).
type backlog struct {
	mu        sync.Mutex
	marks     Backlog
	pending   map[int64]int // seq → payload bytes of data messages relayed, not yet acknowledged by the agent
	bytes     int
	maxSeq    int64 // highest sequence number the client sent; -1 before the first
	paused    bool  // pause_publication sent to the current client and no start_publication since
	pauseID   uint64
	confirmed bool // the current client answered the ping that followed the pause
	client    *clientConn
	over      bool
}

func newBacklog(marks Backlog) *backlog {
	return &backlog{marks: marks.withDefaults(), pending: make(map[int64]int), maxSeq: -1}
}

// attached resets the pause state for a new client websocket.
func (b *backlog) attached(c *clientConn) {
	b.mu.Lock()
	b.client, b.paused, b.confirmed = c, false, false
	b.mu.Unlock()
}

// backlogRead counts a client data message as MGS reads it: a resend, or sent after the client read a pause.
func (ss *session) backlogRead(c *clientConn, frame []byte) {
	b := ss.backlog
	seq := int64(binary.BigEndian.Uint64(frame[48:56]))
	st := &ss.counters
	b.mu.Lock()
	defer b.mu.Unlock()
	if seq <= b.maxSeq {
		st.clientResends.Add(1)
	} else {
		b.maxSeq = seq
	}
	if b.paused && b.confirmed && b.client == c {
		st.sentWhilePaused.Add(1)
	}
}

// backlogAdd adds a client data message to the backlog as MGS hands it to the agent (a frame the fault
// injector drops never joins: the model has no lost data), pausing the client above the high-water mark.
// It reports false when the message overflows the backlog: the session is then closed and the message is
// not delivered.
func (ss *session) backlogAdd(frame []byte) bool {
	b := ss.backlog
	seq := int64(binary.BigEndian.Uint64(frame[48:56]))
	n := len(frame) - wire.HeaderSize
	st := &ss.counters
	b.mu.Lock()
	if b.over {
		b.mu.Unlock()
		return false
	}
	if _, ok := b.pending[seq]; !ok {
		b.pending[seq] = n
		b.bytes += n
	}
	for {
		old := st.maxBacklog.Load()
		if int64(b.bytes) <= old || st.maxBacklog.CompareAndSwap(old, int64(b.bytes)) {
			break
		}
	}
	if b.bytes > b.marks.Limit {
		b.over = true
		b.mu.Unlock()
		st.overflows.Add(1)
		ss.srv.log.Info("ssmtest: back-pressure limit exceeded, closing", "session", ss.id, "backlog", b.bytes)
		ss.finish(ErrBacklogOverflow)
		ss.terminate()
		return false
	}
	defer b.mu.Unlock()
	if c := b.client; c != nil && !b.paused && b.bytes > b.marks.HighWater {
		b.paused, b.confirmed = true, false
		b.pauseID++
		st.backlogPauses.Add(1)
		// Written under mu, so a start_publication decided after this pause cannot overtake it.
		c.controlAndPing(control(wire.PausePublication, nil), []byte(pausePingPrefix+strconv.FormatUint(b.pauseID, 10)))
	}
	return true
}

const pausePingPrefix = "ssmtest-pause-"

// backlogPong notes the client's answer to the ping that followed a pause.
func (ss *session) backlogPong(c *clientConn, data string) {
	b := ss.backlog
	b.mu.Lock()
	if b.paused && b.client == c && data == pausePingPrefix+strconv.FormatUint(b.pauseID, 10) {
		b.confirmed = true
	}
	b.mu.Unlock()
}

// backlogAck removes an acknowledged client message from the backlog and sends start_publication when the
// backlog has fallen to the low-water mark.
func (ss *session) backlogAck(payload []byte) {
	seq, ok := inputAckSeq(payload)
	if !ok {
		return
	}
	b := ss.backlog
	b.mu.Lock()
	if n, ok := b.pending[seq]; ok {
		delete(b.pending, seq)
		b.bytes -= n
	}
	defer b.mu.Unlock()
	if b.paused && b.bytes <= b.marks.LowWater {
		b.paused, b.confirmed = false, false
		ss.counters.backlogStarts.Add(1)
		b.client.write(control(wire.StartPublication, nil))
	}
}

// inputAckSeq returns the sequence number an acknowledgement of an input_stream_data message names. The
// emulated agent writes every acknowledgement the same way (json.Marshal of wire.AckBody), so the two fields
// are looked up directly; anything else goes through encoding/json, which costs more than the rest of the
// relay of one 1 KiB message.
func inputAckSeq(payload []byte) (int64, bool) {
	const typ, num = `"AcknowledgedMessageType":"` + wire.InputStreamData + `"`, `"AcknowledgedMessageSequenceNumber":`
	if bytes.Count(payload, []byte(`"AcknowledgedMessageType"`)) == 1 && bytes.Contains(payload, []byte(typ)) {
		if i := bytes.Index(payload, []byte(num)); i >= 0 && bytes.Count(payload, []byte(num)) == 1 {
			rest := payload[i+len(num):]
			end := 0
			for end < len(rest) && (rest[end] == '-' || rest[end] >= '0' && rest[end] <= '9') {
				end++
			}
			if end < len(rest) && (rest[end] == ',' || rest[end] == '}') {
				if seq, err := strconv.ParseInt(string(rest[:end]), 10, 64); err == nil {
					return seq, true
				}
			}
		}
	}
	var ack wire.AckBody
	if json.Unmarshal(payload, &ack) != nil || ack.AcknowledgedMessageType != wire.InputStreamData {
		return 0, false
	}
	return ack.AcknowledgedMessageSequenceNumber, true
}

// controlAndPing writes an MGS control message and then a ping, in that order, so the pong proves the client
// has read the control message.
func (c *clientConn) controlAndPing(msg, ping []byte) {
	c.enqueue(outFrame{msg: msg, ping: ping})
}
