package testkit

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// Buffer collects what a program or a goroutine writes while the test reads it and waits on its contents.
// Any number of goroutines may write, read and wait at once. The zero value is ready to use.
type Buffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed by the next Write; nil until someone asks
}

// Write appends p and wakes every waiter.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Len returns the number of bytes written so far.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Len()
}

// Changed returns a channel that the next Write closes.
func (b *Buffer) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed == nil {
		b.changed = make(chan struct{})
	}
	return b.changed
}

// WaitFor waits until the contents contain substr and returns them. It fails the test, showing what was
// written, if that does not happen within [Timeout].
func (b *Buffer) WaitFor(t testing.TB, substr string) string {
	t.Helper()
	return b.WaitFunc(t, "output containing "+strings.TrimSpace(substr), func(s string) bool { return strings.Contains(s, substr) })
}

// WaitFunc waits until ok holds for the contents and returns them; what names the condition in the failure.
func (b *Buffer) WaitFunc(t testing.TB, what string, ok func(contents string) bool) string {
	t.Helper()
	timeout := time.NewTimer(Timeout)
	defer timeout.Stop()
	for {
		changed := b.Changed() // before reading, so a Write in between is not missed
		if s := b.String(); ok(s) {
			return s
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("timed out waiting for %s; output so far:\n%q", what, b.String())
		}
	}
}
