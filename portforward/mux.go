package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"

	"github.com/xtaci/smux"

	"github.com/ssmwire/ssmwire/session"
)

// startMux starts the smux client over the session.
func (f *Forwarder) startMux() error {
	if err := checkSmux(); err != nil {
		return err
	}
	sc := smux.DefaultConfig()
	sc.Version = 1
	switch f.cfg.MuxKeepAlive {
	case KeepAliveOn:
	case KeepAliveOff:
		sc.KeepAliveDisabled = true
	default:
		sc.KeepAliveDisabled = AgentDisablesKeepAlive(f.hs.AgentVersion)
	}
	sc.MaxFrameSize = f.cfg.MaxFrameSize
	sc.MaxReceiveBuffer = f.cfg.MuxReceiveBuffer
	sc.MaxStreamBuffer = f.cfg.MuxStreamBuffer
	f.transport = newMuxTransport(f.s, f.onMuxFrame, f.cfg.MuxReceiveBuffer)
	m, err := smux.Client(f.transport, sc)
	if err != nil {
		f.transport.Close()
		return fmt.Errorf("portforward: smux: %w", err)
	}
	f.mux = m
	return nil
}

// muxTransport is the byte stream smux runs over: the session's Output payloads. Closing it stops smux's
// reads and writes but leaves the session open.
//
// Its Read is called only by smux's receive goroutine. It reads the agent's bytes frame by frame, lets the
// Forwarder see every frame header (onMuxFrame), and puts the data of the streams' PSH frames into their
// recvBufs itself (muxrecv.go). Its writes go through a packer, which cuts them into full data messages
// whatever the frame sizes.
//
// Two kinds of writer share it: smux's sender (SYN, FIN and NOP frames) and the streams' Writes, which build
// their PSH frames themselves (writeData). The packer takes each frame whole (writeFrame), so frames from
// different writers never cut into each other.
type muxTransport struct {
	in     ctxReader // the session, or a test's reader
	ctx    context.Context
	cancel context.CancelFunc
	rs     recvState
	recvShared
	*packer
}

// newMuxTransport returns the transport over s. onFrame sees every frame header the agent sends and returns
// the recvBuf that takes a PSH frame's data, or nil to give the frame to smux; limit bounds the bytes held
// in recvBufs.
func newMuxTransport(s *session.Channel, onFrame func(cmd byte, sid uint32, length int) *recvBuf, limit int) *muxTransport {
	t := &muxTransport{}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.initRecv(s, onFrame, limit)
	t.packer = newPacker(t.ctx, s)
	return t
}

// Close stops the transport and waits for its pump. Bytes not yet sent are dropped; Flush first to keep
// them.
func (t *muxTransport) Close() error {
	t.cancel()
	<-t.packer.done
	return nil
}

// streamState is what the Forwarder knows about one smux stream it opened, under streamsMu.
type streamState struct {
	gotData bool // the agent sent data on it
	fin     bool // the agent closed it
	failed  bool // the agent could not connect it to the destination

	opened chan struct{} // closed when smux's OpenStream returned: smux then accepts frames for the stream
	rb     *recvBuf      // the data the agent sends on the stream, until its Reads take it
}

// onMuxFrame runs on smux's receive goroutine for every frame header, before the frame is handled. It
// returns the recvBuf of the frame's stream, which takes a PSH frame's data, or nil for a stream it does not
// know (smux then gets the frame, and drops it if it does not know the stream either).
//
// Flag ConnectToPortError names no stream. The agent sends it and then closes the stream whose destination
// dial failed, so the first stream the agent closes without ever having sent data on it, after such a flag,
// is taken to be the one that failed. (Best effort: a destination that accepts and closes at once without
// sending anything, at the same moment, could take the blame instead.)
//
// It also holds back a frame for a stream that smux is still opening. smux's OpenStream sends the SYN first
// and only then adds the stream to its table, and its receiver silently drops frames for streams it does
// not know: a destination that speaks first (an SSH banner) can answer within that window, and its first
// bytes, or the agent's FIN after a failed connect, would be lost and the stream would hang. Waiting here
// delays only frames of that one stream, until OpenStream has returned.
func (f *Forwarder) onMuxFrame(cmd byte, sid uint32, length int) *recvBuf {
	f.streamsMu.Lock()
	st := f.streams[sid]
	if st == nil {
		f.streamsMu.Unlock()
		return nil
	}
	switch cmd {
	case smuxPSH:
		if length > 0 {
			st.gotData = true
		}
	case smuxFIN:
		st.fin = true
		if !st.gotData && f.pendingErr > 0 {
			f.pendingErr--
			st.failed = true
		}
	}
	opened := st.opened
	f.streamsMu.Unlock()
	select {
	case <-opened:
	case <-f.ctx.Done():
	case <-f.s.Done():
	}
	if cmd == smuxFIN {
		st.rb.finish()
	}
	return st.rb
}

// dialMux opens one smux stream. Opening sends the SYN frame, which may wait for session window space.
func (f *Forwarder) dialMux(ctx context.Context) (net.Conn, error) {
	type result struct {
		c   *muxConn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := f.openStream()
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, r.err
		}
		return r.c, nil
	case <-ctx.Done():
	case <-f.ctx.Done():
	case <-f.s.Done():
	}
	go func() { // the open may still succeed; nobody wants the stream
		if r := <-ch; r.c != nil {
			r.c.Close()
		}
	}()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("portforward: dial: %w", ctx.Err())
	}
	return nil, fmt.Errorf("portforward: dial: %w", f.alive())
}

