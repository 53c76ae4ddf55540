package relay

import (
	"io"
	"net"
	"sync"
)

// Stdio is a program's standard input and output as one side of a relay (ssh's ProxyCommand). Close makes
// a Read in progress return net.ErrClosed at once and later Writes fail; it closes neither stream. A read
// from a pipe or terminal cannot be interrupted: it goes on in the background, and what it returns after
// Close is dropped. Read is not safe for concurrent use (the relay has one reader).
type Stdio struct {
	in  io.Reader
	out io.Writer

	// Owned by the reader.
	pending chan stdioRead // the read in progress, if any
	buf     []byte         // the background read's buffer, reused once its bytes are consumed
	rest    []byte         // read but not yet returned
	err     error          // returned once rest is consumed

	closeOnce sync.Once
	closed    chan struct{}
}

type stdioRead struct {
	n   int
	err error
}

// NewStdio returns in and out as one side of a relay.
func NewStdio(in io.Reader, out io.Writer) *Stdio {
	return &Stdio{in: in, out: out, closed: make(chan struct{})}
}

func (s *Stdio) Read(p []byte) (int, error) {
	if len(s.rest) == 0 && s.err != nil {
		return 0, s.err
	}
	if len(s.rest) == 0 {
		if s.pending == nil {
			if len(s.buf) < len(p) {
				s.buf = make([]byte, len(p))
			}
			ch := make(chan stdioRead, 1)
			s.pending = ch
			buf := s.buf[:len(p)]
			go func() {
				n, err := s.in.Read(buf)
				ch <- stdioRead{n, err}
			}()
		}
		select {
		case r := <-s.pending:
			s.pending = nil
			s.rest, s.err = s.buf[:r.n], r.err
		case <-s.closed:
			return 0, net.ErrClosed
		}
	}
	select {
	case <-s.closed:
		return 0, net.ErrClosed
	default:
	}
	n := copy(p, s.rest)
	s.rest = s.rest[n:]
	if len(s.rest) == 0 && s.err != nil {
		return n, s.err
	}
	return n, nil
}

func (s *Stdio) Write(p []byte) (int, error) {
	select {
	case <-s.closed:
		return 0, net.ErrClosed
	default:
	}
	return s.out.Write(p)
}

// Close ends the relay's use of the streams; see [Stdio].
func (s *Stdio) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	return nil
}
