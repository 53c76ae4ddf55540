package session

import (
	"bytes"
	"net"
	"testing"
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
