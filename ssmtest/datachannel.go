package ssmtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// dataChannelPath prefixes the data-channel websocket URL; the session ID follows.
const dataChannelPath = "/v1/data-channel/"

const (
	openTimeout  = 30 * time.Second // for the OpenDataChannel frame
	writeTimeout = 10 * time.Second // per websocket write
	closeGrace   = 2 * time.Second  // wait for the client's close reply
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
	CheckOrigin:     func(*http.Request) bool { return true },
}

// clientConn is one client websocket attached (or attaching) to a session.
type clientConn struct {
	ws    *websocket.Conn
	sess  *session
	cork  *corkConn    // below ws; nil only in tests that build a clientConn by hand
	state atomic.Int32 // connOpen, connClosing or connKilled

	qmu   sync.Mutex    // guards queue and werr
	queue []outFrame    // frames for the writer goroutine (connwriter.go), in order
	werr  error         // set once the connection failed or ended: later writes fail
	wake  chan struct{} // capacity 1: something was queued
	gone  chan struct{} // closed when the connection's reader ends
}

// newClientConn makes the clientConn of ws and starts its writer goroutine, which ends after gone is closed.
func newClientConn(ws *websocket.Conn, cork *corkConn, ss *session) *clientConn {
	c := &clientConn{ws: ws, sess: ss, cork: cork, wake: make(chan struct{}, 1), gone: make(chan struct{})}
	go c.writeLoop()
	return c
}

const (
	connOpen    = iota
	connClosing // a close frame went out
	connKilled  // closed abruptly
)

// write queues one binary frame for the writer goroutine; errors mean the connection is gone.
func (c *clientConn) write(frame []byte) error {
	return c.enqueue(outFrame{msg: frame})
}

// kill closes the connection abruptly, without a close frame. If the connection was
// open, it first adds one to count (when non-nil), so a peer that sees the close also
// sees the count.
func (c *clientConn) kill(count *atomic.Uint64) {
	if c.state.Swap(connKilled) == connOpen && count != nil {
		count.Add(1)
	}
	c.ws.Close()
}

// closeNormal sends a close frame with code 1000 and gives the client closeGrace to
// answer before the reader gives up. If the connection was open, it first adds one to
// count (when non-nil).
func (c *clientConn) closeNormal(reason string, count *atomic.Uint64) {
	if !c.state.CompareAndSwap(connOpen, connClosing) {
		return
	}
	if count != nil {
		count.Add(1)
	}
	c.enqueue(outFrame{closing: true, close: reason}) // after the frames queued before it
	c.ws.SetReadDeadline(time.Now().Add(closeGrace))
}

// reject closes a websocket that never attached with a policy-violation close frame.
func reject(ws *websocket.Conn, reason string) {
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, reason),
		time.Now().Add(time.Second))
	ws.Close()
}

