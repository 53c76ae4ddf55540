package portforward

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/ssmwire/ssmwire/session"
)

// packer carries smux's byte stream into the session's data messages, cut at the session's full payload
// size whatever the frames were.
//
// Every stream Write becomes frames of at most MaxFrameSize bytes (writeData), so frame boundaries follow
// how the caller happens to write: 32 KiB writes with 32 760-byte frames give a full frame and an 8-byte
// one each, and sent one message per frame that doubles the data messages (and their acknowledgements)
// compared with io.Copy. The agent reads the mux as a byte stream and does not care where messages end, so
// the packer ignores frame boundaries: frames are appended whole to a buffer (writeFrame; the writers are
// the streams' Writes and smux's sender), and one goroutine (run) sends it in messages of the channel's
// MaxPayload bytes. Bytes wait in the buffer only while the pump is still handing earlier
// ones to the session (whose window may be full): an idle pump sends a write at once, partial message or
// not, so a lone small write costs no latency, and a busy path gathers whatever the callers wrote into full
// messages. (Only right after a full message, in a bulk stream, does a partial one wait, up to packLinger,
// for a copy loop's next read.) The number of messages is therefore a property of the path, not of the
// caller's write sizes.
type packer struct {
	s    *session.Channel
	ctx  context.Context // the transport's: canceled by Close
	size int             // payload bytes per message

	mu          sync.Mutex
	buf         []byte  // pending bytes are buf[r:]; nil while idle
	bp          *[]byte // buf's pooled holder, if it came from bufPool
	r           int
	sending     bool            // the pump is sending buf[r:r+n], which nobody else may touch
	err         error           // sticky: why the pump stopped
	waitq       []chan struct{} // callers waiting for the pump's next step, each with its own channel (capacity 1)
	freeq       []chan struct{} // channels for waitq, reused so that waiting allocates nothing
	writers     int             // stream Writes in progress (begin/end): more frames are on their way
	roomWaiters int             // writeFrame callers waiting for room
	roomNeed    int             // the most room one of them needs (while roomWaiters > 0)
	wake        chan struct{}   // tells the pump that bytes arrived or a stream Write ended (capacity 1)
	lastFull    bool            // the pump's last message was full: a bulk stream is going through
	lingerT     *time.Timer     // the pump's, for linger
	done        chan struct{}   // closed when the pump has returned
}

// packLinger bounds how long a partial message waits for more bytes in a bulk stream.
const packLinger = time.Millisecond

// packerBufSize is the capacity of a packer's buffer: the bytes callers may write ahead of the session.
// It must hold at least two messages so that a full one can go while the next is filled.
func packerBufSize(size int) int { return max(2*size, 64<<10) }

// bufPool recycles packer buffers of pooledBufSize bytes (the capacity for payloads up to 32 KiB), so that
// sessions that go quiet hold none.
var bufPool sync.Pool

const pooledBufSize = 64 << 10

func newPacker(ctx context.Context, s *session.Channel) *packer {
	p := &packer{s: s, ctx: ctx, size: s.MaxPayload(), wake: make(chan struct{}, 1), done: make(chan struct{})}
	go p.run()
	return p
}

