package session

import "sync/atomic"

// Stats counts what a session did. All counts are since Open.
type Stats struct {
	MessagesSent       uint64 // data messages sent for the first time
	BytesSent          uint64 // their payload bytes
	Resent             uint64 // retransmissions
	AcksSent           uint64
	AcksReceived       uint64
	MessagesReceived   uint64 // data messages delivered in order
	BytesReceived      uint64 // their payload bytes
	DuplicatesReceived uint64 // data messages received again (re-acknowledged)
	OutOfOrder         uint64 // data messages received ahead of a gap
	Rejected           uint64 // frames dropped as invalid (bad digest, malformed)
	Deferred           uint64 // in-order messages left unacknowledged because the receive buffers were full
	Waits              uint64 // times the reader stopped reading until Read made room (back-pressure)
	ConnectionDrops    uint64 // websockets lost
	Pauses             uint64 // pause_publication messages received
	PaceWaits          uint64 // times the writer held a message back to spread a window over the round trip (pace.go)
	Resumes            uint64 // successful ResumeSession reconnects

	// BufferedPeak is the most received bytes that ever waited for Read, plus the same for Stderr.
	BufferedPeak int

	// Bound is the current bound on unacknowledged bytes: Window, halved by each pause, grown back.
	Bound int
}

type stats struct {
	sent, bytesSent, resent, acksSent, acksReceived atomic.Uint64
	received, bytesReceived, duplicates, outOfOrder atomic.Uint64
	rejected, deferred, connDrops, resumes, pauses  atomic.Uint64
	waits, paced                                    atomic.Uint64
}

// Stats returns a snapshot of the session's counters.
func (s *Channel) Stats() Stats {
	return Stats{
		MessagesSent:       s.stats.sent.Load(),
		BytesSent:          s.stats.bytesSent.Load(),
		Resent:             s.stats.resent.Load(),
		AcksSent:           s.stats.acksSent.Load(),
		AcksReceived:       s.stats.acksReceived.Load(),
		MessagesReceived:   s.stats.received.Load(),
		BytesReceived:      s.stats.bytesReceived.Load(),
		DuplicatesReceived: s.stats.duplicates.Load(),
		OutOfOrder:         s.stats.outOfOrder.Load(),
		Rejected:           s.stats.rejected.Load(),
		Deferred:           s.stats.deferred.Load(),
		Waits:              s.stats.waits.Load(),
		BufferedPeak:       s.stdout.highWater() + s.stderr.highWater(),
		ConnectionDrops:    s.stats.connDrops.Load(),
		Resumes:            s.stats.resumes.Load(),
		Pauses:             s.stats.pauses.Load(),
		PaceWaits:          s.stats.paced.Load(),
		Bound:              s.currentBound(),
	}
}

func (s *Channel) currentBound() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bound
}
