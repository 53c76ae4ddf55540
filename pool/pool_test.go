package pool_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/pool"
)

// A pool spreads concurrent connections over its sessions, each session survives losing its websocket on
// its own, and Close ends every session on the service.
func TestPoolOverEmulator(t *testing.T) {
	checkGoroutines(t)
	srv := newServer(t, nil)
	port := testkit.EchoServer(t)
	c := newClient(t, srv, nil)
	var mu sync.Mutex
	var started []string
	p, err := pool.New(c, target, ssmwire.Remote{Port: port}, &pool.Config{MaxSessions: 3,
		OnSessionStart: func(id string) {
			mu.Lock()
			defer mu.Unlock()
			started = append(started, id)
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testkit.Context(t)
	var conns []net.Conn
	for range 4 {
		conn, err := p.Dial(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	ids := srv.SessionIDs()
	if len(ids) != 3 {
		t.Fatalf("%d sessions on the service for 4 connections in a pool of 3", len(ids))
	}
	mu.Lock()
	if !slices.Equal(slices.Sorted(slices.Values(started)), slices.Sorted(slices.Values(ids))) {
		t.Errorf("OnSessionStart reported %v, the service has %v", started, ids)
	}
	mu.Unlock()
	for round := range 3 {
		for i, conn := range conns {
			echo(t, conn, fmt.Sprintf("round %d connection %d", round, i))
		}
		srv.CloseClientConnections() // every session reconnects on its own
	}
	for _, id := range ids {
		if n := srv.Session(id).Stats.Attaches; n < 2 {
			t.Errorf("session %s attached %d times, want a reconnection", id, n)
		}
	}
	for _, conn := range conns {
		conn.Close()
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		waitEnded(t, srv, id)
	}
	if _, err := p.Dial(ctx); !errors.Is(err, pool.ErrClosed) {
		t.Fatalf("Dial after Close: %v", err)
	}
	waitGoroutines(t, false)
}

func TestPoolServe(t *testing.T) {
	checkGoroutines(t)
	srv := newServer(t, nil)
	port := testkit.EchoServer(t)
	c := newClient(t, srv, nil)
	p, err := pool.New(c, target, ssmwire.Remote{Port: port}, &pool.Config{MaxSessions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testkit.Context(t))
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx, l) }()
	var locals []net.Conn
	for i := range 3 {
		conn, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		echo(t, conn, fmt.Sprintf("local connection %d", i))
		locals = append(locals, conn)
	}
	if n := len(p.Sessions()); n != 2 {
		t.Errorf("%d sessions for 3 local connections in a pool of 2", n)
	}
	cancel()
	if err := <-served; !errors.Is(err, context.Canceled) {
		t.Errorf("Serve = %v, want context.Canceled", err)
	}
	for _, conn := range locals {
		conn.Close()
	}
	p.Close()
	waitGoroutines(t, false)
}

func TestPoolInvalidRemote(t *testing.T) {
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	if _, err := pool.New(c, target, ssmwire.Remote{Port: 0}, nil); err == nil {
		t.Fatal("New accepted port 0")
	}
}

// A throttled StartSession is retried with backoff; the connection gets its session.
func TestPoolRetriesThrottledStartSession(t *testing.T) {
	checkGoroutines(t)
	srv := newServer(t, nil)
	port := testkit.EchoServer(t)
	c := newClient(t, srv, nil)
	p, err := pool.New(c, target, ssmwire.Remote{Port: port}, &pool.Config{MaxSessions: 2, StartBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv.Faults().ThrottleStarts.Store(3)
	conn, err := p.Dial(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	echo(t, conn, "after three throttled starts")
	if n := srv.Stats().APIErrors; n != 3 {
		t.Errorf("%d API errors, want the 3 throttled StartSession calls", n)
	}
	// A pool that cannot grow because the service keeps throttling shares its open session.
	srv.Faults().ThrottleStarts.Store(1000)
	conn2, err := p.Dial(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	echo(t, conn2, "on the shared session")
	if s := p.Sessions(); len(s) != 1 || s[0].Conns != 2 {
		t.Errorf("sessions %+v, want one carrying both connections", s)
	}
	srv.Faults().ThrottleStarts.Store(0)
	conn.Close()
	conn2.Close()
	p.Close()
	waitGoroutines(t, false)
}
