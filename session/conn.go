package session

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/protocol"
)

// conn is one websocket of the session, with its reader and writer goroutines. A session has at most one
// conn at a time; after a drop, resume replaces it.
type conn struct {
	t    Transport
	done chan struct{}
	once sync.Once
	err  error
}

func (c *conn) close(err error) {
	c.once.Do(func() {
		c.err = err
		close(c.done)
		c.t.Close()
	})
}

// startConn installs t as the session's websocket and starts its reader and writer. Everything not yet
// acknowledged is transmitted again on it.
func (s *Channel) startConn(t Transport) {
	c := &conn{t: t, done: make(chan struct{})}
	s.mu.Lock()
	if s.isDone() {
		s.mu.Unlock()
		t.Close()
		return
	}
	if s.stats.connDrops.Load() > 0 {
		s.replayRecentAcks()
	}
	s.conn = c
	s.paused = false
	if len(s.out) > 0 {
		s.sentUpTo = s.out[0].seq
	} else {
		s.sentUpTo = s.nextSeq
	}
	s.mu.Unlock()
	if p, ok := t.(ponger); ok {
		p.SetWakeup(s.kick)
	}
	if r, ok := t.(rttReporter); ok {
		r.SetRTTHandler(s.pingRTT)
	}
	s.wg.Add(2)
	go s.readLoop(c)
	go s.writeLoop(c)
	s.kick()
}

// kick wakes the writer without blocking.
func (s *Channel) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// connLost handles the failure of conn c: the session resumes on a new websocket, or ends.
func (s *Channel) connLost(c *conn, err error) {
	s.mu.Lock()
	current := s.conn == c
	if current {
		s.conn = nil
	}
	s.mu.Unlock()
	c.close(err)
	if !current || s.isDone() {
		return
	}
	s.stats.connDrops.Add(1)
	if s.cfg.SSM == nil {
		s.fail(fmt.Errorf("%w: %v", ErrConnectionLost, err))
		return
	}
	s.cfg.Logger.Warn("data channel dropped, resuming", "session", s.id, "err", err)
	s.wg.Add(1)
	go s.resume(err)
}

// resume calls ResumeSession and reconnects with the new token, retrying with exponential backoff
// (docs/protocol.md §7.4). Sequence numbers and unacknowledged messages carry over.
func (s *Channel) resume(cause error) {
	defer s.wg.Done()
	delay := s.cfg.ResumeBackoff
	lastErr := cause
	for attempt := 0; attempt < s.cfg.ResumeAttempts; attempt++ {
		if attempt > 0 {
			jitter := time.Duration(rand.Int64N(int64(delay)/2 + 1))
			t := time.NewTimer(delay + jitter)
			select {
			case <-s.done:
				t.Stop()
				return
			case <-t.C:
			}
			delay = min(delay*2, 5*time.Second)
		}
		ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		out, err := s.cfg.SSM.ResumeSession(ctx, &ssm.ResumeSessionInput{SessionId: &s.id})
		if err != nil {
			cancel()
			if s.isDone() {
				return
			}
			lastErr = fmt.Errorf("ResumeSession: %w", err)
			s.cfg.Logger.Warn("resume failed", "session", s.id, "attempt", attempt+1, "err", err)
			continue
		}
		if out.TokenValue == nil || *out.TokenValue == "" {
			cancel()
			s.fail(fmt.Errorf("%w: session %s", ErrTimedOut, s.id))
			return
		}
		token := *out.TokenValue
		streamURL := s.resumeURL(aws.ToString(out.StreamUrl))
		t, err := s.dial(ctx, streamURL, token)
		cancel()
		if err != nil {
			if s.isDone() {
				return
			}
			if errors.As(err, new(*CertificateError)) {
				// Trust does not come back by retrying: the user must act (another CA bundle).
				s.fail(fmt.Errorf("%w: %w", ErrConnectionLost, err))
				return
			}
			lastErr = err
			s.cfg.Logger.Warn("reconnect failed", "session", s.id, "attempt", attempt+1, "err", err)
			continue
		}
		s.mu.Lock()
		s.token = token
		s.url = streamURL
		s.mu.Unlock()
		s.stats.resumes.Add(1)
		s.startConn(t)
		return
	}
	s.fail(fmt.Errorf("%w: %v", ErrConnectionLost, lastErr))
}

// readLoop is the conn's only reader. It blocks on the application only to wait for room in the receive
// buffer while nothing of ours awaits acknowledgement (see awaitRoom).
func (s *Channel) readLoop(c *conn) {
	defer s.wg.Done()
	var buf []byte // grown by ReadFrame to the largest frame seen: an idle session holds none
	for {
		frame, err := c.t.ReadFrame(buf)
		if err != nil {
			s.connLost(c, err)
			return
		}
		if cap(frame) > cap(buf) {
			buf = frame[:0]
		}
		// The receive state belongs to one reader at a time. After a writer-side failure the next conn's
		// reader can start while this one is still handling a frame; recvMu orders them, and a reader whose
		// conn is gone drops what it read (the agent resends anything unacknowledged).
		s.recvMu.Lock()
		select {
		case <-c.done:
			s.recvMu.Unlock()
			return
		default:
		}
		s.recvConn = c
		s.handleFrame(frame)
		s.recvMu.Unlock()
	}
}

