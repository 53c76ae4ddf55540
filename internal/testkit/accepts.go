package testkit

import (
	"net"
	"slices"
	"sync"
	"testing"
)

// AcceptCounter is a listener on 127.0.0.1 that accepts and closes every connection, remembering the
// order, for tests that something was NOT dialled (a refused stream URL must reach no host).
type AcceptCounter struct {
	l     net.Listener
	mu    sync.Mutex
	peers []string // remote addresses, in accept order
}

// CountAccepts starts an AcceptCounter; it stops at cleanup.
func CountAccepts(t testing.TB) *AcceptCounter {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &AcceptCounter{l: l}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			a.mu.Lock()
			a.peers = append(a.peers, c.RemoteAddr().String())
			a.mu.Unlock()
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return a
}

// Addr returns the listener's "127.0.0.1:port".
func (a *AcceptCounter) Addr() string { return a.l.Addr().String() }

// AcceptedBefore dials the listener itself and returns how many connections it accepted before that one.
// Connections are accepted in the order they were made, so anything dialled earlier is counted, without
// waiting for a time that proves nothing.
func (a *AcceptCounter) AcceptedBefore(t testing.TB) int {
	t.Helper()
	c, err := net.Dial("tcp", a.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	me := c.LocalAddr().String()
	n := -1
	WaitFor(t, "the listener to accept its own probe", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		n = slices.Index(a.peers, me)
		return n >= 0
	})
	return n
}
