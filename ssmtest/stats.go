package ssmtest

import (
	"sync/atomic"
	"time"
)

// Stats are server-wide counters: the API side plus the sum of every session's
// [SessionStats].
type Stats struct {
	APIRequests uint64 // API requests received, including rejected ones
	APIErrors   uint64 // API requests answered with an error

	SessionsStarted uint64 // StartSession and ExecuteCommand successes
	SessionsActive  int    // sessions not yet ended

	WebsocketsAccepted uint64 // data-channel websockets attached to a session
	WebsocketsRejected uint64 // refused upgrade, bad first frame, wrong or stale token, unknown or ended session

	Upgrades UpgradeStats // how data-channel websocket upgrades were authenticated

	DataKeys uint64 // GenerateDataKey successes
	Decrypts uint64 // Decrypt successes, from clients and agents

	SessionStats // totals across all sessions
}

// UpgradeStats count data-channel websocket upgrade requests by how they were
// authenticated (docs/protocol.md §3.5). Every upgrade request counts exactly once.
type UpgradeStats struct {
	Signed          uint64 // SigV4 headers for ssmmessages (verified when the key's secret is known)
	Presigned       uint64 // a presigned stream URL (Options.PresignedStreamURLs), verified
	UnsignedAllowed uint64 // no authentication, let through by Options.AllowUnsignedUpgrade
	Refused         uint64 // answered with HTTP 403 before upgrading
}

// SessionStats are the counters of one session. Frames and bytes are counted as they
// arrive from their sender, before faults are applied.
type SessionStats struct {
	FramesToAgent  uint64 // binary frames read from the client websocket
	BytesToAgent   uint64
	FramesToClient uint64 // frames the agent sent
	BytesToClient  uint64
	AcksToAgent    uint64 // acknowledge frames from the client
	AcksToClient   uint64 // acknowledge frames from the agent
	LostToClient   uint64 // agent frames dropped because no client was attached or its write failed

	DuplicatesAtAgent uint64 // duplicate data messages the agent received (from its own counters)

	Attaches uint64 // websockets attached (first connection and every reconnect)
	Resumes  uint64 // successful ResumeSession calls

	// MaxClientMessage is the largest payload (frame minus the 120-byte header) the
	// client sent in one message.
	MaxClientMessage int

	// The back-pressure model (see [Backlog]).
	BacklogPauses   uint64 // pause_publication sent because the backlog passed HighWater
	BacklogStarts   uint64 // start_publication sent because it fell to LowWater
	SentWhilePaused uint64 // data messages the client sent after it had read such a pause
	Overflows       uint64 // sessions closed with channel_closed because the backlog passed Limit
	MaxBacklog      int    // the largest backlog, in payload bytes
	ClientResends   uint64 // data messages with a sequence number the client had sent before

	Faults FaultStats
}

// FaultStats counts injected faults.
type FaultStats struct {
	ToAgent  LinkFaultStats // client → agent
	ToClient LinkFaultStats // agent → client

	Kills          uint64 // client websockets closed abruptly by KillEvery or CloseClientConnections
	NormalCloses   uint64 // client websockets closed with 1000 by CloseNormal
	RefusedResumes uint64 // ResumeSession calls refused by RefuseResume
	Pauses         uint64 // pause_publication/start_publication rounds sent by Pause
	WithheldAcks   uint64 // data messages delivered to the agent while StopAcking was on
	TooLarge       uint64 // client frames over MaxMessageSize (websocket closed with 1009)
}

// LinkFaultStats counts the faults applied to one direction.
type LinkFaultStats struct {
	Dropped, Duplicated, Reordered, Delayed, Corrupted uint64
}

// Total returns the number of faults of every kind.
func (f FaultStats) Total() uint64 {
	return f.ToAgent.total() + f.ToClient.total() + f.Kills + f.NormalCloses + f.RefusedResumes +
		f.Pauses + f.WithheldAcks + f.TooLarge
}

func (l LinkFaultStats) total() uint64 {
	return l.Dropped + l.Duplicated + l.Reordered + l.Delayed + l.Corrupted
}

// AgentStats are the emulated agent's own counters for a session.
type AgentStats struct {
	MessagesIn, BytesIn, DuplicatesIn, AcksIn uint64
	MessagesOut, BytesOut, AcksOut, Resends   uint64
}

// SessionInfo is a snapshot of one session, returned by [Server.Session].
type SessionInfo struct {
	SessionID     string
	Target        string
	DocumentName  string // "" for ECS ExecuteCommand sessions
	SessionType   string
	Properties    map[string]any // the document's properties after parameter substitution
	StartedAt     time.Time
	ClientVersion string // from the latest OpenDataChannel frame

	AgentStarted bool  // the first websocket attached and the agent runs or ran
	Ended        bool  // the session is over
	Err          error // why the agent ended; nil for a normal end

	// Done is closed when the session has ended and channel_closed went out.
	Done <-chan struct{}

	Stats SessionStats
	Agent AgentStats
}

