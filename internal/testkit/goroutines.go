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
