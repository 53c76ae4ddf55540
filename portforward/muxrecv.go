package portforward

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// The receive side of mux mode. smux's receive goroutine reads the agent's bytes through muxTransport.Read,
// which reads them frame by frame. The data of a PSH frame for a stream portforward opened goes straight
// into that stream's recvBuf, and smux gets a NOP header in the frame's place; every other frame (SYN, FIN,
// NOP, frames of streams nobody has) reaches smux whole, as before. smux v1.5.16's receiver makes about 150
// bytes of garbage per data frame (slices of pending buffers consumed from the front, and the interface its
// buffer pool boxes each buffer in); a recvBuf makes none, and holds its bytes in chunks the transport
// reuses. smux still sees a frame for every frame the agent sends, so its keepalive (which needs some frame
// between two checks) is unchanged.
//
// As in smux's protocol version 1, the bound is on the bytes received for all streams and not yet read
// (Config.MuxReceiveBuffer): when they reach it, the transport reads no further frame until a Read takes
// some, which holds back the agent through the session's receive window. One frame may go past the bound.

// ctxReader is the session's receiving side: *session.Channel.
type ctxReader interface {
	ReadContext(ctx context.Context, p []byte) (int, error)
}

// recvChunkSize is the data a chunk of a recvBuf holds: with its two offsets a chunk is 16 KiB, which is one
// of the allocator's size classes (16 KiB of data would take the 18 KiB class, whose spans hold four). The
// transport keeps up to recvFreeMax emptied chunks for reuse, and hands more to recvChunkPool.
const (
	recvChunkSize = 16<<10 - 16
	recvFreeMax   = 8
)

type recvChunk struct {
	b    [recvChunkSize]byte
	r, w int // b[r:w] is unread; b[w:] is filled by the transport's reader only
}

var recvChunkPool = sync.Pool{New: func() any { return new(recvChunk) }}

// recvBuf holds one stream's data from the agent until the stream's Reads take it, in a queue of chunks. The
// transport's reader (fill) writes into the free end of the last chunk without the lock and publishes the
// bytes under it; a Read gives back a chunk once it has read all of it, unless fill is writing into it. An
// idle stream holds no chunk.
type recvBuf struct {
	t     *muxTransport
	ready chan struct{} // capacity 1: data arrived, or fin

	mu      sync.Mutex
	chunks  []*recvChunk // oldest first; consumed by moving the rest down, so that it never reallocates
	n       int          // unread bytes
	filling bool         // fill is writing into the last chunk
	fin     bool         // the agent closed the stream: after the unread bytes, Read returns io.EOF
	closed  bool         // the stream was closed here: fill discards, nothing is kept
}

func newRecvBuf(t *muxTransport) *recvBuf {
	return &recvBuf{t: t, ready: make(chan struct{}, 1)}
}

func (b *recvBuf) signal() {
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// space returns the free end of the last chunk, adding a chunk when it is full. Called by fill with mu held.
func (b *recvBuf) space() *recvChunk {
	if k := len(b.chunks); k > 0 && b.chunks[k-1].w < recvChunkSize {
		return b.chunks[k-1]
	}
	c := b.t.getChunk()
	b.chunks = append(b.chunks, c)
	return c
}

// fill reads the next n bytes of the transport, the data of one PSH frame, into the chunks. It runs on the
// transport's reader. Bytes are published as they arrive, so a Read need not wait for the whole frame.
func (b *recvBuf) fill(n int) error {
	for n > 0 {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return b.t.discard(n)
		}
		c := b.space()
		free := c.b[c.w:]
		b.filling = true
		b.mu.Unlock()
		k, err := b.t.in.ReadContext(b.t.ctx, free[:min(len(free), n)])
		b.mu.Lock()
		b.filling = false
		if !b.closed {
			c.w += k
			b.n += k
			b.t.buffered.Add(int64(k))
		}
		b.mu.Unlock()
		b.signal()
		n -= k
		if err != nil {
			return err
		}
	}
	return nil
}

// take moves unread bytes into p. Called with mu held.
func (b *recvBuf) take(p []byte) int {
	got := 0
	for got < len(p) && b.n > 0 {
		c := b.chunks[0]
		k := copy(p[got:], c.b[c.r:c.w])
		c.r += k
		b.n -= k
		got += k
		if c.r == c.w && (c.w == recvChunkSize || !b.filling) {
			copy(b.chunks, b.chunks[1:])
			b.chunks[len(b.chunks)-1] = nil
			b.chunks = b.chunks[:len(b.chunks)-1]
			b.t.putChunk(c)
		}
	}
	return got
}

// finish records the agent's FIN.
func (b *recvBuf) finish() {
	b.mu.Lock()
	b.fin = true
	b.mu.Unlock()
	b.signal()
}

// read takes unread bytes into p, waiting for some while there are none. Once the unread bytes are taken, it
// returns io.EOF after the agent's FIN or when die is closed (the stream or smux's session is), and the
// transport's error when it reads no more; and ctx's error when ctx ends.
func (b *recvBuf) read(ctx context.Context, die <-chan struct{}, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		b.mu.Lock()
		if b.n > 0 {
			k := b.take(p)
			b.t.release(k)
			b.mu.Unlock()
			return k, nil
		}
		fin := b.fin
		b.mu.Unlock()
		if fin {
			return 0, io.EOF
		}
		select {
		case <-b.ready:
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-die:
			if b.empty() {
				return 0, io.EOF
			}
		case <-b.t.dead:
			if b.empty() {
				return 0, b.t.deadErr
			}
		}
	}
}

func (b *recvBuf) empty() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n == 0
}

