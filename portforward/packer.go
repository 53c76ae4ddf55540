package portforward

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/ssmwire/ssmwire/session"
)

// packer carries smux's byte stream into the session's data messages, cut at the session's full payload
// size whatever the frames were.
//
// smux turns every stream Write into frames of at most MaxFrameSize bytes, so its frame boundaries follow
// how the caller happens to write: 32 KiB writes with 32 760-byte frames give a full frame and an 8-byte
// one each, and sent one message per frame that doubles the data messages (and their acknowledgements)
// compared with io.Copy. The agent reads the mux as a byte stream and does not care where messages end, so
// the packer ignores frame boundaries: frames are appended to a buffer, and one goroutine (run) sends it in
// messages of the channel's MaxPayload bytes. Bytes wait in the buffer only while the pump is still handing earlier
// ones to the session (whose window may be full): an idle pump sends a write at once, partial message or
// not, so a lone small write costs no latency, and a busy path gathers whatever the callers wrote into full
// messages. (Only right after a full message, in a bulk stream, does a partial one wait, up to packLinger,
// for a copy loop's next read.) The number of messages is therefore a property of the path, not of the
// caller's write sizes.
type packer struct {
	s    *session.Channel
	ctx  context.Context // the transport's: canceled by Close
	size int             // payload bytes per message

	mu       sync.Mutex
	buf      []byte  // pending bytes are buf[r:]; nil while idle
	bp       *[]byte // buf's pooled holder, if it came from bufPool
	r        int
	sending  bool          // the pump is sending buf[r:r+n], which nobody else may touch
	err      error         // sticky: why the pump stopped
	waiters  chan struct{} // closed and cleared at each step of the pump, when someone waits
	writers  int           // stream Writes in progress (begin/end): more frames are on their way
	wake     chan struct{} // tells the pump that bytes arrived or a stream Write ended (capacity 1)
	lastFull bool          // the pump's last message was full: a bulk stream is going through
	lingerT  *time.Timer   // the pump's, for linger
	done     chan struct{} // closed when the pump has returned
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

// Write appends b to the buffer, waiting while it is full. It returns when every byte is buffered, or with
// the error that stopped the pump (the session ended or the transport was closed).
func (p *packer) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		p.mu.Lock()
		if p.err != nil {
			err := p.err
			p.mu.Unlock()
			return n, err
		}
		if p.buf == nil {
			p.getBuf()
		}
		if len(p.buf) == cap(p.buf) && p.r > 0 && !p.sending {
			p.compact()
		}
		k := min(cap(p.buf)-len(p.buf), len(b))
		if k == 0 {
			ch := p.waitLocked()
			p.mu.Unlock()
			if err := p.wait(ch); err != nil {
				return n, err
			}
			continue
		}
		p.buf = append(p.buf, b[:k]...)
		p.mu.Unlock()
		b = b[k:]
		n += k
		p.poke()
	}
	return n, nil
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

// WriteBuffers writes v in order as one Write would. smux's sender uses it when the connection offers it,
// and then needs no 64 KiB frame buffer of its own.
func (p *packer) WriteBuffers(v [][]byte) (int, error) {
	n := 0
	for _, b := range v {
		k, err := p.Write(b)
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
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
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("portforward: flush: %w", ctx.Err())
		case <-p.done:
		}
	}
}

// waitLocked returns a channel closed at the pump's next step.
func (p *packer) waitLocked() chan struct{} {
	if p.waiters == nil {
		p.waiters = make(chan struct{})
	}
	return p.waiters
}

// wait waits for ch, the pump's end or the transport's.
func (p *packer) wait(ch chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.err
	}
}

// run is the pump: it sends the buffer, every pending full message in one call, until the transport is
// closed or the session fails.
func (p *packer) run() {
	defer close(p.done)
	lingered := false // the partial message at the head has had its wait
	for {
		p.mu.Lock()
		for pending := len(p.buf) - p.r; pending == 0 || (pending < p.size && p.writers > 0); pending = len(p.buf) - p.r {
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
		if partial := len(p.buf)-p.r < p.size; partial && !lingered {
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
	if p.waiters != nil {
		close(p.waiters)
		p.waiters = nil
	}
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
