// Package testkit holds the helpers that tests across the module share: a
// per-test context, a TCP server on 127.0.0.1, waiting on a condition, and a
// goroutine-leak check. Only _test.go files import it.
//
// Every helper takes a testing.TB and registers its teardown with t.Cleanup,
// so a test never has to remember to stop what it started. Helpers that fail
// the test (t.Fatal) must be called from the test's own goroutine.
//
// testkit imports the standard library only. That keeps it usable from
// ssmtest and its internal agent and codec, which must never import client
// packages (a bug must not be able to hide on both sides), and from the tests
// of package ssmtest itself without an import cycle. Helpers that need the
// emulator live on ssmtest.Server instead (Server.AWSConfig).
package testkit

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Timeout bounds every wait in this package and the context of [Context]. It
// is generous on purpose: the machines that run the tests are small and
// shared, and a wait that ends early only turns slowness into a failure.
const Timeout = time.Minute

// Context returns a context that is canceled when the test ends, or after
// [Timeout] should the test hang, so that a stuck call fails instead of
// blocking the whole test binary.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

// WaitFor polls cond until it holds and fails the test if it does not within
// [Timeout]. Use it only for state that has no channel or notification to
// wait on (counters, goroutine counts); it waits on a condition, never on a
// guessed duration.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Serve listens on 127.0.0.1 on a free port and runs handle in its own
// goroutine for every accepted connection, closing the connection when
// handle returns. At cleanup it stops listening, closes the connections
// still open and waits for every handler to return. It returns the port.
func Serve(t testing.TB, handle func(net.Conn)) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = make(map[net.Conn]struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(c)
				c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().(*net.TCPAddr).Port
}

// EchoServer is [Serve] with a handler that writes back every byte it reads,
// until the peer closes its side. It returns the port.
func EchoServer(t testing.TB) int {
	t.Helper()
	return Serve(t, func(c net.Conn) { io.Copy(c, c) })
}

// ClosedPort returns a 127.0.0.1 port nothing listens on (one that was free a moment ago), for tests of a
// refused connection.
func ClosedPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}
