package testkit

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// Goroutines returns the stacks of the running goroutines for which keep
// returns true, or of all of them when keep is nil. The testing framework's
// goroutines (test functions, the caller's included) are left out, so the
// answer does not depend on how many tests run in parallel.
func Goroutines(keep func(stack string) bool) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "testing.tRunner") || strings.Contains(g, "testing.(*M)") ||
			strings.Contains(g, "testing.runTests") {
			continue
		}
		if keep == nil || keep(g) {
			out = append(out, g)
		}
	}
	return out
}

// CheckGoroutines fails the test if goroutines that keep selects (all of them
// when keep is nil) outlive it: it counts them now and, at cleanup, waits up
// to [Timeout] for their number to come back down to that count, then
// reports the stacks. Call it first in a test, before anything registers its
// own cleanup, so that its check runs last, after every server and session
// the test started is closed. Goroutines that end a little after Close
// returns (a pump blocked in a read that Close interrupts) are waited for,
// not reported.
func CheckGoroutines(t testing.TB, keep func(stack string) bool) {
	t.Helper()
	before := len(Goroutines(keep))
	t.Cleanup(func() {
		t.Helper()
		waitGoroutines(t, keep, before)
	})
}

// WaitNoGoroutines waits up to [Timeout] until no goroutine that keep
// selects is running, and fails the test (without stopping it) if some still
// are, with their stacks.
func WaitNoGoroutines(t testing.TB, keep func(stack string) bool) {
	t.Helper()
	waitGoroutines(t, keep, 0)
}

func waitGoroutines(t testing.TB, keep func(stack string) bool, limit int) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		g := Goroutines(keep)
		if len(g) <= limit {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines left running, %d expected:\n%s", len(g), limit, strings.Join(g, "\n\n"))
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitBlocked waits until a goroutine whose stack mentions fn (for example "(*muxConn).Read") is blocked:
// waiting in a select, on a channel, a lock, a condition or network I/O. A test that must act while a call
// waits (set a deadline, close the session) calls it instead of sleeping and hoping the call got there. It
// fails the test after [Timeout].
func WaitBlocked(t testing.TB, fn string) {
	t.Helper()
	WaitFor(t, fn+" blocked", func() bool {
		return len(Goroutines(func(g string) bool { return strings.Contains(g, fn) && blocked(g) })) > 0
	})
}

// blocked reports whether a goroutine's stack header ("goroutine 7 [chan receive]:") shows it waiting.
func blocked(stack string) bool {
	header, _, _ := strings.Cut(stack, "\n")
	_, state, ok := strings.Cut(header, "[")
	if !ok {
		return false
	}
	state, _, _ = strings.Cut(state, "]")
	state, _, _ = strings.Cut(state, ",") // "select, 2 minutes"
	switch state {
	case "running", "runnable", "syscall", "dead", "idle":
		return false
	}
	return true
}