// serveDataChannel authenticates GET /v1/data-channel/<id> (SigV4 or a presigned URL),
// upgrades it, checks the OpenDataChannel frame and relays client frames to the session
// until the websocket ends.
func (s *Server) serveDataChannel(w http.ResponseWriter, r *http.Request, id string) {
	region := ""
	if ss := s.lookup(id); ss != nil {
		region = ss.region
	}
	if err := s.authenticateUpgrade(r, region); err != nil {
		s.stats.wsRejected.Add(1)
		s.log.Info("ssmtest: websocket upgrade refused", "session", id, "reason", err)
		http.Error(w, "ssmtest: data channel upgrade refused: "+err.Error(), http.StatusForbidden)
		return
	}
	hj := &corkHijacker{ResponseWriter: w}
	ws, err := upgrader.Upgrade(hj, r, nil)
	if err != nil {
		s.stats.wsRejected.Add(1)
		return // the upgrader already answered
	}
	ws.SetReadLimit(int64(s.opts.MaxMessageSize) + wire.HeaderSize)

	ws.SetReadDeadline(time.Now().Add(openTimeout))
	stop := context.AfterFunc(s.ctx, func() { ws.Close() }) // Close does not wait for a silent client
	mt, first, err := ws.ReadMessage()
	stop()
	if err != nil {
		s.stats.wsRejected.Add(1)
		ws.Close()
		return
	}
	var open wire.OpenDataChannel
	if mt != websocket.TextMessage || json.Unmarshal(first, &open) != nil || open.TokenValue == "" {
		s.stats.wsRejected.Add(1)
		reject(ws, "first message must be OpenDataChannel")
		return
	}
	ss := s.lookup(id)
	if ss == nil || !ss.tokenOK(open.TokenValue) {
		s.stats.wsRejected.Add(1)
		s.log.Info("ssmtest: websocket rejected", "session", id, "reason", "unknown session or invalid token")
		reject(ws, "invalid token")
		return
	}
	ws.SetReadDeadline(time.Time{})
	c := newClientConn(ws, hj.conn, ss)
	defer close(c.gone)
	if !s.track(c) {
		ws.Close()
		return
	}
	defer s.untrack(c)
	if err := ss.attach(c, open); err != nil {
		s.stats.wsRejected.Add(1)
		reject(ws, err.Error())
		return
	}
	ws.SetPongHandler(func(data string) error {
		ss.backlogPong(c, data)
		return nil
	})
	s.stats.wsAccepted.Add(1)
	s.log.Info("ssmtest: client attached", "session", id, "clientVersion", open.ClientVersion)
	defer ss.detach(c)
	var buf bytes.Buffer // one allocation per frame (the clone), not ReadMessage's growing ones
	for {
		frame, err := readFrame(ws, &buf)
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				ss.counters.tooLarge.Add(1)
			}
			s.log.Debug("ssmtest: client websocket ended", "session", id, "err", err)
			ws.Close()
			return
		}
		ss.fromClient(c, frame)
	}
}

// readFrame reads the next message of ws into buf and returns a copy of exactly its size, which the
// session may keep (fault injection holds frames; the agent's buffer keeps its own copy).
func readFrame(ws *websocket.Conn, buf *bytes.Buffer) ([]byte, error) {
	_, r, err := ws.NextReader()
	if err != nil {
		return nil, err
	}
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()), nil
}

func (s *Server) track(c *clientConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *clientConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

var (
	errEnded        = errors.New("session ended")
	errTokenChanged = errors.New("invalid token")
)

// attach makes c the session's client, replacing (and dropping) any previous one, and
// starts the agent on the first attach.
func (ss *session) attach(c *clientConn, open wire.OpenDataChannel) error {
	ss.mu.Lock()
	if ss.ended {
		ss.mu.Unlock()
		return errEnded
	}
	if open.TokenValue != ss.token {
		ss.mu.Unlock()
		return errTokenChanged // resumed between the check and now
	}
	old := ss.client
	ss.client = c
	if open.ClientVersion != "" {
		ss.clientVersion = open.ClientVersion
	}
	start := ss.agent == nil && !ss.starting
	ss.starting = ss.starting || start
	ss.backlog.attached(c)
	if ss.agent != nil && old == nil {
		// The client's data channel is active again: let the agent publish (docs/protocol.md §4.6). Under mu, in
		// order with detach's pause_publication.
		ss.agent.Deliver(control(wire.StartPublication, nil))
	}
	ss.mu.Unlock()
	ss.counters.attaches.Add(1)
	if old != nil {
		old.kill(nil)
	}
	if start {
		ss.startAgent(open.ClientVersion)
	}
	return nil
}

func (ss *session) startAgent(clientVersion string) {
	srv := ss.srv
	cfg := agentConfig{
		SessionID:     ss.id,
		TargetID:      ss.target,
		SessionType:   ss.sessionType,
		Properties:    ss.props,
		ClientVersion: clientVersion,
		Send:          ss.fromAgent,
		StopAcking:    &srv.faults.StopAcking,
	}
	if ss.sessionType != SessionTypePort {
		cfg.KMSKeyID = srv.opts.KMSKeyID
	}
	a, err := srv.startAgent(srv.ctx, cfg)
	ss.mu.Lock()
	ss.starting = false
	if err != nil {
		ss.mu.Unlock()
		close(ss.agentReady)
		srv.log.Warn("ssmtest: agent failed to start", "session", ss.id, "err", err)
		ss.finish(fmt.Errorf("ssmtest: starting agent: %w", err))
		return
	}
	ss.agent = a
	terminated := ss.ended
	ss.mu.Unlock()
	close(ss.agentReady)
	if terminated {
		a.Terminate()
	}
	watch := func() {
		<-a.Done()
		ss.finish(a.Err())
	}
	if !srv.goTask("agent of session "+ss.id, watch) {
		a.Terminate()
		watch()
	}
}

// detach forgets c if it is still the session's client. As MGS does when the remote data channel becomes
// inactive, it sends the agent pause_publication (docs/protocol.md §4.6): the agent keeps sequencing and buffering
// but stops transmitting into a channel nobody reads, until the client attaches again.
func (ss *session) detach(c *clientConn) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.client == c {
		ss.client = nil
		if !ss.ended && ss.agent != nil {
			// Under mu, so a new client's start_publication (attach) cannot overtake this pause and leave the
			// agent paused with a client attached.
			ss.agent.Deliver(control(wire.PausePublication, nil))
		}
	}
}