type linkCounters struct {
	dropped, duplicated, reordered, delayed, corrupted atomic.Uint64
}

func (l *linkCounters) snapshot() LinkFaultStats {
	return LinkFaultStats{l.dropped.Load(), l.duplicated.Load(), l.reordered.Load(), l.delayed.Load(), l.corrupted.Load()}
}

// sessionCounters is the live, atomic form of SessionStats.
type sessionCounters struct {
	framesToAgent, bytesToAgent, framesToClient, bytesToClient atomic.Uint64
	acksToAgent, acksToClient, lostToClient                    atomic.Uint64
	attaches, resumes                                          atomic.Uint64
	maxClientMessage, maxBacklog                               atomic.Int64
	backlogPauses, backlogStarts, sentWhilePaused              atomic.Uint64
	overflows, clientResends                                   atomic.Uint64

	link                                                                [2]linkCounters // by Direction
	kills, normalCloses, refusedResumes, pauses, withheldAcks, tooLarge atomic.Uint64
}

func (c *sessionCounters) noteClientMessage(payload int) {
	for {
		old := c.maxClientMessage.Load()
		if int64(payload) <= old || c.maxClientMessage.CompareAndSwap(old, int64(payload)) {
			return
		}
	}
}

func (c *sessionCounters) snapshot() SessionStats {
	return SessionStats{
		FramesToAgent:    c.framesToAgent.Load(),
		BytesToAgent:     c.bytesToAgent.Load(),
		FramesToClient:   c.framesToClient.Load(),
		BytesToClient:    c.bytesToClient.Load(),
		AcksToAgent:      c.acksToAgent.Load(),
		AcksToClient:     c.acksToClient.Load(),
		LostToClient:     c.lostToClient.Load(),
		Attaches:         c.attaches.Load(),
		Resumes:          c.resumes.Load(),
		MaxClientMessage: int(c.maxClientMessage.Load()),
		BacklogPauses:    c.backlogPauses.Load(),
		BacklogStarts:    c.backlogStarts.Load(),
		SentWhilePaused:  c.sentWhilePaused.Load(),
		Overflows:        c.overflows.Load(),
		MaxBacklog:       int(c.maxBacklog.Load()),
		ClientResends:    c.clientResends.Load(),
		Faults: FaultStats{
			ToAgent:        c.link[ToAgent].snapshot(),
			ToClient:       c.link[ToClient].snapshot(),
			Kills:          c.kills.Load(),
			NormalCloses:   c.normalCloses.Load(),
			RefusedResumes: c.refusedResumes.Load(),
			Pauses:         c.pauses.Load(),
			WithheldAcks:   c.withheldAcks.Load(),
			TooLarge:       c.tooLarge.Load(),
		},
	}
}

// add accumulates o into s (for server-wide totals).
func (s *SessionStats) add(o SessionStats) {
	s.FramesToAgent += o.FramesToAgent
	s.BytesToAgent += o.BytesToAgent
	s.FramesToClient += o.FramesToClient
	s.BytesToClient += o.BytesToClient
	s.AcksToAgent += o.AcksToAgent
	s.AcksToClient += o.AcksToClient
	s.LostToClient += o.LostToClient
	s.DuplicatesAtAgent += o.DuplicatesAtAgent
	s.Attaches += o.Attaches
	s.Resumes += o.Resumes
	s.MaxClientMessage = max(s.MaxClientMessage, o.MaxClientMessage)
	s.BacklogPauses += o.BacklogPauses
	s.BacklogStarts += o.BacklogStarts
	s.SentWhilePaused += o.SentWhilePaused
	s.Overflows += o.Overflows
	s.MaxBacklog = max(s.MaxBacklog, o.MaxBacklog)
	s.ClientResends += o.ClientResends
	f, g := &s.Faults, o.Faults
	f.ToAgent.add(g.ToAgent)
	f.ToClient.add(g.ToClient)
	f.Kills += g.Kills
	f.NormalCloses += g.NormalCloses
	f.RefusedResumes += g.RefusedResumes
	f.Pauses += g.Pauses
	f.WithheldAcks += g.WithheldAcks
	f.TooLarge += g.TooLarge
}

func (l *LinkFaultStats) add(o LinkFaultStats) {
	l.Dropped += o.Dropped
	l.Duplicated += o.Duplicated
	l.Reordered += o.Reordered
	l.Delayed += o.Delayed
	l.Corrupted += o.Corrupted
}

// serverCounters are the server-level counters that belong to no session.
type serverCounters struct {
	apiRequests, apiErrors, sessionsStarted atomic.Uint64
	wsAccepted, wsRejected                  atomic.Uint64
	upgradesSigned, upgradesPresigned       atomic.Uint64
	upgradesUnsigned, upgradesRefused       atomic.Uint64
	dataKeys                                atomic.Uint64
}
