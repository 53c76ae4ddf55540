package session

import "time"

// Pacing against the service's back-pressure (docs/protocol.md §4.6, §8.1). MGS sends pause_publication when the
// far end falls behind, and a client that keeps sending gets channel_closed. The session takes a pause as a
// congestion signal, as TCP takes a loss: it stops sending new data and resends at once, halves its bound on
// unacknowledged bytes, and grows the bound back additively, one step per round trip without a pause.
//
// The official agent ends a pause on any acknowledgement or input, but the acknowledgements of data already in
// flight arrive right after a pause and would undo it. The session therefore waits for start_publication;
// only if none comes, the first acknowledgement or output at least pauseHold after the pause ends it. When
// nothing sent awaits acknowledgement no such message can come, so then pauseHold alone ends the pause: a
// lost or never-sent start_publication cannot stall the session. While something awaits acknowledgement the
// pause holds until the far end answers: MGS also pauses while the agent is away (reconnecting), and data sent
// then would only pile up.
const (
	pauseHold    = time.Second
	minBoundMsgs = 4  // the bound never shrinks below this many full messages
	growDivisor  = 32 // the bound grows by Window/growDivisor per round trip
)

// minBound is the floor of the bound on unacknowledged bytes.
func (s *Channel) minBound() int { return min(s.cfg.Window, minBoundMsgs*s.cfg.MaxPayload) }

// onPause handles pause_publication: stop at once and halve the bound. Repeated pauses while paused cut once.
func (s *Channel) onPause(now time.Time) {
	s.mu.Lock()
	if !s.paused {
		s.paused = true
		s.pausedAt = now
		s.bound = max(s.bound/2, s.minBound())
		s.growAcc = 0
	}
	s.mu.Unlock()
	s.stats.pauses.Add(1)
}

// onStart handles start_publication: the service asks for data again.
func (s *Channel) onStart(now time.Time) {
	s.mu.Lock()
	was := s.unpauseLocked(now)
	s.mu.Unlock()
	if was {
		s.kick()
	}
}

// unpauseLocked ends a pause at now and reports whether there was one. The time paused does not count
// towards the retransmission timeout: a message waiting for its acknowledgement during a pause is late
// because the far end is behind, not lost, and resending it would only add to the backlog. Called with mu
// held.
func (s *Channel) unpauseLocked(now time.Time) bool {
	if !s.paused {
		return false
	}
	s.paused = false
	d := now.Sub(s.pausedAt)
	for _, e := range s.out {
		if e.sends > 0 && !e.acked {
			e.lastSent = e.lastSent.Add(d)
		}
	}
	return true
}

// heardLocked notes an acknowledgement or output arriving at now and ends a pause that has held for
// pauseHold. It reports whether it ended one. Called with mu held.
func (s *Channel) heardLocked(now time.Time) bool {
	if s.paused && now.Sub(s.pausedAt) >= pauseHold {
		return s.unpauseLocked(now)
	}
	return false
}

// heard is heardLocked for the output path.
func (s *Channel) heard(now time.Time) {
	s.mu.Lock()
	resumed := s.heardLocked(now)
	s.mu.Unlock()
	if resumed {
		s.kick()
	}
}

// pauseExpired ends a pause that has held for pauseHold when nothing sent awaits an acknowledgement that
// can still come; the writer checks it on its timer. It reports whether it ended the pause.
func (s *Channel) pauseExpired(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.paused || now.Sub(s.pausedAt) < pauseHold {
		return false
	}
	for _, e := range s.out {
		// A message below the highest acknowledged one is lost (nextOverdue): no acknowledgement will come.
		if e.sends > 0 && !e.acked && e.seq > s.highAcked {
			return false
		}
	}
	return s.unpauseLocked(now)
}

// growLocked counts n acknowledged bytes towards the next additive step of the bound: one step for every
// bound's worth of bytes acknowledged, that is about one per round trip while the bound is in use. Called
// with mu held.
func (s *Channel) growLocked(n int) {
	if s.paused || s.bound >= s.cfg.Window {
		return
	}
	s.growAcc += n
	if s.growAcc >= s.bound {
		s.growAcc -= s.bound
		s.bound = min(s.bound+max(s.cfg.Window/growDivisor, s.cfg.MaxPayload), s.cfg.Window)
	}
}