func (f *Forwarder) openStream() (*muxConn, error) {
	f.openMu.Lock()
	defer f.openMu.Unlock()
	// Register the state under the predicted id first, so that no frame for the new stream can go by unseen.
	sid := f.sids.predict()
	st := &streamState{opened: make(chan struct{}), rb: newRecvBuf(f.transport)}
	f.streamsMu.Lock()
	f.streams[sid] = st
	f.streamsMu.Unlock()
	s, err := f.mux.OpenStream()
	close(st.opened) // smux knows the stream now (or never will): its frames may pass
	if err != nil {
		f.forget(sid)
		st.rb.close()
		if f.alive() != nil {
			return nil, fmt.Errorf("portforward: dial: %w", f.alive())
		}
		return nil, fmt.Errorf("portforward: dial: open stream: %w", err)
	}
	f.sids.opened(s.ID())
	if s.ID() != sid { // cannot happen with the smux checkSmux accepts; keep the bookkeeping right regardless
		f.streamsMu.Lock()
		delete(f.streams, sid)
		f.streams[s.ID()] = st
		f.streamsMu.Unlock()
	}
	return newMuxConn(f, s, st), nil
}

func (f *Forwarder) forget(sid uint32) {
	f.streamsMu.Lock()
	delete(f.streams, sid)
	f.streamsMu.Unlock()
}

// muxConn is one smux stream as a net.Conn, with errors mapped to what net.Conn users expect. smux opens and
// closes the stream (SYN, FIN); the data goes around it. Reads take what the transport put into the stream's
// recvBuf, and Writes send their PSH frames through the transport themselves (writeData), as smux's
// Stream.Read and Stream.Write would but without their per-frame hand-offs and garbage.
//
// Half-close is not offered: smux protocol version 1 has no half-closed state (its FIN ends the stream on
// both sides), and the official plugin likewise closes the stream when the local client stops sending.
// The read deadline, set while a Read waits, ends it. The write deadline, like Close, ends a Write that
// waits for the transport (the session's window) between frames; a frame once started is written whole.
type muxConn struct {
	f      *Forwarder
	s      *smux.Stream
	st     *streamState
	closed atomic.Bool

	ctx    context.Context // canceled with net.ErrClosed by Close; the deadlines' parent
	cancel context.CancelCauseFunc
	connDeadlines
}

func newMuxConn(f *Forwarder, s *smux.Stream, st *streamState) *muxConn {
	c := &muxConn{f: f, s: s, st: st}
	c.ctx, c.cancel = context.WithCancelCause(f.ctx)
	c.connDeadlines = newConnDeadlines(c.ctx)
	return c
}

func (c *muxConn) state() (fin, failed bool) {
	c.f.streamsMu.Lock()
	defer c.f.streamsMu.Unlock()
	return c.st.fin, c.st.failed
}

func (c *muxConn) Read(p []byte) (int, error) {
	if _, failed := c.state(); failed {
		return 0, &ConnectToPortError{SessionID: c.f.s.ID()}
	}
	ctx := c.rd.context()
	if ctx.Err() != nil {
		return 0, c.ctxErr(ctx)
	}
	n, err := c.st.rb.read(ctx, c.s.GetDieCh(), p)
	if err != nil {
		if ctx.Err() != nil {
			return n, c.ctxErr(ctx)
		}
		err = c.mapErr(err)
	}
	return n, err
}

func (c *muxConn) Write(p []byte) (int, error) {
	if _, failed := c.state(); failed {
		return 0, &ConnectToPortError{SessionID: c.f.s.ID()}
	}
	ctx := c.wd.context()
	if ctx.Err() != nil {
		return 0, c.ctxErr(ctx)
	}
	select {
	case <-c.s.GetDieCh(): // closed, or smux's session is
		return 0, c.mapErr(io.ErrClosedPipe)
	default:
	}
	n, err := c.f.transport.writeData(ctx, c.s.ID(), p, c.f.cfg.MaxFrameSize)
	if err != nil {
		if ctx.Err() != nil {
			return n, c.ctxErr(ctx)
		}
		err = c.mapErr(err)
	}
	return n, err
}

// ctxErr maps the end of a Read's or Write's context: its deadline, Close, or the Forwarder's end.
func (c *muxConn) ctxErr(ctx context.Context) error {
	if c.closed.Load() {
		return net.ErrClosed
	}
	if err := ctxError(ctx); errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	return c.mapErr(io.ErrClosedPipe)
}

// mapErr turns smux's errors into net.Conn conventions.
func (c *muxConn) mapErr(err error) error {
	if c.closed.Load() {
		return net.ErrClosed
	}
	fin, failed := c.state()
	if failed {
		return &ConnectToPortError{SessionID: c.f.s.ID()}
	}
	if c.f.ctx.Err() != nil {
		return fmt.Errorf("%w: %w", net.ErrClosed, c.f.closedErr())
	}
	if fin && errors.Is(err, io.EOF) {
		return io.EOF
	}
	select {
	case <-c.f.s.Done(): // smux reports the transport's end as io.EOF too
		return c.f.sessionErr()
	default:
	}
	if errors.Is(err, io.ErrClosedPipe) {
		return net.ErrClosed
	}
	return err
}

// Close closes the stream (smux FIN). It is idempotent.
func (c *muxConn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.cancel(net.ErrClosed)
	c.connDeadlines.stop()
	c.st.rb.close() // first: its bytes stop counting against the bound at once, while smux's FIN may wait
	c.s.Close()
	c.f.forget(c.s.ID())
	return nil
}

func (c *muxConn) LocalAddr() net.Addr  { return c.f.localAddr(c.s.ID()) }
func (c *muxConn) RemoteAddr() net.Addr { return c.f.remoteAddr() }

// Stream returns the smux stream id.
func (c *muxConn) Stream() uint32 { return c.s.ID() }
