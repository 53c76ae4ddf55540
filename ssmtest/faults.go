package ssmtest

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// Direction names one way through the relay.
type Direction int

const (
	ToAgent  Direction = iota // client → agent
	ToClient                  // agent → client
)

func (d Direction) String() string {
	if d == ToAgent {
		return "to-agent"
	}
	return "to-client"
}

// Default hold times for delayed and reordered frames.
const (
	DefaultDelay       = 100 * time.Millisecond
	DefaultReorderHold = 50 * time.Millisecond
)

// LinkFaults are the per-frame faults of one direction, as probabilities in [0, 1].
// They apply to every binary frame the server relays in that direction, data and
// acknowledgements alike, but not to the server's own control messages.
type LinkFaults struct {
	Drop      float64 // the frame is lost
	Duplicate float64 // the frame is relayed twice
	Reorder   float64 // the frame is held back and released after the next one (or after ReorderHold)
	Delay     float64 // the frame is relayed after DelayBy
	Corrupt   float64 // a bit of the payload digest is flipped (only frames with a payload)

	DelayBy     time.Duration // default DefaultDelay
	ReorderHold time.Duration // default DefaultReorderHold
}

// Faults are the fault switches of a [Server]. Every method and field is safe to use
// while sessions run; changes apply to the next frame. Every injected fault is counted
// in the session's [FaultStats]. Random choices come from a seeded math/rand/v2
// source (Options.FaultSeed, or Seed), so a run with the same traffic is reproducible.
type Faults struct {
	// KillEvery, when > 0, abruptly closes a session's client websocket each time
	// KillEvery more bytes of stream data (input_stream_data and output_stream_data
	// payloads, retransmissions included) have been relayed in either direction.
	// Acknowledgements and control messages are not counted.
	KillEvery atomic.Int64

	// RefuseResume makes ResumeSession fail with DoesNotExistException.
	RefuseResume atomic.Bool

	// ThrottleStarts makes that many of the next StartSession calls fail with ThrottlingException
	// ("Rate exceeded"), as the service does beyond its request rate; each refusal counts one down.
	ThrottleStarts atomic.Int64

	// StopAcking makes every agent stop sending acknowledgements.
	StopAcking atomic.Bool

	srv  *Server
	mu   sync.Mutex
	rng  *rand.Rand
	link [2]LinkFaults
}

func newFaults(s *Server, seed uint64) *Faults {
	return &Faults{srv: s, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Set replaces the per-frame faults of direction d.
func (f *Faults) Set(d Direction, l LinkFaults) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.link[d] = l
}

// Link returns the per-frame faults of direction d.
func (f *Faults) Link(d Direction) LinkFaults {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.link[d]
}

// Seed reseeds the random source.
func (f *Faults) Seed(seed uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// takeThrottle uses up one ThrottleStarts refusal, if any is left.
func (f *Faults) takeThrottle() bool {
	for {
		n := f.ThrottleStarts.Load()
		if n <= 0 {
			return false
		}
		if f.ThrottleStarts.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// Reset turns every fault off.
func (f *Faults) Reset() {
	f.mu.Lock()
	f.link = [2]LinkFaults{}
	f.mu.Unlock()
	f.KillEvery.Store(0)
	f.RefuseResume.Store(false)
	f.ThrottleStarts.Store(0)
	f.StopAcking.Store(false)
}

// CloseNormal closes every client websocket with close code 1000, as MGS does when it
// rotates connections. Sessions and agents keep running; clients may reconnect.
func (f *Faults) CloseNormal() {
	for _, c := range f.srv.clientConns() {
		c.closeNormal("ssmtest CloseNormal", &c.sess.counters.normalCloses)
	}
}

// Pause sends pause_publication to both ends of every running session, then
// start_publication to both after d.
func (f *Faults) Pause(d time.Duration) {
	s := f.srv
	s.mu.Lock()
	var live []*session
	for _, ss := range s.order {
		if !ss.isDone() {
			live = append(live, ss)
		}
	}
	s.mu.Unlock()
	for _, ss := range live {
		ss.counters.pauses.Add(1)
		ss.control(wire.PausePublication)
		s.after("Pause of session "+ss.id, d, func() { ss.control(wire.StartPublication) })
	}
}

// control sends an MGS control message to the agent and to the attached client.
func (ss *session) control(typ string) {
	if a := ss.currentAgent(); a != nil {
		a.Deliver(control(typ, nil))
	}
	if c := ss.currentClient(); c != nil {
		c.write(control(typ, nil))
	}
}

// verdict is what the faults decided for one frame.
type verdict struct {
	drop, dup, corrupt, delay, reorder bool
	delayBy, hold                      time.Duration
}

func (f *Faults) decide(d Direction) verdict {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.link[d]
	if l == (LinkFaults{}) {
		return verdict{}
	}
	roll := func(p float64) bool { return p > 0 && f.rng.Float64() < p }
	v := verdict{
		drop:    roll(l.Drop),
		dup:     roll(l.Duplicate),
		corrupt: roll(l.Corrupt),
		delay:   roll(l.Delay),
		reorder: roll(l.Reorder),
		delayBy: l.DelayBy,
		hold:    l.ReorderHold,
	}
	if v.delayBy <= 0 {
		v.delayBy = DefaultDelay
	}
	if v.hold <= 0 {
		v.hold = DefaultReorderHold
	}
	return v
}

// relay applies the faults of direction d to frame and delivers what remains. The
// frame is owned by the relay (the agent does not reuse frames it sends; client frames
// are freshly read).
func (ss *session) relay(d Direction, frame []byte) {
	v := ss.srv.faults.decide(d)
	lc := &ss.counters.link[d]
	if v.drop {
		lc.dropped.Add(1)
		return
	}
	if v.corrupt && len(frame) > wire.HeaderSize {
		lc.corrupted.Add(1)
		frame[80] ^= 0x01 // first byte of PayloadDigest
	}
	n := 1
	if v.dup {
		lc.duplicated.Add(1)
		n = 2
	}
	switch {
	case v.delay:
		lc.delayed.Add(1)
		ss.srv.after("Delay in session "+ss.id, v.delayBy, func() {
			for range n {
				ss.deliver(d, frame)
			}
		})
	case v.reorder:
		ss.mu.Lock()
		busy := ss.held[d] != nil
		if !busy {
			ss.held[d] = frame
		}
		ss.mu.Unlock()
		if busy { // one frame is held already: behave normally
			ss.deliverHeld(d, frame, n)
			return
		}
		lc.reordered.Add(1)
		ss.srv.after("Reorder in session "+ss.id, v.hold, func() { ss.deliverHeld(d, nil, 0) })
		if n == 2 {
			ss.deliver(d, frame) // the duplicate goes now, the original later
		}
	default:
		ss.deliverHeld(d, frame, n)
	}
}

// deliverHeld delivers frame n times, then the held frame of direction d, if any.
func (ss *session) deliverHeld(d Direction, frame []byte, n int) {
	for range n {
		ss.deliver(d, frame)
	}
	ss.mu.Lock()
	held := ss.held[d]
	ss.held[d] = nil
	ss.mu.Unlock()
	if held != nil {
		ss.deliver(d, held)
	}
}
