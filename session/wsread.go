package session

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/ssmwire/ssmwire/protocol"
)

// The session reads its websocket frames itself too: gorilla's NextReader allocates a reader per message,
// one per acknowledgement the agent sends for each 1 KiB message uploaded. Gorilla's Dialer still does the
// upgrade, and it reads the 101 response through a buffered reader of its own, which could hold the first
// frames the service sent right after it. handshakeGate, the connection gorilla dials through, therefore
// never lets it read past the response's header: what the gate read beyond the header's blank line it holds
// back for the frame reader, which reads everything after the upgrade. Gorilla's Conn is dropped once Dial
// returns (wsTransport keeps the connection below it), so its buffer is small and short-lived.

// ErrWebsocketProtocol is the error of a websocket frame that breaks RFC 6455: reserved bits, a masked frame
// from the server, an unknown opcode, a fragmented or oversized control frame, a continuation out of place.
var ErrWebsocketProtocol = errors.New("session: websocket protocol error")

// gorillaReadBuffer is the buffer gorilla reads the upgrade's response with; header lines longer than it are
// still read whole.
const gorillaReadBuffer = 512

// maxUpgradeHeader bounds the upgrade response's header.
const maxUpgradeHeader = 64 << 10

// handshakeGate is the connection below gorilla's websocket. While gating, Read returns the upgrade response's
// header and nothing after it (see above); after a response other than 101 it passes everything through, so
// that gorilla can read an error's body. It is used by one goroutine at a time: the dialer's, then the
// transport's reader.
type handshakeGate struct {
	net.Conn
	gating  bool   // until the transport takes over
	pending []byte // read from Conn, not yet returned
	avail   int    // bytes at the start of pending that Read may return while gating
	open    bool   // the header has ended with a status other than 101: pass everything
	ended   bool   // the header has ended with 101
}

func newHandshakeGate(c net.Conn) *handshakeGate { return &handshakeGate{Conn: c, gating: true} }

func (g *handshakeGate) Read(p []byte) (int, error) {
	if g.gating && !g.open {
		if g.avail == 0 {
			if g.ended {
				return 0, errors.New("session: websocket upgrade: read past the response header")
			}
			if err := g.fillHeader(); err != nil {
				return 0, err
			}
		}
		n := copy(p, g.pending[:g.avail])
		g.pending = g.pending[n:]
		g.avail -= n
		return n, nil
	}
	if len(g.pending) > 0 {
		n := copy(p, g.pending)
		g.pending = g.pending[n:]
		if len(g.pending) == 0 {
			g.pending = nil
		}
		return n, nil
	}
	return g.Conn.Read(p)
}

