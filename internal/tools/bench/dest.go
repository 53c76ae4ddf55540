package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// The bytes that travel are a fixed pattern (byte i%251 at offset i), so either end can check that every
// byte arrived in order without keeping a copy.
const patternPeriod = 251

var pattern = func() []byte {
	b := make([]byte, patternPeriod*1045) // a little over 256 KiB, a whole number of periods
	for i := range b {
		b[i] = byte(i % patternPeriod)
	}
	return b
}()

const ioChunk = 256 << 10

// patternAt returns up to n pattern bytes starting at stream offset off.
func patternAt(off int64, n int) []byte {
	start := int(off % patternPeriod)
	if n > len(pattern)-start {
		n = len(pattern) - start
	}
	return pattern[start : start+n]
}

// checkPattern reports whether b is the pattern at stream offset off.
func checkPattern(off int64, b []byte) bool {
	for len(b) > 0 {
		want := patternAt(off, len(b))
		if !bytes.Equal(b[:len(want)], want) {
			return false
		}
		b = b[len(want):]
		off += int64(len(want))
	}
	return true
}

// writePattern writes n pattern bytes to w.
func writePattern(w io.Writer, n int64) error {
	var off int64
	for off < n {
		chunk := patternAt(off, int(min(n-off, ioChunk)))
		m, err := w.Write(chunk)
		off += int64(m)
		if err != nil {
			return err
		}
	}
	return nil
}

// readPattern reads exactly n bytes from r and checks them against the pattern.
func readPattern(r io.Reader, n int64, buf []byte) error {
	var off int64
	for off < n {
		m, err := r.Read(buf[:min(int64(len(buf)), n-off)])
		if m > 0 {
			if !checkPattern(off, buf[:m]) {
				return fmt.Errorf("corrupt data at offset %d..%d", off, off+int64(m))
			}
			off += int64(m)
		}
		if err != nil {
			if off < n {
				return fmt.Errorf("after %d of %d bytes: %w", off, n, err)
			}
			return nil
		}
	}
	return nil
}

// destKind is what a destination server does with each connection the agent opens to it.
type destKind int

const (
	destSink   destKind = iota // read and check everything; done when Size bytes arrived
	destSource                 // wait for one trigger byte, then write Size bytes
	destEcho                   // write back whatever arrives
)

// dest is a destination server on 127.0.0.1: the remote end of a forwarded port. Each measurement gets its
// own, so every byte it sees belongs to that measurement.
type dest struct {
	ln   net.Listener
	kind destKind
	size int64

	received atomic.Int64
	done     chan struct{} // sink: closed when size bytes arrived
	doneOnce sync.Once

	mu    sync.Mutex
	err   error
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newDest(kind destKind, size int64) (*dest, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d := &dest{ln: ln, kind: kind, size: size, done: make(chan struct{}), conns: map[net.Conn]bool{}}
	d.wg.Add(1)
	go d.accept()
	return d, nil
}

func (d *dest) port() int { return d.ln.Addr().(*net.TCPAddr).Port }

func (d *dest) accept() {
	defer d.wg.Done()
	for {
		c, err := d.ln.Accept()
		if err != nil {
			return
		}
		d.mu.Lock()
		d.conns[c] = true
		d.mu.Unlock()
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			err := d.serve(c)
			d.mu.Lock()
			delete(d.conns, c)
			if err != nil && d.err == nil && !errors.Is(err, net.ErrClosed) {
				d.err = err
			}
			d.mu.Unlock()
			c.Close()
		}()
	}
}

func (d *dest) serve(c net.Conn) error {
	switch d.kind {
	case destSink:
		buf := make([]byte, ioChunk)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				off := d.received.Add(int64(n)) - int64(n)
				if !checkPattern(off, buf[:n]) {
					return fmt.Errorf("sink: corrupt data at offset %d..%d", off, off+int64(n))
				}
				if off+int64(n) >= d.size {
					d.doneOnce.Do(func() { close(d.done) })
				}
			}
			if err != nil {
				return nil
			}
		}
	case destSource:
		var trigger [1]byte
		if _, err := io.ReadFull(c, trigger[:]); err != nil {
			return nil // the agent dials basic-mode destinations at session start; they may never be used
		}
		if err := writePattern(c, d.size); err != nil {
			return fmt.Errorf("source: %w", err)
		}
		_, _ = io.Copy(io.Discard, c)
		return nil
	default:
		_, _ = io.Copy(c, c)
		return nil
	}
}

