package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
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

// A session holds no websocket write buffer while idle: gorilla takes one from wsWritePool for each message
// and gives it back once the message is written, so a thousand idle sessions share a few. The read buffer
// stays with the connection (gorilla has no pool for it); 16 KiB still gathers a dozen 1 KiB messages per
// read system call, and larger frames are read past it straight into the frame buffer.
var wsWritePool sync.Pool

const wsReadBuffer = 16 << 10

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

type wsTransport struct {
	c    *websocket.Conn
	cork *corkConn // the connection below, when this package dialed it
	once sync.Once

	// A pong is written by the session's writer goroutine, not by the reader that read the ping: the writer
	// finishes the data message it is writing first, so a pong that follows pause_publication is never
	// followed by data chosen before the pause (the service may check exactly that).
	pongMu  sync.Mutex
	pong    []byte
	hasPong bool
	wakeup  func()
}

func (t *wsTransport) onPing(data string) error {
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
	data := append([]byte(nil), t.pong...)
	t.hasPong = false
	t.pongMu.Unlock()
	err := t.c.WriteControl(websocket.PongMessage, data, time.Now().Add(10*time.Second))
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

// Cork and Uncork bracket a batch of writes (see corkConn).
func (t *wsTransport) Cork() {
	if t.cork != nil {
		t.cork.cork()
	}
}

func (t *wsTransport) Uncork() error {
	if t.cork != nil {
		return t.cork.uncork()
	}
	return nil
}

// corker is implemented by transports that can batch writes.
type corker interface {
	Cork()
	Uncork() error
}

func (t *wsTransport) ReadFrame(buf []byte) ([]byte, error) {
	for {
		typ, r, err := t.c.NextReader()
		if err != nil {
			return nil, err
		}
		if typ != websocket.BinaryMessage && typ != websocket.TextMessage {
			continue
		}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = slices.Grow(buf, max(cap(buf), 2<<10))
			}
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if errors.Is(err, io.EOF) {
				return buf, nil
			}
			if err != nil {
				return nil, err
			}
		}
	}
}

func (t *wsTransport) WriteBinary(p []byte) error {
	return t.c.WriteMessage(websocket.BinaryMessage, p)
}
func (t *wsTransport) WriteText(p []byte) error { return t.c.WriteMessage(websocket.TextMessage, p) }

func (t *wsTransport) Ping() error {
	return t.c.WriteControl(websocket.PingMessage, []byte("keepalive"), time.Now().Add(10*time.Second))
}

func (t *wsTransport) Close() error {
	var err error
	t.once.Do(func() { err = t.c.Close() })
	return err
}