// fillHeader reads until the response's header has ended, and sets how much of it Read may return.
func (g *handshakeGate) fillHeader() error {
	for {
		if i := bytes.Index(g.pending, []byte("\r\n\r\n")); i >= 0 {
			g.avail = i + 4
			status, _, _ := bytes.Cut(g.pending, []byte("\r\n"))
			if f := bytes.Fields(status); len(f) >= 2 && string(f[1]) == "101" {
				g.ended = true
			} else {
				g.open = true
				g.avail = len(g.pending)
			}
			return nil
		}
		if len(g.pending) >= maxUpgradeHeader {
			return fmt.Errorf("session: websocket upgrade: response header over %d bytes", maxUpgradeHeader)
		}
		g.pending = slices.Grow(g.pending, 4<<10)
		n, err := g.Conn.Read(g.pending[len(g.pending):cap(g.pending)])
		g.pending = g.pending[:len(g.pending)+n]
		if err != nil && n == 0 {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
}

// takeOver ends the gate's part: from now on Read returns the bytes held back, then the connection's.
func (g *handshakeGate) takeOver() {
	g.gating = false
	if len(g.pending) == 0 {
		g.pending = nil // an idle session keeps no handshake buffer
	}
}

// frameReader reads the service's frames (RFC 6455 §5.2) from the connection. It is owned by the transport's
// reader goroutine.
type frameReader struct {
	br  *bufio.Reader
	ctl [maxControlPayload]byte
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{br: bufio.NewReaderSize(r, wsReadBuffer)}
}

// frameHeader is one frame's header.
type frameHeader struct {
	fin bool
	op  byte
	n   int64 // payload length
}

func (r *frameReader) header() (frameHeader, error) {
	b, err := r.br.Peek(2)
	if err != nil {
		if len(b) > 0 && errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return frameHeader{}, err
	}
	h := frameHeader{fin: b[0]&finBit != 0, op: b[0] & 0xf, n: int64(b[1] & 0x7f)}
	rsv, masked := b[0]&0x70, b[1]&maskBit != 0
	ext := 0
	switch h.n {
	case 126:
		ext = 2
	case 127:
		ext = 8
	}
	if b, err = r.br.Peek(2 + ext); err != nil {
		return frameHeader{}, unexpectedEOF(err)
	}
	switch ext {
	case 2:
		h.n = int64(binary.BigEndian.Uint16(b[2:]))
	case 8:
		u := binary.BigEndian.Uint64(b[2:])
		if u > 1<<62 {
			return frameHeader{}, fmt.Errorf("%w: frame length %d", ErrWebsocketProtocol, u)
		}
		h.n = int64(u)
	}
	r.br.Discard(2 + ext)
	switch {
	case rsv != 0:
		return h, fmt.Errorf("%w: reserved bits %#x set", ErrWebsocketProtocol, rsv)
	case masked:
		return h, fmt.Errorf("%w: masked frame from the server", ErrWebsocketProtocol)
	}
	switch h.op {
	case opClose, opPing, opPong:
		if !h.fin || h.n > maxControlPayload {
			return h, fmt.Errorf("%w: fragmented or oversized control frame", ErrWebsocketProtocol)
		}
	case 0, opText, opBinary:
	default:
		return h, fmt.Errorf("%w: opcode %#x", ErrWebsocketProtocol, h.op)
	}
	return h, nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ReadFrame returns the next data message, whole, after handling the control frames before and within it:
// a ping is answered by the writer, a pong times our ping, a close answered with the same code and returned
// as a *websocket.CloseError. A message larger than protocol.MaxMessageSize is refused with close 1009, a
// frame that breaks the protocol with close 1002.
func (t *wsTransport) ReadFrame(buf []byte) ([]byte, error) {
	r := t.r
	buf = buf[:0]
	inMessage := false
	for {
		h, err := r.header()
		if err != nil {
			if errors.Is(err, ErrWebsocketProtocol) {
				t.sendClose(websocket.CloseProtocolError)
			}
			return nil, err
		}
		switch h.op {
		case opClose, opPing, opPong:
			p := r.ctl[:h.n]
			if _, err := io.ReadFull(r.br, p); err != nil {
				return nil, unexpectedEOF(err)
			}
			switch h.op {
			case opPing:
				t.onPing(p)
			case opPong:
				t.onPong()
			case opClose:
				return nil, t.onClose(p)
			}
			continue
		case opText, opBinary:
			if inMessage {
				t.sendClose(websocket.CloseProtocolError)
				return nil, fmt.Errorf("%w: new message inside a fragmented one", ErrWebsocketProtocol)
			}
			inMessage = true
		case 0:
			if !inMessage {
				t.sendClose(websocket.CloseProtocolError)
				return nil, fmt.Errorf("%w: continuation frame outside a message", ErrWebsocketProtocol)
			}
		}
		if int64(len(buf))+h.n > protocol.MaxMessageSize {
			t.sendClose(websocket.CloseMessageTooBig)
			return nil, fmt.Errorf("session: websocket message over %d bytes: %w", protocol.MaxMessageSize, websocket.ErrReadLimit)
		}
		// The buffer grows with the bytes that arrive, not by the length a header declares.
		for rem := int(h.n); rem > 0; {
			if len(buf) == cap(buf) {
				buf = slices.Grow(buf, min(rem, max(cap(buf), 16<<10)))
			}
			n, err := r.br.Read(buf[len(buf):min(cap(buf), len(buf)+rem)])
			buf = buf[:len(buf)+n]
			rem -= n
			if err != nil && rem > 0 {
				return nil, unexpectedEOF(err)
			}
		}
		if h.fin {
			return buf, nil
		}
	}
}

// onClose handles the service's close frame with payload p (§5.5.1): it answers with the same code, as
// gorilla does, and returns the *websocket.CloseError that ends the reader.
func (t *wsTransport) onClose(p []byte) error {
	code, text := websocket.CloseNoStatusReceived, ""
	switch {
	case len(p) == 1:
		t.sendClose(websocket.CloseProtocolError)
		return fmt.Errorf("%w: close frame of one byte", ErrWebsocketProtocol)
	case len(p) >= 2:
		code, text = int(binary.BigEndian.Uint16(p)), string(p[2:])
		if !validCloseCode(code) || !utf8.ValidString(text) {
			t.sendClose(websocket.CloseProtocolError)
			return fmt.Errorf("%w: close frame with code %d", ErrWebsocketProtocol, code)
		}
	}
	t.sendClose(code)
	return &websocket.CloseError{Code: code, Text: text}
}

// validCloseCode reports whether a peer may send code (RFC 6455 §7.4 and the IANA registry).
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	default:
		return code >= 3000 && code <= 4999
	}
}

// sendClose writes a close frame with code (none for CloseNoStatusReceived), unless one was sent. It is a
// courtesy before the connection is torn down: if the writer is in the middle of a write, which may block on
// a peer that stopped reading, the reader does not wait for it and sends none.
func (t *wsTransport) sendClose(code int) {
	if !t.wmu.TryLock() {
		return
	}
	defer t.wmu.Unlock()
	var b [2]byte
	p := b[:0]
	if code != websocket.CloseNoStatusReceived {
		p = binary.BigEndian.AppendUint16(p, uint16(code))
	}
	t.writeLocked(opClose, p, true)
}
