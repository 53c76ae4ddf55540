package portforward

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"
)

// deadline turns a net.Conn deadline into a context for the session's context-aware calls. The context is
// canceled with cause os.ErrDeadlineExceeded when the deadline passes, or with its parent. Moving the
// deadline while a call waits on the context affects that call, as net.Conn requires; once the deadline has
// passed, the next set starts a fresh context.
type deadline struct {
	mu     sync.Mutex
	parent context.Context
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	gen    uint64 // bumped by every set, so a stale timer cannot cancel a newer deadline
}

func newDeadline(parent context.Context) *deadline {
	d := &deadline{parent: parent}
	d.ctx, d.cancel = context.WithCancelCause(parent)
	return d
}

// set moves the deadline; the zero time removes it.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if d.ctx.Err() != nil && d.parent.Err() == nil {
		d.ctx, d.cancel = context.WithCancelCause(d.parent)
	}
	if t.IsZero() {
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		d.cancel(os.ErrDeadlineExceeded)
		return
	}
	gen, cancel := d.gen, d.cancel
	d.timer = time.AfterFunc(dur, func() {
		d.mu.Lock()
		if d.gen == gen {
			cancel(os.ErrDeadlineExceeded)
		}
		d.mu.Unlock()
	})
}

// context returns the context a call should wait on.
func (d *deadline) context() context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ctx
}

// stop releases the timer.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

// connDeadlines are a conn's read and write deadlines, each a context for its calls, with net.Conn's three
// setters. Conns embed it.
type connDeadlines struct{ rd, wd *deadline }

func newConnDeadlines(parent context.Context) connDeadlines {
	return connDeadlines{rd: newDeadline(parent), wd: newDeadline(parent)}
}

func (d connDeadlines) SetDeadline(t time.Time) error {
	d.rd.set(t)
	d.wd.set(t)
	return nil
}
func (d connDeadlines) SetReadDeadline(t time.Time) error  { d.rd.set(t); return nil }
func (d connDeadlines) SetWriteDeadline(t time.Time) error { d.wd.set(t); return nil }

// stop releases both timers.
func (d connDeadlines) stop() {
	d.rd.stop()
	d.wd.stop()
}

// ctxError maps a canceled call context to a net.Conn error: os.ErrDeadlineExceeded (a net.Error whose
// Timeout is true) for a passed deadline, otherwise the cause (net.ErrClosed for a closed conn).
func ctxError(ctx context.Context) error {
	cause := context.Cause(ctx)
	if errors.Is(cause, os.ErrDeadlineExceeded) {
		return os.ErrDeadlineExceeded
	}
	if cause == nil {
		return ctx.Err()
	}
	return cause
}