// failure returns the first error a connection reported.
func (d *dest) failure() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

func (d *dest) close() {
	d.ln.Close()
	d.mu.Lock()
	for c := range d.conns {
		c.Close()
	}
	d.mu.Unlock()
	d.wg.Wait()
}

// A transfer is what one measurement does through a forwarded connection.
type transfer interface {
	kind() destKind
	run(c net.Conn, d *dest, deadline time.Time) (measured, error)
}

// measured is the client-side result of one transfer.
type measured struct {
	Bytes   int64
	Elapsed time.Duration
	RTTs    []time.Duration // echo only, sorted
}

type upload struct{ size int64 }

func (upload) kind() destKind { return destSink }

// run writes size pattern bytes and waits until the sink has all of them: the clock runs from the first
// write to the last byte at the destination.
func (u upload) run(c net.Conn, d *dest, deadline time.Time) (measured, error) {
	_ = c.SetDeadline(deadline)
	start := time.Now()
	werr := make(chan error, 1)
	go func() { werr <- writePattern(c, u.size) }()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		select {
		case <-d.done:
			return measured{Bytes: u.size, Elapsed: time.Since(start)}, d.failure()
		case err := <-werr:
			if err != nil {
				return measured{}, fmt.Errorf("upload write after %d bytes at the destination: %w", d.received.Load(), err)
			}
			werr = nil
		case <-timer.C:
			return measured{}, fmt.Errorf("upload timed out: %d of %d bytes at the destination (%v)", d.received.Load(), u.size, d.failure())
		}
	}
}

type download struct{ size int64 }

func (download) kind() destKind { return destSource }

// run sends the trigger byte and reads size pattern bytes: the clock runs from the trigger to the last byte.
func (dl download) run(c net.Conn, d *dest, deadline time.Time) (measured, error) {
	_ = c.SetDeadline(deadline)
	buf := make([]byte, ioChunk)
	start := time.Now()
	if _, err := c.Write([]byte{'g'}); err != nil {
		return measured{}, fmt.Errorf("download trigger: %w", err)
	}
	if err := readPattern(c, dl.size, buf); err != nil {
		return measured{}, fmt.Errorf("download: %w (destination: %v)", err, d.failure())
	}
	return measured{Bytes: dl.size, Elapsed: time.Since(start)}, nil
}

type echo struct{ count, size int }

func (echo) kind() destKind { return destEcho }

// echoWarmup round trips are made before the measured ones, so connection setup is not in the figures.
const echoWarmup = 20

// run times count round trips of size bytes each, one at a time.
func (e echo) run(c net.Conn, d *dest, deadline time.Time) (measured, error) {
	_ = c.SetDeadline(deadline)
	out := patternAt(0, e.size)
	if len(out) < e.size {
		out = bytes.Repeat([]byte{'e'}, e.size)
	}
	in := make([]byte, e.size)
	rtts := make([]time.Duration, 0, e.count)
	start := time.Now()
	for i := 0; i < echoWarmup+e.count; i++ {
		t := time.Now()
		if _, err := c.Write(out); err != nil {
			return measured{}, fmt.Errorf("echo %d: %w", i, err)
		}
		if _, err := io.ReadFull(c, in); err != nil {
			return measured{}, fmt.Errorf("echo %d: %w", i, err)
		}
		if i >= echoWarmup {
			rtts = append(rtts, time.Since(t))
		}
		if !bytes.Equal(in, out) {
			return measured{}, fmt.Errorf("echo %d: wrong bytes back", i)
		}
	}
	sort.Slice(rtts, func(i, j int) bool { return rtts[i] < rtts[j] })
	return measured{Bytes: int64(e.count * e.size), Elapsed: time.Since(start), RTTs: rtts}, nil
}

// percentile returns the p-th percentile (0..100) of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}