// writeFrame appends hdr and data together, once the buffer has room for both, so that an smux frame is
// never cut by another writer's bytes; it returns len(data). A non-nil ctx ends the wait for room, and
// then nothing was written. A frame must fit the buffer (frameRoom).
func (p *packer) writeFrame(ctx context.Context, hdr, data []byte) (int, error) {
	need := len(hdr) + len(data)
	if need > p.frameRoom() {
		return 0, fmt.Errorf("portforward: a frame of %d bytes does not fit the transport's buffer of %d", need, p.frameRoom())
	}
	var cancel <-chan struct{}
	if ctx != nil {
		cancel = ctx.Done()
	}
	p.mu.Lock()
	for {
		if p.err != nil {
			err := p.err
			p.mu.Unlock()
			return 0, err
		}
		if p.buf == nil {
			p.getBuf()
		}
		if cap(p.buf)-len(p.buf) < need && p.r > 0 && !p.sending {
			p.compact()
		}
		if cap(p.buf)-len(p.buf) >= need {
			break
		}
		p.roomWaiters++
		p.roomNeed = max(p.roomNeed, need)
		ch := p.waitLocked()
		p.mu.Unlock()
		p.poke() // the pump may be holding back a partial message that must go first (starved)
		err := p.wait(ch, cancel)
		p.mu.Lock()
		if p.roomWaiters--; p.roomWaiters == 0 {
			p.roomNeed = 0
		}
		if err == nil && cancel != nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		if err != nil {
			p.mu.Unlock()
			return 0, err
		}
	}
	p.buf = append(p.buf, hdr...)
	p.buf = append(p.buf, data...)
	p.mu.Unlock()
	p.poke()
	return len(data), nil
}

// frameRoom is the most bytes writeFrame takes at once: the buffer's capacity.
func (p *packer) frameRoom() int { return packerBufSize(p.size) }

// starved reports whether a writeFrame caller waits for more room than the buffer has beside its pending
// bytes: then a partial message must go rather than wait for bytes that cannot come until it has gone.
// Called with mu held.
func (p *packer) starved() bool {
	return p.roomWaiters > 0 && cap(p.buf)-(len(p.buf)-p.r) < p.roomNeed
}

// begin and end bracket a stream's Write. While one is in progress the pump holds back a partial message:
// the rest of that Write's frames are coming and will fill it.
func (p *packer) begin() {
	p.mu.Lock()
	p.writers++
	p.mu.Unlock()
}

func (p *packer) end() {
	p.mu.Lock()
	p.writers--
	p.mu.Unlock()
	p.poke()
}

func (p *packer) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Flush waits until every buffered byte has been handed to the session, or ctx is done, or the pump stopped.
func (p *packer) Flush(ctx context.Context) error {
	for {
		p.mu.Lock()
		if p.err != nil {
			err := p.err
			p.mu.Unlock()
			return err
		}
		if len(p.buf)-p.r == 0 && !p.sending {
			p.mu.Unlock()
			return nil
		}
		ch := p.waitLocked()
		p.mu.Unlock()
		if err := p.wait(ch, ctx.Done()); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("portforward: flush: %w", ctx.Err())
		}
	}
}

// waitLocked registers the caller as waiting for the pump's next step and returns the channel that step
// signals. Called with mu held; the caller then calls wait.
func (p *packer) waitLocked() chan struct{} {
	var ch chan struct{}
	if k := len(p.freeq); k > 0 {
		ch, p.freeq = p.freeq[k-1], p.freeq[:k-1]
	} else {
		ch = make(chan struct{}, 1)
	}
	p.waitq = append(p.waitq, ch)
	return ch
}

