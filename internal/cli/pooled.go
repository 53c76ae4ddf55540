package cli

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/pool"
)

// SessionsAuto is Tunnel.Sessions for `--sessions auto` and `sessions = "auto"`: a pool that grows with the
// connections, up to pool.AutoMaxSessions.
const SessionsAuto = -1

// maxSessionsFlag bounds --sessions N: more sessions than this per forward is more likely a typo than a plan.
const maxSessionsFlag = 64

// ParseSessions parses the value of --sessions and of a tunnel's sessions key: a count from 1 to 64, or
// "auto" (SessionsAuto).
func ParseSessions(s string) (int, error) {
	if strings.EqualFold(strings.TrimSpace(s), "auto") {
		return SessionsAuto, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > maxSessionsFlag {
		return 0, fmt.Errorf("sessions %q: want a number from 1 to %d, or auto", s, maxSessionsFlag)
	}
	return n, nil
}

// pooled reports whether the keeper spreads connections over a pool of several sessions.
func (k *keeper) pooled() bool { return k.sessions > 1 || k.sessions == SessionsAuto }

// start makes the keeper's pool (of one session, unless pooled) and starts its first session, so that setup
// fails at once when sessions cannot be started.
func (k *keeper) start(ctx context.Context, c *ssmwire.Client) error {
	cfg := &pool.Config{
		MaxSessions: 1,
		OnSessionStart: func(id string) {
			k.sessionID.Store(id)
			k.rep.emit(event{Event: evSessionStarted, SessionID: id}, k)
		},
		OnSessionEnd: func(id string, err error) {
			reason := "idle: closed by ssmwire"
			if !k.pooled() {
				k.sessionID.CompareAndSwap(id, "")
				reason = "closed by the service" // a single session's pool never closes it for idleness
			}
			switch {
			case err != nil:
				reason = err.Error()
			case ctx.Err() != nil:
				reason = "stopped"
			}
			k.rep.emit(event{Event: evSessionEnded, SessionID: id, Reason: reason}, k)
		},
	}
	switch {
	case k.sessions == SessionsAuto:
		cfg.MaxSessions = 0
	case k.sessions > 1:
		cfg.MaxSessions = k.sessions
	}
	p, err := pool.New(c, k.target, k.remote(), cfg)
	if err != nil {
		return err
	}
	k.pool = p
	return p.Prestart(ctx)
}

// stopPool closes the keeper's pool, if it has one: every session it holds ends.
func (k *keeper) stopPool() {
	if k.pool != nil {
		k.pool.Close()
	}
}

// pooledSession is the session that carries a pool connection: its ID, and a channel closed when it ends.
func pooledSession(c net.Conn) (id string, done <-chan struct{}) {
	if s, ok := c.(interface{ SessionID() string }); ok {
		id = s.SessionID()
	}
	if s, ok := c.(interface{ Done() <-chan struct{} }); ok {
		done = s.Done()
	}
	return id, done
}

// poolStatus is the session part of a pooled forward's status line.
func poolStatus(p *pool.Pool) string {
	ss := p.Sessions()
	if len(ss) == 0 {
		return "sessions none (next connection starts one)"
	}
	ids := make([]string, len(ss))
	for i, s := range ss {
		ids[i] = fmt.Sprintf("%s(%d)", s.ID, s.Conns)
	}
	return fmt.Sprintf("sessions %d: %s", len(ss), strings.Join(ids, " "))
}
