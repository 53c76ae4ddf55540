package session

import (
	"context"
	"net"
	"sync"
)

// corkConn batches the writes of the websocket below a session into fewer system calls. The writer
// goroutine corks it before it sends a batch (acknowledgements, new data, resends) and uncorks it after:
// meanwhile every frame gorilla writes, from any goroutine (a pong from the reader too), is appended to a
// buffer that goes out in one write when the batch ends or the buffer is full. With 1 KiB messages this turns
// one system call per message into one per batch, the largest cost of sending small messages. Uncorked, a
// write goes straight through, so keepalive frames from other goroutines never wait for the writer.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    *[]byte // from corkPool while corked
	err    error   // sticky write error
}

// corkMax is the most a cork holds before it writes: a few dozen 1 KiB messages.
const corkMax = 64 << 10

var corkPool = sync.Pool{New: func() any { b := make([]byte, 0, corkMax); return &b }}

// corkDialer returns a NetDialContext for gorilla that wraps each connection in a corkConn and reports it.
func corkDialer(got **corkConn) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cc := &corkConn{Conn: c}
		*got = cc
		return cc, nil
	}
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if !c.corked {
		return c.Conn.Write(p)
	}
	if len(*c.buf)+len(p) > corkMax {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	if len(p) >= corkMax {
		n, err := c.Conn.Write(p)
		if err != nil {
			c.err = err
		}
		return n, err
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

func (c *corkConn) flushLocked() error {
	if len(*c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(*c.buf)
	*c.buf = (*c.buf)[:0]
	if err != nil {
		c.err = err
	}
	return err
}

// cork starts a batch.
func (c *corkConn) cork() {
	c.mu.Lock()
	if !c.corked {
		c.corked = true
		c.buf = corkPool.Get().(*[]byte)
		*c.buf = (*c.buf)[:0]
	}
	c.mu.Unlock()
}

// uncork ends a batch and writes what it gathered.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return c.err
	}
	err := c.flushLocked()
	c.corked = false
	corkPool.Put(c.buf)
	c.buf = nil
	return err
}
