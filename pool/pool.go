package pool

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/ssmwire/ssmwire"
)

// AutoMaxSessions is the most sessions a pool opens in auto mode (Config.MaxSessions 0). The agent paces
// every session (1 KiB per message, a 1 ms pause after each: about 0.8 MiB/s each way), so a session per
// busy connection multiplies throughput; eight keep StartSession calls, agent processes and service-side
// session counts modest (the service limits concurrent sessions per account and StartSession calls per
// second).
const AutoMaxSessions = 8

// Pool defaults; see [Config].
const (
	DefaultIdleTimeout   = time.Minute
	DefaultStartRate     = 2.0
	DefaultStartBurst    = 4
	DefaultStartAttempts = 6
	DefaultStartBackoff  = 250 * time.Millisecond
	maxStartBackoff      = 10 * time.Second
	autoThrottleCooldown = time.Minute
)

// ErrClosed is returned by a Pool's Dial and Serve after Close.
var ErrClosed = errors.New("ssmwire: pool closed")

// Config configures a [Pool]. A nil *Config means all defaults; [New] copies it.
type Config struct {
	// MaxSessions bounds the sessions the pool keeps to its destination. 0 means auto: a new session for
	// every new connection that finds all open sessions busy, up to [AutoMaxSessions]; after a throttled
	// StartSession, auto stops adding sessions for a minute and new connections share the open ones.
	MaxSessions int
	// IdleTimeout closes a session that carried no connection for this long, unless it is the pool's last
	// one (see CloseLastWhenIdle). Default [DefaultIdleTimeout].
	IdleTimeout time.Duration
	// CloseLastWhenIdle closes the last session too after IdleTimeout; the next Dial starts a new one.
	// A proxy with a pool per destination sets it, so that destinations it no longer uses hold no session.
	CloseLastWhenIdle bool
	// StartRate and StartBurst limit the pool's StartSession calls: StartRate per second on average, up to
	// StartBurst at once. Defaults [DefaultStartRate] and [DefaultStartBurst].
	StartRate  float64
	StartBurst int
	// StartAttempts is how many times a throttled StartSession (ThrottlingException and the like) is tried;
	// between attempts the pool waits StartBackoff, doubling up to 10 s, and so do the pool's other starts.
	// Defaults [DefaultStartAttempts] and [DefaultStartBackoff].
	StartAttempts int
	StartBackoff  time.Duration
	// OnSessionStart and OnSessionEnd, when set, are told about the pool's sessions: err is why one ended,
	// nil when the pool closed it (idle, or Close). They run on the pool's goroutines and must not block.
	OnSessionStart func(id string)
	OnSessionEnd   func(id string, err error)
}

func (c *Config) withDefaults() (Config, error) {
	var cfg Config
	if c != nil {
		cfg = *c
	}
	if cfg.MaxSessions < 0 {
		return cfg, fmt.Errorf("ssmwire: pool: MaxSessions %d is negative", cfg.MaxSessions)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.StartRate <= 0 {
		cfg.StartRate = DefaultStartRate
	}
	if cfg.StartBurst <= 0 {
		cfg.StartBurst = DefaultStartBurst
	}
	if cfg.StartAttempts <= 0 {
		cfg.StartAttempts = DefaultStartAttempts
	}
	if cfg.StartBackoff <= 0 {
		cfg.StartBackoff = DefaultStartBackoff
	}
	return cfg, nil
}

// poolSession is what a Pool needs of one session to its destination. *ssmwire.Tunnel provides it (tunnelSession);
// tests pass fakes.
type poolSession interface {
	SessionID() string
	Dial(ctx context.Context) (net.Conn, error)
	Done() <-chan struct{}
	Err() error // why the session ended, once Done is closed; nil for a normal end
	Close() error
}

// tunnelSession adapts a *ssmwire.Tunnel.
type tunnelSession struct{ *ssmwire.Tunnel }

func (t tunnelSession) Err() error { return t.Session().Err() }

// Pool spreads connections to one destination over up to MaxSessions port-forwarding sessions: a new
// connection goes to the least loaded session, and a new session is started (lazily, rate-limited, retried
// with backoff when the service throttles) only when every open one carries a connection. Sessions that
// stay idle are closed after IdleTimeout, except the last. Each session reconnects (ResumeSession) on its
// own. Its methods are safe for concurrent use.
type Pool struct {
	cfg   Config
	dest  string
	start func(ctx context.Context) (poolSession, error)
	lim   *startLimiter

	mu        sync.Mutex
	members   []*member
	starting  int
	closed    bool
	autoCap   int       // in auto mode, the cap after throttling, until autoUntil
	autoUntil time.Time // zero: no throttling seen
	changed   chan struct{}

	done chan struct{}
	wg   sync.WaitGroup
}

// member is one session of the pool.
type member struct {
	s         poolSession
	conns     int       // open connections, under Pool.mu
	idleSince time.Time // when conns last dropped to 0
	idle      *time.Timer
	expire    chan struct{} // the idle timer fired (capacity 1)
	gone      bool          // removed from the pool
}

// New returns a pool of sessions that c starts ([ssmwire.Client.Forward]) through target to remote. It starts
// no session until the first Dial (or [Pool.Prestart]). The caller closes the pool.
func New(c *ssmwire.Client, target string, remote ssmwire.Remote, cfg *Config) (*Pool, error) {
	if err := remote.Validate(); err != nil {
		return nil, err
	}
	return newPool(remote.String(), func(ctx context.Context) (poolSession, error) {
		t, err := c.Forward(ctx, target, remote)
		if err != nil {
			return nil, err
		}
		return tunnelSession{t}, nil
	}, cfg)
}

func newPool(dest string, start func(ctx context.Context) (poolSession, error), cfg *Config) (*Pool, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Pool{cfg: c, dest: dest, start: start, lim: newStartLimiter(c.StartRate, c.StartBurst), done: make(chan struct{})}, nil
}

// maxSessions is the current cap. Called with mu held.
func (p *Pool) maxSessions() int {
	if p.cfg.MaxSessions > 0 {
		return p.cfg.MaxSessions
	}
	if !p.autoUntil.IsZero() && time.Now().Before(p.autoUntil) {
		return p.autoCap
	}
	return AutoMaxSessions
}

// Dial opens a connection to the pool's destination on the least loaded session, starting a session when
// every open one is busy and the pool has room. If a new session cannot be started (after retries, when
// throttled) but others are open, the connection shares one of those instead.
func (p *Pool) Dial(ctx context.Context) (net.Conn, error) {
	for attempt := 0; ; attempt++ {
		m, wait, err := p.pick()
		if err != nil {
			return nil, err
		}
		if wait != nil { // the pool is full of sessions still starting
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("ssmwire: pool dial %s: %w", p.dest, ctx.Err())
			case <-p.done:
				return nil, ErrClosed
			}
		}
		if m == nil {
			if m, err = p.grow(ctx); err != nil {
				if errors.Is(err, ErrClosed) || ctx.Err() != nil {
					return nil, err
				}
				if m = p.share(); m == nil {
					return nil, err
				}
			}
		}
		c, err := m.s.Dial(ctx)
		if err != nil {
			p.release(m)
			select {
			case <-m.s.Done(): // ended meanwhile: try another session, once
				if attempt == 0 && ctx.Err() == nil {
					continue
				}
			default:
			}
			return nil, err
		}
		return &poolConn{Conn: c, p: p, m: m}, nil
	}
}

