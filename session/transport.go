package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Transport is a message-oriented connection to the data-channel service: one websocket in production, an
// in-memory pipe in tests. ReadFrame is called by one goroutine at a time, as are the write methods; Close and
// Ping may be called concurrently with both.
type Transport interface {
	// ReadFrame returns the next frame's bytes. The result may alias buf (grown as needed) and is valid until
	// the next call.
	ReadFrame(buf []byte) ([]byte, error)
	// WriteBinary sends p as one binary frame. WriteText sends p as one text frame.
	WriteBinary(p []byte) error
	WriteText(p []byte) error
	// Ping sends a keepalive.
	Ping() error
	// Close tears the connection down at once.
	Close() error
}

// DialWebsocket dials url verbatim with a zero [Dialer]: the system roots, the proxy from the environment, no
// subprotocol, and header (the upgrade's SigV4 signature, or nil) on the upgrade request. It is the default
// Config.Dial when Config.TLSConfig and Config.Proxy are unset.
func DialWebsocket(ctx context.Context, url string, header http.Header) (Transport, error) {
	var d Dialer
	return d.Dial(ctx, url, header)
}

// wsReadBuffer is the frame reader's buffer (wsread.go), which stays with the connection: 16 KiB gathers a
// dozen 1 KiB messages per read system call, and larger frames are read past it straight into the message
// buffer. Frames are written by wsTransport itself (wsframe.go), from a pooled buffer an idle session does
// not hold.
const wsReadBuffer = 16 << 10

// noWriteBuffers is gorilla's write buffer pool: given a pool, gorilla allocates no write buffer until it
// writes a data message, which it never does here (wsTransport writes them), so no session holds one.
var noWriteBuffers sync.Pool

// UpgradeError is a websocket upgrade the service answered with an HTTP status instead of switching
// protocols: 403 when it refused the upgrade's authentication (docs/protocol.md §3.5).
type UpgradeError struct {
	StatusCode int
	Status     string // e.g. "403 Forbidden"
	Err        error
}

func (e *UpgradeError) Error() string {
	return fmt.Sprintf("session: dial data channel: %v (HTTP %s)", e.Err, e.Status)
}

func (e *UpgradeError) Unwrap() error { return e.Err }

// refused reports whether the service refused the upgrade's authentication.
func (e *UpgradeError) refused() bool {
	return e.StatusCode == http.StatusForbidden || e.StatusCode == http.StatusUnauthorized
}

// wsTransport is a websocket that gorilla upgraded and that wsTransport reads and writes itself.
type wsTransport struct {
	nc   net.Conn     // the upgraded connection: wsTransport writes its frames to it (see wsframe.go)
	r    *frameReader // reads nc's frames (see wsread.go); owned by the reader goroutine
	cork *corkConn    // the connection below TLS, when this package dialed it; nil for plain websockets
	once sync.Once

	wmu      sync.Mutex // guards the fields below and every Write to nc of ours
	wbuf     *[]byte    // frames not yet written: from wsFramePool while a write or batch lasts, else nil
	batching bool       // between Cork and Uncork
	werr     error      // sticky: a failed write may have left part of a frame on the wire

	// A pong is written by the session's writer goroutine, not by the reader that read the ping: the writer
	// finishes the data message it is writing first, so a pong that follows pause_publication is never
	// followed by data chosen before the pause (the service may check exactly that).
	pongMu  sync.Mutex
	pong    []byte
	hasPong bool
	wakeup  func()
	pingAt  time.Time               // when our last ping went out, zero once its pong came
	onRTT   func(rtt time.Duration) // told the round trip of each ping of ours
}

// controlTimeout bounds a control frame's write outside a batch, as gorilla's WriteControl deadline did.
const controlTimeout = 10 * time.Second

var keepalive = []byte("keepalive")

// onPing keeps the ping's data for the pong the writer sends.
func (t *wsTransport) onPing(data []byte) error {
	t.pongMu.Lock()
	t.pong, t.hasPong = append(t.pong[:0], data...), true
	wake := t.wakeup
	t.pongMu.Unlock()
	if wake != nil {
		wake()
	} else {
		return t.WritePong()
	}
	return nil
}

// SetWakeup registers the function that wakes the writer when a pong is due.
func (t *wsTransport) SetWakeup(f func()) {
	t.pongMu.Lock()
	t.wakeup = f
	t.pongMu.Unlock()
}

// WritePong answers the latest ping, if one is waiting. Only the writer goroutine calls it.
func (t *wsTransport) WritePong() error {
	t.pongMu.Lock()
	if !t.hasPong {
		t.pongMu.Unlock()
		return nil
	}
	var b [maxControlPayload]byte
	data := b[:copy(b[:], t.pong)]
	t.hasPong = false
	t.pongMu.Unlock()
	err := t.writeFrame(opPong, data, true)
	if errors.Is(err, websocket.ErrCloseSent) {
		return nil
	}
	return err
}

