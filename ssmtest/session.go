package ssmtest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// session is one Session Manager session: its token, its agent (started when the first
// websocket attaches) and the client websocket currently attached, if any.
type session struct {
	srv         *Server
	id          string
	region      string // from the signature of the call that started it; the upgrade must be signed for it
	target      string
	docName     string
	sessionType string
	props       map[string]any
	startedAt   time.Time
	counters    sessionCounters
	killBytes   atomic.Int64 // bytes relayed since the last KillEvery kill
	backlog     *backlog     // the back-pressure model's state (backlog.go)
	done        chan struct{}
	agentReady  chan struct{} // closed once the agent is stored (or failed to start)

	mu            sync.Mutex
	token         string
	agent         sessionAgent
	starting      bool // the agent is being started
	client        *clientConn
	clientVersion string
	ended         bool
	endErr        error
	held          [2][]byte // frames held back by Reorder, by Direction
}

// newSession registers a session; the error is an *apiError when the server is closed.
func (s *Server) newSession(region, target, docName, sessionType string, props map[string]any) (*session, error) {
	if region == "" {
		region = DefaultRegion
	}
	ss := &session{
		srv:         s,
		region:      region,
		id:          newSessionID(),
		target:      target,
		docName:     docName,
		sessionType: sessionType,
		props:       props,
		startedAt:   time.Now(),
		token:       newToken(),
		done:        make(chan struct{}),
		agentReady:  make(chan struct{}),
		backlog:     newBacklog(s.opts.Backlog),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, &apiError{Status: 503, Code: "InternalServerError", Message: "ssmtest: server closed"}
	}
	s.sessions[ss.id] = ss
	s.order = append(s.order, ss)
	s.stats.sessionsStarted.Add(1)
	s.log.Info("ssmtest: session started", "session", ss.id, "target", target, "type", sessionType)
	return ss, nil
}

func (s *Server) lookup(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// streamURL is what StartSession returns and the client dials verbatim: presigned with
// Options.PresignedStreamURLs.
func (ss *session) streamURL() string {
	u := "ws" + ss.srv.URL[len("http"):] + dataChannelPath + ss.id + "?stream=input"
	if ss.srv.opts.PresignedStreamURLs {
		u = ss.srv.presign(u, ss.region)
	}
	return u
}

// tokenOK reports whether tok is the session's current token.
func (ss *session) tokenOK(tok string) bool {
	ss.mu.Lock()
	cur := ss.token
	ss.mu.Unlock()
	return subtle.ConstantTimeCompare([]byte(tok), []byte(cur)) == 1
}

// resume issues a new token, invalidating the previous one.
func (ss *session) resume() (string, error) {
	if ss.srv.faults.RefuseResume.Load() {
		ss.counters.refusedResumes.Add(1)
		return "", &apiError{Code: "DoesNotExistException", Message: "Session " + ss.id + " cannot be resumed (ssmtest RefuseResume)."}
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.ended {
		return "", &apiError{Code: "DoesNotExistException", Message: "Session " + ss.id + " has ended and cannot be resumed."}
	}
	ss.token = newToken()
	ss.counters.resumes.Add(1)
	return ss.token, nil
}

// terminate ends the session: the agent stops, and finish sends channel_closed.
func (ss *session) terminate() {
	ss.mu.Lock()
	a, starting := ss.agent, ss.starting
	if starting {
		ss.ended = true // attach terminates the agent once it has started
	}
	ss.mu.Unlock()
	switch {
	case a != nil:
		a.Terminate()
	case !starting:
		ss.finish(nil)
	}
}

// finish marks the session ended, tells the attached client with channel_closed and
// closes its websocket normally.
func (ss *session) finish(err error) {
	ss.mu.Lock()
	if ss.isDone() {
		ss.mu.Unlock()
		return
	}
	ss.ended = true
	ss.endErr = err
	c := ss.client
	ss.client = nil
	ss.mu.Unlock()
	if c != nil {
		output := ""
		if err != nil {
			output = err.Error()
		}
		c.write(ss.channelClosed(output))
		c.closeNormal("session ended", nil)
	}
	ss.srv.log.Info("ssmtest: session ended", "session", ss.id, "err", err)
	close(ss.done)
}

func (ss *session) isDone() bool {
	select {
	case <-ss.done:
		return true
	default:
		return false
	}
}

// channelClosed builds MGS's channel_closed message (§2.5).
func (ss *session) channelClosed(output string) []byte {
	id := wire.NewID()
	now := time.Now().UTC()
	body, _ := json.Marshal(wire.ChannelClosedBody{
		MessageId:     wire.FormatID(id),
		CreatedDate:   now.Format("2006-01-02T15:04:05.000Z"),
		DestinationId: ss.target,
		SessionId:     ss.id,
		MessageType:   wire.ChannelClosed,
		SchemaVersion: 1,
		Output:        output,
	})
	return control(wire.ChannelClosed, body)
}

// control builds an MGS control message (channel_closed, start/pause_publication).
func control(typ string, payload []byte) []byte {
	b, _ := wire.Encode(&wire.Message{
		Type:          typ,
		SchemaVersion: 1,
		CreatedDate:   uint64(time.Now().UnixMilli()),
		ID:            wire.NewID(),
		Payload:       payload,
	})
	return b
}

func (ss *session) info() SessionInfo {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	info := SessionInfo{
		SessionID:     ss.id,
		Target:        ss.target,
		DocumentName:  ss.docName,
		SessionType:   ss.sessionType,
		Properties:    maps.Clone(ss.props),
		StartedAt:     ss.startedAt,
		ClientVersion: ss.clientVersion,
		AgentStarted:  ss.agent != nil || ss.starting,
		Ended:         ss.ended,
		Err:           ss.endErr,
		Done:          ss.done,
		Stats:         ss.counters.snapshot(),
	}
	if ss.agent != nil {
		info.Agent = ss.agent.Stats()
		info.Stats.DuplicatesAtAgent = info.Agent.DuplicatesIn
	}
	return info
}

// newSessionID returns an ID shaped like AWS's "<user>-<17 hex digits>".
func newSessionID() string {
	var b [9]byte
	rand.Read(b[:])
	return "ssmtest-" + hex.EncodeToString(b[:])[:17]
}

func newToken() string {
	var b [48]byte
	rand.Read(b[:])
	return "AAEAA" + base64.RawURLEncoding.EncodeToString(b[:])
}