// close drops the unread bytes and makes fill discard what still comes for the stream.
func (b *recvBuf) close() {
	b.mu.Lock()
	b.closed = true
	b.t.release(b.n)
	for i, c := range b.chunks {
		// The chunk fill is writing into is left to the collector: once in recvChunkPool, another
		// session's transport could take it while this fill still writes.
		if !b.filling || i < len(b.chunks)-1 {
			b.t.putChunk(c)
		}
		b.chunks[i] = nil
	}
	b.chunks, b.n = nil, 0
	b.mu.Unlock()
	b.signal()
}

// getChunk returns an empty chunk. Only the transport's reader calls it.
func (t *muxTransport) getChunk() *recvChunk {
	t.freeMu.Lock()
	var c *recvChunk
	if k := len(t.free); k > 0 {
		c = t.free[k-1]
		t.free[k-1] = nil
		t.free = t.free[:k-1]
	}
	t.freeMu.Unlock()
	if c == nil {
		c = recvChunkPool.Get().(*recvChunk)
	}
	c.r, c.w = 0, 0
	return c
}

func (t *muxTransport) putChunk(c *recvChunk) {
	t.freeMu.Lock()
	if len(t.free) < recvFreeMax {
		t.free = append(t.free, c)
		c = nil
	}
	t.freeMu.Unlock()
	if c != nil {
		recvChunkPool.Put(c)
	}
}

// recvState is the transport's reading state, owned by smux's receive goroutine (the caller of Read).
type recvState struct {
	hdr  [smuxHeaderSize]byte
	hout int // header bytes of hdr already handed to smux; smuxHeaderSize when none are pending
	pass int // data bytes of the current frame still to hand to smux

	onFrame func(cmd byte, sid uint32, length int) *recvBuf // nil: smux gets the frame
}

func (t *muxTransport) initRecv(in ctxReader, onFrame func(cmd byte, sid uint32, length int) *recvBuf, limit int) {
	t.in = in
	t.rs = recvState{hout: smuxHeaderSize, onFrame: onFrame}
	t.limit, t.room, t.dead = int64(limit), make(chan struct{}, 1), make(chan struct{})
}

// release returns k bytes to the receive bound, letting the reader go on when it waits for room.
func (t *muxTransport) release(k int) {
	if k == 0 {
		return
	}
	if t.buffered.Add(-int64(k)) < t.limit {
		select {
		case t.room <- struct{}{}:
		default:
		}
	}
}

// Read gives smux the agent's frames, less the data of the frames a recvBuf takes (see the top of this
// file). It is called only by smux's receive goroutine.
func (t *muxTransport) Read(p []byte) (int, error) {
	for {
		if t.rs.hout < smuxHeaderSize {
			k := copy(p, t.rs.hdr[t.rs.hout:])
			t.rs.hout += k
			return k, nil
		}
		if t.rs.pass > 0 {
			n, err := t.in.ReadContext(t.ctx, p[:min(len(p), t.rs.pass)])
			t.rs.pass -= n
			if err != nil {
				t.fail(err)
			}
			return n, err
		}
		if err := t.nextFrame(); err != nil {
			t.fail(err)
			return 0, err
		}
	}
}

// nextFrame reads the next frame's header, once the bytes buffered for the streams are below the bound.
// A PSH frame's data goes to its stream's recvBuf, and smux is given a NOP header instead.
func (t *muxTransport) nextFrame() error {
	for t.buffered.Load() >= t.limit {
		select {
		case <-t.room:
		case <-t.ctx.Done():
			return context.Cause(t.ctx)
		}
	}
	if _, err := io.ReadFull(inReader{t}, t.rs.hdr[:]); err != nil {
		return err
	}
	t.rs.hout = 0
	h := &t.rs.hdr
	cmd, length, sid := h[1], int(binary.LittleEndian.Uint16(h[2:])), binary.LittleEndian.Uint32(h[4:])
	rb := t.rs.onFrame(cmd, sid, length)
	if h[0] == smuxVersion1 && cmd == smuxPSH && length > 0 && rb != nil {
		if err := rb.fill(length); err != nil {
			return err
		}
		h[1], h[2], h[3] = smuxNOP, 0, 0
		return nil
	}
	switch {
	case h[0] != smuxVersion1 || cmd > smuxUPD:
		// smux stops reading at this header; the streams' Reads must not wait for more.
		t.fail(fmt.Errorf("portforward: smux: frame of version %d, command %d", h[0], cmd))
	case cmd == smuxPSH:
		t.rs.pass = length // in version 1 only PSH carries data
	case cmd == smuxUPD:
		t.rs.pass = smuxUPDSize // a version 2 frame: smux reads its window update
	}
	return nil
}

// fail records that the transport reads no more, for the streams' Reads. The first error stays.
func (t *muxTransport) fail(err error) {
	t.deadOnce.Do(func() {
		t.deadErr = err
		close(t.dead)
	})
}

// inReader is the transport's input under its context, as an io.Reader (io.ReadFull, io.CopyN).
type inReader struct{ t *muxTransport }

func (r inReader) Read(p []byte) (int, error) { return r.t.in.ReadContext(r.t.ctx, p) }

// discard reads and drops n bytes: the data of a frame for a stream closed while it arrived.
func (t *muxTransport) discard(n int) error {
	_, err := io.CopyN(io.Discard, inReader{t}, int64(n))
	return err
}

// recvShared is what the transport's reader and its streams' recvBufs share: the bound, the transport's
// failure and the emptied chunks.
type recvShared struct {
	limit    int64
	buffered atomic.Int64  // bytes in the streams' recvBufs
	room     chan struct{} // capacity 1: buffered went below limit

	dead     chan struct{} // closed when Read has failed, or smux stopped reading
	deadOnce sync.Once
	deadErr  error // set before dead is closed

	freeMu sync.Mutex
	free   []*recvChunk // emptied chunks, at most recvFreeMax
}
