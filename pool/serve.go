package pool

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/ssmwire/ssmwire/internal/relay"
)

// startLimiter is a token bucket for StartSession calls, which every start of a pool can also be held back
// behind for a while after the service throttled one.
type startLimiter struct {
	mu          sync.Mutex
	rate        float64 // tokens per second
	burst       float64
	tokens      float64
	last        time.Time
	pausedUntil time.Time
}

func newStartLimiter(rate float64, burst int) *startLimiter {
	return &startLimiter{rate: rate, burst: float64(burst), tokens: float64(burst), last: time.Now()}
}

// wait takes a token, waiting for one (and for any pause) until ctx is done or done is closed.
func (l *startLimiter) wait(ctx context.Context, done <-chan struct{}) error {
	for {
		l.mu.Lock()
		now := time.Now()
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
		l.last = now
		var d time.Duration
		switch {
		case now.Before(l.pausedUntil):
			d = l.pausedUntil.Sub(now)
		case l.tokens >= 1:
			l.tokens--
			l.mu.Unlock()
			return nil
		default:
			d = time.Duration((1 - l.tokens) / l.rate * float64(time.Second))
		}
		l.mu.Unlock()
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-done:
			t.Stop()
			return ErrClosed
		}
	}
}

// pause holds every start back for d from now (unless already held longer).
func (l *startLimiter) pause(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := time.Now().Add(d); until.After(l.pausedUntil) {
		l.pausedUntil = until
	}
}

// Serve accepts connections on l and forwards each one over the pool until ctx is done (ctx.Err()), l fails
// (that error) or the pool is closed ([ErrClosed]). It closes l and every connection it accepted before
// returning, and waits for its goroutines. Serve does not close the pool.
func (p *Pool) Serve(ctx context.Context, l net.Listener) error {
	err := relay.Serve(ctx, l, &relay.ServeOptions{Stop: p.done}, p.forward)
	select {
	case <-p.done:
		return ErrClosed
	default:
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("ssmwire: pool serve: %w", err)
}

// forward copies between an accepted connection and a new pool connection until either side ends.
func (p *Pool) forward(ctx context.Context, local net.Conn) {
	defer local.Close()
	remote, err := p.Dial(ctx)
	if err != nil {
		return
	}
	relay.Pipe(ctx, local, remote, nil)
}
