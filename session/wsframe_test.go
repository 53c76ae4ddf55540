package session

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// goldenKey is the masking key of the golden frames.
var goldenKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// TestAppendFrameGolden pins the bytes of a frame of each length class (RFC 6455 §5.2; the "Hello" frame is
// the RFC's own example in §5.7).
func TestAppendFrameGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		op     byte
		n      int    // payload length; the payload is bytes 0, 1, 2, ... (mod 256) unless text
		text   string // the payload, when set
		header string // hex of the header, masking key included
		body   string // hex of the masked payload, when short enough to write out
	}{
		{name: "hello", op: opText, text: "Hello", header: "818537fa213d", body: "7f9f4d5158"},
		{name: "empty ping", op: opPing, header: "898037fa213d"},
		{name: "binary 3", op: opBinary, n: 3, header: "828337fa213d", body: "37fb23"},
		{name: "pong 125", op: opPong, n: 125, header: "8afd37fa213d"},
		{name: "binary 126", op: opBinary, n: 126, header: "82fe007e37fa213d"},
		{name: "binary 65535", op: opBinary, n: 65535, header: "82feffff37fa213d"},
		{name: "binary 65536", op: opBinary, n: 65536, header: "82ff000000000001000037fa213d"},
		{name: "close 2", op: opClose, text: "\x03\xe8", header: "888237fa213d", body: "3412"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := []byte(tc.text)
			if tc.text == "" {
				p = make([]byte, tc.n)
				for i := range p {
					p[i] = byte(i)
				}
			}
			prefix := []byte("prefix")
			got := appendFrame(prefix, tc.op, p, goldenKey)
			if !bytes.Equal(got[:len(prefix)], prefix) {
				t.Fatal("appendFrame overwrote what the buffer held")
			}
			got = got[len(prefix):]
			if len(got) != frameSize(len(p)) {
				t.Fatalf("frame of %d bytes, frameSize says %d", len(got), frameSize(len(p)))
			}
			h := hex.EncodeToString(got[:len(tc.header)/2])
			if h != tc.header {
				t.Fatalf("header %s, want %s", h, tc.header)
			}
			body := got[len(tc.header)/2:]
			if tc.body != "" && hex.EncodeToString(body) != tc.body {
				t.Fatalf("masked payload %x, want %s", body, tc.body)
			}
			if want := maskSlow(p, goldenKey); !bytes.Equal(body, want) {
				t.Fatalf("masked payload differs from byte-wise masking")
			}
		})
	}
}

// maskSlow masks p byte by byte, as §5.3 states it.
func maskSlow(p []byte, key [4]byte) []byte {
	out := make([]byte, len(p))
	for i := range p {
		out[i] = p[i] ^ key[i%4]
	}
	return out
}

// FuzzMaskCopy: masking a word at a time equals masking byte by byte, for every length and key.
func FuzzMaskCopy(f *testing.F) {
	f.Add([]byte("Hello"), uint32(0x3d21fa37))
	f.Add(bytes.Repeat([]byte{0xff}, 77), uint32(0))
	f.Fuzz(func(t *testing.T, p []byte, k uint32) {
		key := [4]byte{byte(k), byte(k >> 8), byte(k >> 16), byte(k >> 24)}
		got := make([]byte, len(p))
		maskCopy(got, p, key)
		if want := maskSlow(p, key); !bytes.Equal(got, want) {
			t.Fatalf("maskCopy(%x, %x) = %x, want %x", p, key, got, want)
		}
	})
}

func TestMaskKeysDiffer(t *testing.T) {
	seen := map[[4]byte]bool{}
	for range 64 {
		seen[newMaskKey()] = true
	}
	if len(seen) < 60 {
		t.Fatalf("%d distinct masking keys in 64", len(seen))
	}
}

