package session

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"
)

// countConn records the writes that reach the connection.
type countConn struct {
	net.Conn
	writes [][]byte
}

func (c *countConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *countConn) SetWriteDeadline(time.Time) error { return nil }

func TestCorkBatchesWrites(t *testing.T) {
	under := &countConn{}
	c := &corkConn{Conn: under}
	c.Write([]byte("a")) // uncorked: straight through
	c.cork()
	for range 3 {
		c.Write([]byte("bc"))
	}
	if len(under.writes) != 1 {
		t.Fatalf("%d writes while corked, want only the uncorked one", len(under.writes))
	}
	if err := c.uncork(); err != nil {
		t.Fatal(err)
	}
	if len(under.writes) != 2 || string(under.writes[1]) != "bcbcbc" {
		t.Fatalf("writes %q, want a then one bcbcbc", under.writes)
	}
	// A batch larger than corkMax goes out as it fills, in order.
	c.cork()
	big := bytes.Repeat([]byte("x"), corkMax/2+1)
	c.Write(big)
	c.Write(big)
	c.uncork()
	if len(under.writes) != 4 || len(under.writes[2]) != len(big) || len(under.writes[3]) != len(big) {
		t.Fatalf("%d writes for two half-cork writes", len(under.writes))
	}
}

// TestWebsocketBatchesFrames: the frames of a batch reach the connection in one write, or one per frameBatch
// bytes; a frame outside a batch is written at once; the frame buffer goes back to the pool after each; a
// failed write fails every later one.
func TestWebsocketBatchesFrames(t *testing.T) {
	under := &countConn{}
	tr := &wsTransport{nc: under}
	msg := make([]byte, 1140)
	tr.Cork()
	for range 10 {
		if err := tr.WriteBinary(msg); err != nil {
			t.Fatal(err)
		}
	}
	if len(under.writes) != 0 {
		t.Fatalf("%d writes before the batch ended", len(under.writes))
	}
	if err := tr.Uncork(); err != nil {
		t.Fatal(err)
	}
	if len(under.writes) != 1 || len(under.writes[0]) != 10*frameSize(len(msg)) {
		t.Fatalf("%d writes for a batch of 10 frames, want one of %d bytes", len(under.writes), 10*frameSize(len(msg)))
	}
	if tr.wbuf != nil {
		t.Fatal("frame buffer held after the batch")
	}
	tr.Cork()
	n := 2 * frameBatch / frameSize(len(msg))
	for range n {
		tr.WriteBinary(msg)
	}
	tr.Uncork()
	total := 0
	for _, w := range under.writes[1:] {
		if len(w) > frameBatch+frameSize(len(msg)) {
			t.Fatalf("a write of %d bytes, want at most about %d", len(w), frameBatch)
		}
		if len(w)%frameSize(len(msg)) != 0 {
			t.Fatalf("a write of %d bytes splits a frame", len(w))
		}
		total += len(w)
	}
	if total != n*frameSize(len(msg)) || len(under.writes) < 3 {
		t.Fatalf("%d bytes in %d writes for %d frames", total, len(under.writes)-1, n)
	}
	before := len(under.writes)
	if err := tr.WriteText([]byte("x")); err != nil || len(under.writes) != before+1 || tr.wbuf != nil {
		t.Fatalf("a frame outside a batch: err %v, %d writes, buffer held %v", err, len(under.writes)-before, tr.wbuf != nil)
	}
	broken := &wsTransport{nc: failConn{}}
	if err := broken.WriteBinary(msg); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write: %v, want net.ErrClosed", err)
	}
	broken.Cork()
	if err := broken.WriteBinary(msg); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a write after a failed one: %v, want the first error", err)
	}
	if err := broken.Uncork(); !errors.Is(err, net.ErrClosed) || broken.wbuf != nil {
		t.Fatalf("uncork after a failed write: %v (buffer held %v)", err, broken.wbuf != nil)
	}
}

type failConn struct{ net.Conn }

func (failConn) Write([]byte) (int, error)        { return 0, net.ErrClosed }
func (failConn) SetWriteDeadline(time.Time) error { return nil }