func (ss *session) currentAgent() sessionAgent {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.agent
}

func (ss *session) currentClient() *clientConn {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.client
}

// messageType returns the trimmed MessageType of a frame, or "" if it is too short.
func messageType(frame []byte) string {
	if len(frame) < wire.HeaderSize {
		return ""
	}
	t := frame[4:36]
	n := len(t)
	for n > 0 && (t[n-1] == ' ' || t[n-1] == 0) {
		n--
	}
	return string(t[:n])
}

// fromClient handles one frame read from the client websocket.
func (ss *session) fromClient(c *clientConn, frame []byte) {
	st := &ss.counters
	st.framesToAgent.Add(1)
	st.bytesToAgent.Add(uint64(len(frame)))
	switch messageType(frame) {
	case wire.Acknowledge:
		st.acksToAgent.Add(1)
	case wire.InputStreamData:
		st.noteClientMessage(len(frame) - wire.HeaderSize)
		ss.backlogRead(c, frame)
		if ss.srv.faults.StopAcking.Load() {
			st.withheldAcks.Add(1)
		}
		ss.countKill(len(frame) - wire.HeaderSize)
	}
	ss.relay(ToAgent, frame)
}

// fromAgent is the agent's Send: one frame for the client.
func (ss *session) fromAgent(frame []byte) {
	st := &ss.counters
	st.framesToClient.Add(1)
	st.bytesToClient.Add(uint64(len(frame)))
	switch messageType(frame) {
	case wire.Acknowledge:
		st.acksToClient.Add(1)
		if len(frame) > wire.HeaderSize {
			ss.backlogAck(frame[wire.HeaderSize:])
		}
	case wire.OutputStreamData:
		ss.countKill(len(frame) - wire.HeaderSize)
	}
	ss.relay(ToClient, frame)
}

// deliver hands a frame to its destination, after faults.
func (ss *session) deliver(d Direction, frame []byte) {
	if d == ToAgent {
		// A frame can arrive while the agent is still starting (it may already have
		// sent output); wait for it rather than lose the frame.
		select {
		case <-ss.agentReady:
		case <-ss.srv.ctx.Done():
			return
		}
		if messageType(frame) == wire.InputStreamData && !ss.backlogAdd(frame) {
			return
		}
		if a := ss.currentAgent(); a != nil {
			a.Deliver(frame)
		}
		return
	}
	c := ss.currentClient()
	if c == nil || c.state.Load() != connOpen || c.enqueue(outFrame{msg: frame, relayed: true}) != nil {
		ss.counters.lostToClient.Add(1)
	}
}

// countKill applies KillEvery: every n relayed bytes of stream data (payloads of input_stream_data and
// output_stream_data, retransmissions included) the client websocket is dropped. Acknowledgements and
// control messages do not count, so a client's protocol overhead cannot starve its own data of the link.
func (ss *session) countKill(n int) {
	every := ss.srv.faults.KillEvery.Load()
	if every <= 0 {
		return
	}
	if ss.killBytes.Add(int64(n)) < every {
		return
	}
	ss.killBytes.Store(0)
	if c := ss.currentClient(); c != nil {
		ss.srv.log.Info("ssmtest: fault: killing client websocket", "session", ss.id)
		c.kill(&ss.counters.kills)
	}
}