// wsServer is a gorilla websocket server on loopback that hands each upgraded connection to handle.
func wsServer(tb testing.TB, useTLS bool, handle func(*websocket.Conn)) (url string, d *Dialer) {
	tb.Helper()
	var wg sync.WaitGroup
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		wg.Add(1)
		defer wg.Done()
		defer ws.Close()
		handle(ws)
	})
	srv := httptest.NewUnstartedServer(h)
	d = &Dialer{Proxy: NoProxy}
	if useTLS {
		srv.StartTLS()
		pool := x509.NewCertPool()
		pool.AddCert(srv.Certificate())
		d.TLSConfig = &tls.Config{RootCAs: pool}
	} else {
		srv.Start()
	}
	tb.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		wg.Wait()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http"), d
}

func dialWS(tb testing.TB, url string, d *Dialer) *wsTransport {
	tb.Helper()
	tr, err := d.Dial(context.Background(), url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { tr.Close() })
	return tr.(*wsTransport)
}

// TestWebsocketFramesReachGorilla: gorilla's server reads every frame we write, of each length class, in
// batches and alone, text and binary, and the pings written meanwhile from another goroutine never split a
// frame; it echoes the messages, and our reader reads the echoes. Plain and TLS.
func TestWebsocketFramesReachGorilla(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "tls"}[useTLS], func(t *testing.T) {
			var pings sync.WaitGroup
			url, d := wsServer(t, useTLS, func(ws *websocket.Conn) {
				ws.SetPingHandler(func(string) error { pings.Done(); return nil })
				for {
					typ, p, err := ws.ReadMessage()
					if err != nil {
						return
					}
					if err := ws.WriteMessage(typ, p); err != nil {
						return
					}
				}
			})
			tr := dialWS(t, url, d)
			sizes := []int{0, 1, 125, 126, 1024 + 116, 65535, 65536, 200 << 10}
			const pingCount = 50
			pings.Add(pingCount)
			go func() {
				for range pingCount {
					if err := tr.Ping(); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			var sent [][]byte
			for round := range 3 {
				tr.Cork()
				for i, n := range sizes {
					p := bytes.Repeat([]byte{byte(round*16 + i)}, n)
					write := tr.WriteBinary
					if i%3 == 0 {
						write = tr.WriteText
					}
					if err := write(p); err != nil {
						t.Fatal(err)
					}
					sent = append(sent, p)
				}
				if err := tr.Uncork(); err != nil {
					t.Fatal(err)
				}
			}
			if err := tr.WriteBinary([]byte("alone")); err != nil {
				t.Fatal(err)
			}
			sent = append(sent, []byte("alone"))
			var buf []byte
			for i, want := range sent {
				got, err := tr.ReadFrame(buf)
				if err != nil {
					t.Fatalf("echo %d: %v", i, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("echo %d: %d bytes, want %d", i, len(got), len(want))
				}
				buf = got
			}
			pings.Wait()
			if tr.wbuf != nil {
				t.Fatal("the transport holds a frame buffer after the writes ended")
			}
		})
	}
}

// TestWebsocketCloseFromService: the service's close frame ends ReadFrame with its code, is answered with a
// close frame of the same code, and no frame is written after that answer.
func TestWebsocketCloseFromService(t *testing.T) {
	answer := make(chan error, 1)
	url, d := wsServer(t, false, func(ws *websocket.Conn) {
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "bye"), time.Now().Add(5*time.Second))
		_, _, err := ws.ReadMessage()
		answer <- err
	})
	tr := dialWS(t, url, d)
	_, err := tr.ReadFrame(nil)
	if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
		t.Fatalf("ReadFrame: %v, want close 1008", err)
	}
	if err := <-answer; !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
		t.Fatalf("the service read %v, want our close 1008", err)
	}
	if err := tr.WriteBinary([]byte("late")); !errors.Is(err, websocket.ErrCloseSent) {
		t.Fatalf("write after the close: %v, want ErrCloseSent", err)
	}
}
