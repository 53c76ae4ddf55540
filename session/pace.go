package session

import "time"

// Pacing of first transmissions over long round trips.
//
// The bound on unacknowledged bytes (pacing.go) says how much may be in flight, not how fast it leaves. Over
// a long path the acknowledgements of a window come back together, and without pacing the writer answers
// each clump with a burst of the same size: the window reaches the service within a millisecond or two,
// every round trip, although the path carries it in one round trip anyway. MGS holds what the agent has not
// yet acknowledged, and a burst of half the window is what its back-pressure answers with pause_publication
// (ssmtest's model: docs/protocol.md §8.1); each pause halves the bound, which then takes many round trips to
// grow back.
//
// So the writer spreads first transmissions at paceGain × bound ÷ the path's smallest round trip, with
// bursts of at most paceBurst. That rate is above what the bound allows on average (bound per round trip),
// so pacing only smooths: it never lowers the throughput the bound gives. On loopback and local networks
// the smallest round trip is well under a millisecond, the rate is gigabytes per second, and pacing never
// waits. Resends, acknowledgements and pongs are not paced. Until the first round-trip sample (the pong
// of the ping the writer sends as it starts, or an acknowledgement) nothing is paced.

const (
	// paceGain is the pacing rate's margin over bound per round trip, as TCP pacing uses 1.2 in
	// congestion avoidance: acknowledgements that arrive a little late do not hold the sender back.
	paceGain = 1.25
	// paceMinRTT is the smallest round trip that paces at all: below it the rate is beyond any writer, and
	// the clock reads are saved.
	paceMinRTT = 2 * time.Millisecond
	// minRTTEpoch is how long a smallest round trip is remembered: a path that got longer is learnt after
	// one to two epochs.
	minRTTEpoch = 10 * time.Second
)

// pacer is the writer's token bucket for first transmissions. Its fields are under Channel.mu.
type pacer struct {
	tokens float64   // payload bytes that may leave now
	last   time.Time // when tokens were last brought up to date

	minRTT    time.Duration // smallest round trip sampled in this epoch; 0 before the first
	prevMin   time.Duration // the previous epoch's
	epochFrom time.Time
	wait      time.Duration // how long until the next message may go; 0 when nothing is held back
	refilling bool          // a message was held back: nothing goes until a quantum of tokens is in
}

// paceBurst is the most payload bytes that leave back to back: an eighth of the bound, at least two full
// messages (32 KiB, one writer batch, with the defaults).
func (s *Channel) paceBurst() float64 {
	return float64(max(s.bound/8, 2*s.cfg.MaxPayload))
}

// sampleRTT notes a round trip of r measured at now. Called with mu held.
func (p *pacer) sampleRTT(r time.Duration, now time.Time) {
	if r <= 0 {
		return
	}
	if p.epochFrom.IsZero() || now.Sub(p.epochFrom) >= minRTTEpoch {
		p.prevMin, p.minRTT, p.epochFrom = p.minRTT, r, now
		return
	}
	p.minRTT = min(p.minRTT, r)
}

// pathRTT is the smallest round trip of this epoch and the last, or 0 if none was sampled.
func (p *pacer) pathRTT() time.Duration {
	if p.prevMin > 0 && (p.minRTT == 0 || p.prevMin < p.minRTT) {
		return p.prevMin
	}
	return p.minRTT
}

// pingRTT takes the round trip of a websocket ping as a sample of the path: the writer pings as it starts,
// so the first window is paced too. It measures the service, not the agent behind it, and so is at most
// the data's round trip, which keeps pacing on the loose side.
func (s *Channel) pingRTT(rtt time.Duration) {
	s.mu.Lock()
	s.pace.sampleRTT(rtt, time.Now())
	s.mu.Unlock()
}

// paceLocked reports whether a first transmission of size payload bytes may go now, and takes its tokens if
// so; otherwise it sets p.wait to the time until it may. Called with mu held.
func (s *Channel) paceLocked(size int) bool {
	p := &s.pace
	rtt := p.pathRTT()
	if rtt < paceMinRTT {
		p.wait = 0
		return true
	}
	now := time.Now()
	rate := paceGain * float64(s.bound) / float64(rtt) // bytes per nanosecond
	burst := s.paceBurst()
	if p.last.IsZero() {
		p.tokens = burst
	} else if d := now.Sub(p.last); d > 0 {
		p.tokens = min(p.tokens+float64(d)*rate, burst)
	}
	p.last = now
	need := float64(size)
	if p.refilling {
		need = max(need, s.paceQuantum())
	}
	if p.tokens >= need || p.tokens >= burst {
		p.tokens -= float64(size)
		p.wait, p.refilling = 0, false
		return true
	}
	// Held back: wait for a quantum, not for one message, so that a paced sender wakes and writes once per
	// quantum rather than once per message (each wake-up of an idle process costs more than the write).
	p.refilling = true
	p.wait = time.Duration((max(need, s.paceQuantum())-p.tokens)/rate) + 1
	s.stats.paced.Add(1)
	return false
}

// paceQuantum is how many tokens a held-back writer waits for: a sixteenth of the bound (16 KiB with the
// defaults, about a millisecond at the paced rate of a 15 ms path), at least one full message.
func (s *Channel) paceQuantum() float64 {
	return min(float64(max(s.bound/16, s.cfg.MaxPayload)), s.paceBurst())
}

// paceWait is how long the writer should wait before sending again: nonzero only when pacing held a message
// back.
func (s *Channel) paceWait() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pace.wait
}
