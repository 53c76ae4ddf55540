package session

import (
	"context"
	"fmt"
	"sync"
)

// recvBuffer is a bounded byte queue between the reader goroutine (push, never blocking; it may wait for
// room with arm and the room channel) and the application (read, blocking). Chunks come from chunkPool so
// the steady state does not allocate.
type recvBuffer struct {
	mu     sync.Mutex
	chunks []*[]byte // queued chunks; the first is read from off
	off    int
	n      int // bytes queued
	peak   int // the most bytes ever queued
	limit  int
	err    error         // set when the session ended; returned once the queue is empty
	ready  chan struct{} // cap 1: data or err arrived
	armed  bool          // the reader waits on room: read signals it once the queue is down to half its limit
	room   chan struct{} // cap 1: room was made for the armed reader
}

const chunkSize = 64 << 10

var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, chunkSize); return &b }}

func newRecvBuffer(limit int) *recvBuffer {
	return &recvBuffer{limit: limit, ready: make(chan struct{}, 1), room: make(chan struct{}, 1)}
}

// fits reports whether push would take n bytes now without force.
func (b *recvBuffer) fits(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fitsLocked(n)
}

func (b *recvBuffer) fitsLocked(n int) bool { return b.n == 0 || b.n+n <= b.limit || b.err != nil }

// arm prepares a wait for room for n bytes: it reports false when they fit already, and otherwise makes the
// next read that leaves the queue at most half full signal room (the reader then checks again). Waking at
// half the limit, not at the first free byte, lets the reader push a run of messages per wake.
func (b *recvBuffer) arm(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fitsLocked(n) {
		b.armed = false
		return false
	}
	b.armed = true
	return true
}

// disarm cancels arm.
func (b *recvBuffer) disarm() {
	b.mu.Lock()
	b.armed = false
	b.mu.Unlock()
}

// push copies p into the queue. Unless force is set it refuses (returns false) when the queue is non-empty
// and p would take it past its limit.
func (b *recvBuffer) push(p []byte, force bool) bool {
	if len(p) == 0 {
		return true
	}
	b.mu.Lock()
	if b.err != nil {
		b.mu.Unlock()
		return true // the session is over; nobody will read it
	}
	if !force && b.n > 0 && b.n+len(p) > b.limit {
		b.mu.Unlock()
		return false
	}
	b.n += len(p)
	b.peak = max(b.peak, b.n)
	for len(p) > 0 {
		var c *[]byte
		if k := len(b.chunks); k > 0 && len(*b.chunks[k-1]) < cap(*b.chunks[k-1]) {
			c = b.chunks[k-1]
		} else {
			c = chunkPool.Get().(*[]byte)
			*c = (*c)[:0]
			b.chunks = append(b.chunks, c)
		}
		room := cap(*c) - len(*c)
		k := min(room, len(p))
		*c = append(*c, p[:k]...)
		p = p[k:]
	}
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
	return true
}

// read copies queued bytes into p, blocking until there are some, the buffer is closed, or ctx is done.
func (b *recvBuffer) read(ctx context.Context, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		b.mu.Lock()
		if b.n > 0 {
			n, used := 0, 0
			for n < len(p) && used < len(b.chunks) {
				c := b.chunks[used]
				k := copy(p[n:], (*c)[b.off:])
				n += k
				b.off += k
				if b.off == len(*c) {
					*c = (*c)[:0]
					chunkPool.Put(c)
					used++
					b.off = 0
				}
			}
			if used > 0 {
				m := copy(b.chunks, b.chunks[used:])
				clear(b.chunks[m:])
				b.chunks = b.chunks[:m]
			}
			b.n -= n
			more := b.n > 0
			wake := b.armed && b.n <= b.limit/2
			if wake {
				b.armed = false
			}
			b.mu.Unlock()
			if wake {
				select {
				case b.room <- struct{}{}:
				default:
				}
			}
			if more {
				select {
				case b.ready <- struct{}{}:
				default:
				}
			}
			return n, nil
		}
		if b.err != nil {
			err := b.err
			b.mu.Unlock()
			return 0, err
		}
		b.mu.Unlock()
		select {
		case <-b.ready:
		case <-ctx.Done():
			return 0, fmt.Errorf("session: read: %w", ctx.Err())
		}
	}
}

// len returns the number of bytes queued.
func (b *recvBuffer) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// highWater returns the most bytes ever queued.
func (b *recvBuffer) highWater() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

// close makes reads return err once the queue is drained.
func (b *recvBuffer) close(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
	select {
	case b.room <- struct{}{}:
	default:
	}
}
