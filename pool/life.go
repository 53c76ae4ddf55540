package pool

import (
	"context"
	"net"
	"sync"
	"time"
)

// watch removes m from the pool when its session ends, when it stays idle long enough, or when the pool
// closes, and closes the session. The idle check and the removal happen under one lock, so that a Dial
// cannot pick a session that is being closed, and two sessions expiring together do not both go as each
// other's "other session".
func (p *Pool) watch(m *member) {
	defer p.wg.Done()
	var err error
	for gone := false; !gone; {
		select {
		case <-m.s.Done():
			err = m.s.Err()
			gone = true
		case <-p.done:
			gone = true
		case <-m.expire:
		}
		p.mu.Lock()
		if gone || p.expiredLocked(m) {
			p.removeLocked(m)
			gone = true
		}
		p.mu.Unlock()
	}
	m.s.Close()
	if cb := p.cfg.OnSessionEnd; cb != nil {
		cb(m.s.SessionID(), err)
	}
}

// expiredLocked reports whether m has been idle for IdleTimeout and may go (it is not the last session,
// unless CloseLastWhenIdle). Called with mu held.
func (p *Pool) expiredLocked(m *member) bool {
	if m.conns > 0 || time.Since(m.idleSince) < p.cfg.IdleTimeout {
		return false
	}
	if p.cfg.CloseLastWhenIdle {
		return true
	}
	for _, o := range p.members {
		if o != m && !o.gone {
			select {
			case <-o.s.Done():
			default:
				return true
			}
		}
	}
	return false
}

func (p *Pool) removeLocked(m *member) {
	m.gone = true
	if m.idle != nil {
		m.idle.Stop()
	}
	for i, o := range p.members {
		if o == m {
			p.members = append(p.members[:i], p.members[i+1:]...)
			break
		}
	}
	p.notifyLocked()
}

// SessionInfo describes one session of a pool.
type SessionInfo struct {
	ID    string
	Conns int // connections it carries
}

// Sessions returns the pool's open sessions, in the order they were started.
func (p *Pool) Sessions() []SessionInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]SessionInfo, 0, len(p.members))
	for _, m := range p.members {
		out = append(out, SessionInfo{ID: m.s.SessionID(), Conns: m.conns})
	}
	return out
}

// Close closes every session of the pool (their connections fail) and waits for them. Dial and Serve fail
// afterwards. Close is idempotent.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	p.notifyLocked()
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// poolConn is a connection on one of the pool's sessions; closing it releases the session.
type poolConn struct {
	net.Conn
	p    *Pool
	m    *member
	once sync.Once
}

func (c *poolConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.p.release(c.m) })
	return err
}

// SessionID returns the ID of the session that carries the connection.
func (c *poolConn) SessionID() string { return c.m.s.SessionID() }

// Done is closed when the session that carries the connection has ended.
func (c *poolConn) Done() <-chan struct{} { return c.m.s.Done() }

// Prestart starts a session when the pool has none open or starting, and waits for it. A program that
// reports a forward as up calls it first, to learn at once whether sessions can be started at all.
func (p *Pool) Prestart(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	if len(p.members)+p.starting > 0 {
		p.mu.Unlock()
		return nil
	}
	p.starting++
	p.mu.Unlock()
	m, err := p.grow(ctx)
	if err != nil {
		return err
	}
	p.release(m)
	return nil
}
