package session

import (
	"net"
	"sync"
)

// corkConn batches the TLS records of a session's websocket into fewer system calls. wsTransport gathers a
// batch's frames (acknowledgements, new data, resends) into one buffer and writes them to the tls.Conn in one
// call, but the tls.Conn writes each record of at most 16 KiB (fewer while a connection is new) to the
// connection below in a call of its own. The writer goroutine corks the connection below TLS before it sends
// a batch and uncorks it after: meanwhile every record, from any goroutine, is appended to a buffer that goes
// out in one write when the batch ends or the buffer is full. Uncorked, a write goes straight through, so
// frames written by other goroutines never wait for the writer. A plain websocket needs no cork.
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
