package shell

import (
	"io"
	"sync"
)

// EscapeChar starts an escape sequence on a terminal, as in OpenSSH: it is recognised only at the start of
// a line (after a newline or carriage return, and at the start of the session).
const EscapeChar = '~'

// EscapeHelp is what "~?" prints on the local terminal. Lines end in CRLF: the terminal is in raw mode.
const EscapeHelp = "Supported escape sequences:\r\n" +
	" ~.   - terminate the session\r\n" +
	" ~?   - this message\r\n" +
	" ~~   - send the escape character by typing it twice\r\n" +
	"(Note that escapes are only recognized immediately after newline.)\r\n"

// escapeAction is what an escape sequence asks for.
type escapeAction int

const (
	escapeNone escapeAction = iota
	escapeEnd               // "~.": end the session
	escapeHelp              // "~?": list the escapes
)

// escaper finds escape sequences in terminal input. Its state carries over from one read to the next, so a
// sequence split across reads ("~" at the end of one, "." at the start of the next) is still found.
type escaper struct {
	midLine bool // the last byte passed was not a line end: a "~" now is data
	tilde   bool // a "~" at the start of a line is held back, waiting for the next byte
}

// feed appends to dst the bytes of p that go to the remote side, up to the first escape action, and returns
// them with the action and the input after it. A "~" held at the end of p is not in dst: it waits for the
// next byte (or for flush).
func (e *escaper) feed(dst, p []byte) (out []byte, act escapeAction, rest []byte) {
	for i, b := range p {
		if e.tilde {
			e.tilde = false
			switch b {
			case '.':
				return dst, escapeEnd, p[i+1:]
			case '?':
				return dst, escapeHelp, p[i+1:] // still at the start of a line
			case EscapeChar:
				dst = append(dst, EscapeChar)
				e.midLine = true
				continue
			default:
				dst = append(dst, EscapeChar) // not an escape: both bytes go through
			}
		} else if b == EscapeChar && !e.midLine {
			e.tilde = true
			continue
		}
		dst = append(dst, b)
		e.midLine = b != '\r' && b != '\n'
	}
	return dst, escapeNone, nil
}

// flush returns a held "~" (input ended right after it), or nothing.
func (e *escaper) flush(dst []byte) []byte {
	if e.tilde {
		e.tilde = false
		e.midLine = true
		return append(dst, EscapeChar)
	}
	return dst
}

// escapeReader passes a terminal's input through, acting on escape sequences: "~." calls end and then reads
// as end of input; "~?" writes EscapeHelp to help.
type escapeReader struct {
	r    io.Reader
	help io.Writer
	end  func()

	mu      sync.Mutex
	esc     escaper
	pending []byte // filtered bytes not yet returned
	rest    []byte // raw input after an escape, not yet filtered
	buf     []byte
	ended   bool
	err     error // from r, returned once pending is empty
}

// EscapeEndEcho is what "~." writes to standard error before the session ends, as ssh writes it.
const EscapeEndEcho = "~.\r\n"

func newEscapeReader(r io.Reader, help io.Writer, end func()) *escapeReader {
	return &escapeReader{r: r, help: help, end: end, buf: make([]byte, readBufSize)}
}

func (er *escapeReader) Read(p []byte) (int, error) {
	er.mu.Lock()
	defer er.mu.Unlock()
	for len(er.pending) == 0 {
		if er.ended {
			return 0, io.EOF
		}
		if er.err != nil {
			er.pending = er.esc.flush(er.pending)
			if len(er.pending) == 0 {
				return 0, er.err
			}
			break
		}
		in := er.rest
		er.rest = nil
		if len(in) == 0 {
			n, err := er.r.Read(er.buf)
			in, er.err = er.buf[:n], err
		}
		var act escapeAction
		er.pending, act, in = er.esc.feed(er.pending[:0], in)
		er.rest = append(er.rest[:0], in...)
		switch act {
		case escapeEnd:
			// As ssh does, echo the escape and end the line: the remote prompt the cursor sits after
			// stays on its line, and the local shell's prompt comes on a fresh one.
			io.WriteString(er.help, EscapeEndEcho)
			er.ended = true
			er.end()
		case escapeHelp:
			io.WriteString(er.help, EscapeHelp)
		}
	}
	n := copy(p, er.pending)
	er.pending = er.pending[n:]
	return n, nil
}