// ponger is implemented by transports whose pongs the writer sends.
type ponger interface {
	SetWakeup(func())
	WritePong() error
}

// Cork and Uncork bracket a batch of writes: the frames written meanwhile are gathered into one buffer and
// written together when it is full or the batch ends; under TLS the corkConn below also gathers the TLS
// records into one system call.
func (t *wsTransport) Cork() {
	t.wmu.Lock()
	t.batching = true
	t.wmu.Unlock()
	if t.cork != nil {
		t.cork.cork()
	}
}

func (t *wsTransport) Uncork() error {
	t.wmu.Lock()
	t.batching = false
	err := t.flushLocked()
	t.wmu.Unlock()
	if t.cork != nil {
		if uerr := t.cork.uncork(); err == nil {
			err = uerr
		}
	}
	return err
}

// corker is implemented by transports that can batch writes.
type corker interface {
	Cork()
	Uncork() error
}

func (t *wsTransport) WriteBinary(p []byte) error { return t.writeFrame(opBinary, p, false) }
func (t *wsTransport) WriteText(p []byte) error   { return t.writeFrame(opText, p, false) }

func (t *wsTransport) Ping() error {
	t.pongMu.Lock()
	t.pingAt = time.Now()
	t.pongMu.Unlock()
	return t.writeFrame(opPing, keepalive, true)
}

// onPong reports the round trip of our last ping, the first sample of a session's path (pace.go).
func (t *wsTransport) onPong() {
	t.pongMu.Lock()
	at, f := t.pingAt, t.onRTT
	t.pingAt = time.Time{}
	t.pongMu.Unlock()
	if !at.IsZero() && f != nil {
		f(time.Since(at))
	}
}

// SetRTTHandler registers the function told the round trip of each of our pings.
func (t *wsTransport) SetRTTHandler(f func(time.Duration)) {
	t.pongMu.Lock()
	t.onRTT = f
	t.pongMu.Unlock()
}

// rttReporter is implemented by transports that measure round trips with their pings.
type rttReporter interface {
	SetRTTHandler(func(time.Duration))
}

// writeFrame writes one frame, or adds it to the batch.
func (t *wsTransport) writeFrame(op byte, p []byte, control bool) error {
	t.wmu.Lock()
	err := t.writeLocked(op, p, control)
	t.wmu.Unlock()
	return err
}

func (t *wsTransport) writeLocked(op byte, p []byte, control bool) error {
	if t.werr != nil {
		return t.werr
	}
	if t.wbuf == nil {
		t.wbuf = wsFramePool.Get().(*[]byte)
	}
	if b := *t.wbuf; len(b) > 0 && len(b)+frameSize(len(p)) > cap(b) {
		if err := t.writeOut(false); err != nil {
			return err
		}
	}
	*t.wbuf = appendFrame(*t.wbuf, op, p, newMaskKey())
	if t.batching && len(*t.wbuf) < frameBatch && op != opClose {
		return nil
	}
	err := t.writeOut(op == opClose || control && !t.batching)
	if !t.batching {
		t.release()
	}
	if err == nil && op == opClose {
		t.werr = websocket.ErrCloseSent
	}
	return err
}

// flushLocked writes the frames gathered and, outside a batch, returns the buffer to the pool.
func (t *wsTransport) flushLocked() error {
	if t.wbuf == nil {
		return t.werr
	}
	err := t.writeOut(false)
	if !t.batching {
		t.release()
	}
	return err
}

// writeOut writes the frames gathered in one call, within controlTimeout if timed.
func (t *wsTransport) writeOut(timed bool) error {
	b := *t.wbuf
	if len(b) == 0 {
		return nil
	}
	*t.wbuf = b[:0]
	if t.werr != nil {
		return t.werr
	}
	if timed {
		t.nc.SetWriteDeadline(time.Now().Add(controlTimeout))
	}
	_, err := t.nc.Write(b)
	if timed {
		t.nc.SetWriteDeadline(time.Time{})
	}
	if err != nil {
		t.werr = err
	}
	return err
}

// release returns the frame buffer to the pool, unless a large message grew it.
func (t *wsTransport) release() {
	if cap(*t.wbuf) <= maxPooledSize {
		wsFramePool.Put(t.wbuf)
	}
	t.wbuf = nil
}

func (t *wsTransport) Close() error {
	var err error
	t.once.Do(func() { err = t.nc.Close() })
	return err
}