// writeLoop is the conn's only writer: acknowledgements first, then new data, then overdue data, and pings.
func (s *Channel) writeLoop(c *conn) {
	defer s.wg.Done()
	w := writer{s: s, c: c}
	resend := time.NewTimer(time.Hour)
	resend.Stop()
	armed := false
	paceT := time.NewTimer(time.Hour)
	paceT.Stop()
	defer paceT.Stop()
	ping := time.NewTicker(s.cfg.PingInterval)
	defer ping.Stop()
	defer resend.Stop()
	if err := c.t.Ping(); err != nil {
		s.connLost(c, err)
		return
	}
	ck, _ := c.t.(corker)
	batch := func(f func() error) error {
		if ck == nil {
			return f()
		}
		ck.Cork()
		err := f()
		if uerr := ck.Uncork(); err == nil {
			err = uerr
		}
		return err
	}
	for {
		if err := batch(w.flush); err != nil {
			s.connLost(c, err)
			return
		}
		if !armed && s.outstanding() {
			resend.Reset(s.resendInterval())
			armed = true
		}
		if d := s.paceWait(); d > 0 {
			paceT.Reset(d)
		}
		select {
		case <-s.wake:
		case <-paceT.C:
		case <-resend.C:
			armed = false
			s.pauseExpired(time.Now())
			if s.ackOverdue() {
				s.ackTimedOut()
				return
			}
			if err := batch(w.resendOverdue); err != nil {
				s.connLost(c, err)
				return
			}
		case <-ping.C:
			if err := c.t.Ping(); err != nil {
				s.connLost(c, err)
				return
			}
		case <-c.done:
			return
		case <-s.done:
			return
		}
	}
}

// ackTimedOut ends a session whose agent stopped acknowledging, and asks the service to terminate it.
func (s *Channel) ackTimedOut() {
	s.fail(fmt.Errorf("%w: no acknowledgement for %v", ErrAckTimeout, s.cfg.AckTimeout))
	if s.cfg.SSM == nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := s.cfg.SSM.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: &s.id}); err != nil {
			s.cfg.Logger.Warn("TerminateSession after acknowledgement timeout failed", "session", s.id, "err", err)
		}
	}()
}

// writer holds the write loop's scratch buffers, so acknowledgements are built without allocating.
type writer struct {
	s    *Channel
	c    *conn
	acks []ackReq
	buf  []byte
	ack  []byte
}

// flush sends a pending pong, pending acknowledgements and every data message not yet sent on this conn.
func (w *writer) flush() error {
	p, _ := w.c.t.(ponger)
	for {
		if p != nil {
			if err := p.WritePong(); err != nil {
				return err
			}
		}
		if err := w.flushAcks(); err != nil {
			return err
		}
		e := w.s.nextToSend()
		if e == nil {
			return nil
		}
		if err := w.transmit(e); err != nil {
			return err
		}
	}
}

func (w *writer) flushAcks() error {
	s := w.s
	s.mu.Lock()
	w.acks, s.pendingAcks = s.pendingAcks, w.acks[:0]
	s.mu.Unlock()
	for _, a := range w.acks {
		w.ack = protocol.AppendAcknowledge(w.ack[:0], a.msgType, a.id, a.seq)
		frame, err := buildAck(w.buf[:0], w.ack)
		if err != nil {
			return err
		}
		w.buf = frame
		if err := w.c.t.WriteBinary(frame); err != nil {
			return err
		}
		s.stats.acksSent.Add(1)
	}
	return nil
}

// transmit writes one data message; e is marked as being written so an acknowledgement arriving meanwhile
// does not recycle its buffer.
func (w *writer) transmit(e *outMsg) error {
	err := w.c.t.WriteBinary(e.buf)
	s := w.s
	s.mu.Lock()
	e.writing = false
	s.maybeFree(e)
	s.mu.Unlock()
	return err
}

// resendOverdue retransmits the messages whose retransmission timeout has passed and that look lost (see
// nextOverdue), then backs the timeout off once for this expiry. All are judged by the timeout in force when
// the pass began, so one expiry doubles it once.
func (w *writer) resendOverdue() error {
	rto := w.s.currentRTO()
	resent := false
	defer func() {
		if resent {
			w.s.backOff(rto)
		}
	}()
	for {
		if err := w.flushAcks(); err != nil {
			return err
		}
		e := w.s.nextOverdue(rto)
		if e == nil {
			return nil
		}
		resent = true
		w.s.stats.resent.Add(1)
		if err := w.transmit(e); err != nil {
			return err
		}
	}
}