// wait waits for ch (from waitLocked), cancel or the pump's end, then gives ch back. It returns the error
// that stopped the pump, if it stopped; a signal or cancel returns nil.
func (p *packer) wait(ch chan struct{}, cancel <-chan struct{}) error {
	select {
	case <-ch:
	case <-cancel:
	case <-p.done:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := slices.Index(p.waitq, ch); i >= 0 { // not signalled: leave the queue
		p.waitq = slices.Delete(p.waitq, i, i+1)
	}
	select {
	case <-ch:
	default:
	}
	p.freeq = append(p.freeq, ch)
	return p.err
}

// run is the pump: it sends the buffer, every pending full message in one call, until the transport is
// closed or the session fails.
func (p *packer) run() {
	defer close(p.done)
	lingered := false // the partial message at the head has had its wait
	for {
		p.mu.Lock()
		for pending := len(p.buf) - p.r; pending == 0 || (pending < p.size && p.writers > 0 && !p.starved()); pending = len(p.buf) - p.r {
			p.mu.Unlock()
			select {
			case <-p.wake:
			case <-p.ctx.Done():
				p.stop(fmt.Errorf("portforward: mux transport closed: %w", context.Canceled))
				return
			case <-p.s.Done():
				p.stop(fmt.Errorf("portforward: mux transport: %w", ErrSessionEnded))
				return
			}
			p.mu.Lock()
		}
		if partial := len(p.buf)-p.r < p.size; partial && !lingered && !p.starved() {
			lingered = true
			if p.lastFull {
				// In a bulk stream (the last message was full) a partial message waits up to packLinger for a
				// copy loop's next read to fill it, as TCP's autocorking holds a segment while earlier ones
				// are still queued; more bytes or the start of a Write end the wait.
				p.mu.Unlock()
				if !p.linger() {
					return
				}
				continue
			}
			// Let a writer that is about to add to it (a copy loop between its read and its Write) run
			// first. Costs nothing when nobody else is runnable.
			p.mu.Unlock()
			runtime.Gosched()
			p.mu.Lock()
		}
		// Every full message pending goes in one call, up to half the buffer (the other half takes the next
		// bytes meanwhile): the session queues them together and its writer sends them in one system call.
		n := len(p.buf) - p.r
		if n > p.size {
			n = min(n, max(cap(p.buf)/2, p.size))
			n -= n % p.size
		}
		chunk := p.buf[p.r : p.r+n]
		p.sending = true
		p.mu.Unlock()

		_, err := p.s.WriteContext(p.ctx, chunk)

		p.mu.Lock()
		p.sending = false
		if err != nil {
			p.mu.Unlock()
			p.stop(err)
			return
		}
		p.r += n
		p.lastFull, lingered = n >= p.size, false
		switch {
		case p.r == len(p.buf):
			p.putBuf()
		case p.r >= cap(p.buf)/2:
			p.compact()
		}
		p.notifyLocked()
		p.mu.Unlock()
	}
}

// linger waits up to packLinger for more bytes; it returns false when the pump is to stop.
func (p *packer) linger() bool {
	if p.lingerT == nil {
		p.lingerT = time.NewTimer(packLinger)
	} else {
		p.lingerT.Reset(packLinger)
	}
	defer p.lingerT.Stop()
	select {
	case <-p.wake:
	case <-p.lingerT.C:
	case <-p.ctx.Done():
		p.stop(fmt.Errorf("portforward: mux transport closed: %w", context.Canceled))
		return false
	case <-p.s.Done():
		p.stop(fmt.Errorf("portforward: mux transport: %w", ErrSessionEnded))
		return false
	}
	return true
}

// stop records why the pump ended and wakes every waiter.
func (p *packer) stop(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
	p.notifyLocked()
}

func (p *packer) notifyLocked() {
	for i, ch := range p.waitq {
		ch <- struct{}{} // cannot block: a channel is in waitq once, and emptied before it is reused
		p.waitq[i] = nil
	}
	p.waitq = p.waitq[:0]
}

// compact moves the pending bytes to the front of the buffer. Called with mu held while not sending.
func (p *packer) compact() {
	k := copy(p.buf, p.buf[p.r:])
	p.buf, p.r = p.buf[:k], 0
}

// getBuf gives the packer an empty buffer. Called with mu held.
func (p *packer) getBuf() {
	size := packerBufSize(p.size)
	if size == pooledBufSize {
		p.bp, _ = bufPool.Get().(*[]byte)
		if p.bp == nil {
			b := make([]byte, 0, size)
			p.bp = &b
		}
		p.buf = (*p.bp)[:0]
		return
	}
	p.buf = make([]byte, 0, size)
}

// putBuf returns the packer's empty buffer. Called with mu held while not sending.
func (p *packer) putBuf() {
	if p.bp != nil {
		*p.bp = p.buf[:0]
		bufPool.Put(p.bp)
	}
	p.buf, p.bp, p.r = nil, nil, 0
}
