package testkit

import (
	"crypto/sha256"
	"net"
	"testing"
	"time"
)

// SlowSink is a TCP server on 127.0.0.1 that reads what each connection sends at a fixed rate, like a
// destination that cannot keep up with the network, and reports what it read once the peer closes.
type SlowSink struct {
	Port    int
	results chan SinkResult
}

// SinkResult is what one connection to a [SlowSink] delivered.
type SinkResult struct {
	Bytes  int64
	SHA256 [sha256.Size]byte
}

// NewSlowSink starts a sink reading bytesPerSec per connection. Its receive buffer is kept small, so the
// rate holds from the first bytes rather than after the kernel has buffered megabytes. It stops at cleanup.
func NewSlowSink(t testing.TB, bytesPerSec int) *SlowSink {
	t.Helper()
	s := &SlowSink{results: make(chan SinkResult, 16)}
	s.Port = Serve(t, func(c net.Conn) {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(64 << 10)
		}
		h := sha256.New()
		buf := make([]byte, 16<<10)
		var n int64
		start := time.Now()
		for {
			k, err := c.Read(buf)
			h.Write(buf[:k])
			n += int64(k)
			if err != nil {
				break
			}
			// Pace: the n bytes read so far may not arrive sooner than n/rate after the start.
			if d := time.Duration(n*int64(time.Second)/int64(bytesPerSec)) - time.Since(start); d > 0 {
				time.Sleep(d)
			}
		}
		var r SinkResult
		r.Bytes = n
		h.Sum(r.SHA256[:0])
		select {
		case s.results <- r:
		default:
		}
	})
	return s
}

// Next waits for the next connection to end and returns what it delivered; it fails the test after
// timeout.
func (s *SlowSink) Next(t testing.TB, timeout time.Duration) SinkResult {
	t.Helper()
	select {
	case r := <-s.results:
		return r
	case <-time.After(timeout):
		t.Fatalf("no connection to the slow sink ended within %v", timeout)
		return SinkResult{}
	}
}
