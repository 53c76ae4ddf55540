package ssmtest

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The emulator writes to each client websocket from one writer goroutine per connection, which takes
// every frame queued since its last round and writes them with one system call (a cork below gorilla).
// Order is the order of queueing, as before; nothing is merged or reordered inside the websocket stream,
// so a client sees the same frames as from a server that wrote each with its own system call. Without
// this, the agent's acknowledgement of every 1 KiB message cost the emulator one write(2), the largest
// share of its CPU time on uploads with small messages.

// outFrame is one queued write: a binary message (msg), optionally followed by a ping, or a close frame.
type outFrame struct {
	msg     []byte
	ping    []byte // a ping written right after msg (its pong proves the client read msg)
	close   string // when closing: the close frame's reason (msg and ping are nil)
	closing bool
	relayed bool // a relayed frame: counted in lostToClient when it cannot be written
}

// errConnGone is what writes to a client connection that has ended return.
var errConnGone = errors.New("ssmtest: client websocket gone")

// enqueue queues f for the writer goroutine; it fails once the connection has failed or ended.
func (c *clientConn) enqueue(f outFrame) error {
	c.qmu.Lock()
	if c.werr != nil {
		c.qmu.Unlock()
		return c.werr
	}
	c.queue = append(c.queue, f)
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// writeLoop is the connection's writer goroutine: it writes queued frames in batches until the connection
// ends (gone) or a write fails.
func (c *clientConn) writeLoop() {
	var batch []outFrame
	for {
		select {
		case <-c.wake:
		case <-c.gone:
			c.fail(errConnGone, nil)
			return
		}
		c.qmu.Lock()
		batch, c.queue = c.queue, batch[:0]
		c.qmu.Unlock()
		n, err := c.writeBatch(batch)
		if err != nil {
			c.fail(err, batch[n:])
			return
		}
		clear(batch)
	}
}

// fail makes later writes fail with err and counts the relayed frames that will never be written.
func (c *clientConn) fail(err error, unwritten []outFrame) {
	c.qmu.Lock()
	if c.werr == nil {
		c.werr = err
	}
	unwritten = append(unwritten, c.queue...)
	c.queue = nil
	c.qmu.Unlock()
	for _, f := range unwritten {
		if f.relayed && c.sess != nil {
			c.sess.counters.lostToClient.Add(1)
		}
	}
}

// writeBatch writes batch in order with one flush; it returns how many frames went out before an error.
func (c *clientConn) writeBatch(batch []outFrame) (int, error) {
	deadline := time.Now().Add(writeTimeout)
	c.ws.SetWriteDeadline(deadline)
	if c.cork != nil {
		c.cork.cork()
	}
	for i, f := range batch {
		var err error
		switch {
		case f.closing:
			err = c.ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, f.close), deadline)
		default:
			if err = c.ws.WriteMessage(websocket.BinaryMessage, f.msg); err == nil && f.ping != nil {
				err = c.ws.WriteControl(websocket.PingMessage, f.ping, deadline)
			}
		}
		if err != nil {
			return i, err
		}
	}
	if c.cork != nil {
		if err := c.cork.uncork(); err != nil {
			return len(batch), err
		}
	}
	return len(batch), nil
}

// corkConn is the server side of a client websocket, below gorilla: while corked, writes collect in a
// buffer that uncork writes with one system call (or sooner, when it passes corkMax).
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    []byte
}

// corkMax is the most a cork holds before it writes.
const corkMax = 64 << 10

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return c.Conn.Write(p)
	}
	if len(c.buf)+len(p) > corkMax {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) >= corkMax {
			return c.Conn.Write(p)
		}
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

func (c *corkConn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	return c.flushLocked()
}

// corkHijacker hands gorilla's Upgrader a corkConn instead of the hijacked connection.
type corkHijacker struct {
	http.ResponseWriter
	conn *corkConn
}

func (h *corkHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("ssmtest: response does not implement http.Hijacker")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = &corkConn{Conn: nc}
	return h.conn, brw, nil
}