// pick reserves the least loaded idle session, or decides that a new one is to be started (nil, nil, nil;
// a start slot is then reserved), or shares the least loaded busy one when the pool is full, or returns a
// channel to wait on when the pool is full of sessions that are still starting.
func (p *Pool) pick() (*member, <-chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, nil, ErrClosed
	}
	m := p.leastLoadedLocked()
	if m != nil && m.conns == 0 {
		p.reserveLocked(m)
		return m, nil, nil
	}
	if len(p.members)+p.starting < p.maxSessions() {
		p.starting++
		return nil, nil, nil
	}
	if m != nil {
		p.reserveLocked(m)
		return m, nil, nil
	}
	return nil, p.changedLocked(), nil
}

// share reserves the least loaded open session, or returns nil when none is open.
func (p *Pool) share() *member {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	m := p.leastLoadedLocked()
	if m != nil {
		p.reserveLocked(m)
	}
	return m
}

func (p *Pool) leastLoadedLocked() *member {
	var best *member
	for _, m := range p.members {
		select {
		case <-m.s.Done():
			continue // its watcher removes it
		default:
		}
		if best == nil || m.conns < best.conns {
			best = m
		}
	}
	return best
}

func (p *Pool) reserveLocked(m *member) {
	m.conns++
	if m.idle != nil {
		m.idle.Stop()
	}
}

// changedLocked returns a channel closed at the pool's next change of members.
func (p *Pool) changedLocked() <-chan struct{} {
	if p.changed == nil {
		p.changed = make(chan struct{})
	}
	return p.changed
}

func (p *Pool) notifyLocked() {
	if p.changed != nil {
		close(p.changed)
		p.changed = nil
	}
}

// release ends one connection's use of m; a session left without connections starts its idle timer.
func (p *Pool) release(m *member) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.conns--
	if m.conns > 0 || m.gone {
		return
	}
	m.idleSince = time.Now()
	if m.idle == nil {
		m.idle = time.AfterFunc(p.cfg.IdleTimeout, func() {
			select {
			case m.expire <- struct{}{}:
			default:
			}
		})
	} else {
		m.idle.Reset(p.cfg.IdleTimeout)
	}
}

// grow starts a new session (the slot was reserved by pick) and returns it reserved for the caller.
func (p *Pool) grow(ctx context.Context) (*member, error) {
	s, err := p.startSession(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starting--
	p.notifyLocked()
	if err != nil {
		return nil, err
	}
	if p.closed {
		go s.Close()
		return nil, ErrClosed
	}
	m := &member{s: s, conns: 1, expire: make(chan struct{}, 1)}
	p.members = append(p.members, m)
	p.wg.Add(1)
	go p.watch(m)
	if cb := p.cfg.OnSessionStart; cb != nil {
		cb(s.SessionID())
	}
	return m, nil
}

// startSession calls the start function within the rate limit, retrying with backoff while it is throttled.
func (p *Pool) startSession(ctx context.Context) (poolSession, error) {
	backoff := p.cfg.StartBackoff
	for attempt := 1; ; attempt++ {
		if err := p.lim.wait(ctx, p.done); err != nil {
			return nil, fmt.Errorf("ssmwire: pool %s: start session: %w", p.dest, err)
		}
		s, err := p.start(ctx)
		if err == nil {
			return s, nil
		}
		if !errors.Is(ssmwire.Classify(err), ssmwire.ErrThrottled) || attempt >= p.cfg.StartAttempts || ctx.Err() != nil {
			return nil, err
		}
		p.throttled(backoff)
		backoff = min(2*backoff, maxStartBackoff)
	}
}

// throttled holds every start of the pool back for d, and in auto mode stops the pool from growing for a
// while.
func (p *Pool) throttled(d time.Duration) {
	p.lim.pause(d)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cfg.MaxSessions == 0 {
		p.autoCap = max(1, len(p.members))
		p.autoUntil = time.Now().Add(autoThrottleCooldown)
	}
}
