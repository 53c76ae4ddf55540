package session

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/ssmwire/ssmwire/protocol"
)

// serverFrame is a frame as the service sends it: unmasked.
func serverFrame(fin bool, op byte, p []byte) []byte {
	b0 := op
	if fin {
		b0 |= finBit
	}
	b := []byte{b0}
	switch n := len(p); {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, p...)
}

// readerOver is a transport that reads frames from the bytes in and records what it writes.
func readerOver(in []byte) (*wsTransport, *countConn) {
	out := &countConn{}
	return &wsTransport{nc: out, r: newFrameReader(bytes.NewReader(in))}, out
}

// unmasked returns the opcode and payload of the client frames written to c.
func clientFrames(t *testing.T, c *countConn) (ops []byte, payloads [][]byte) {
	t.Helper()
	b := bytes.Join(c.writes, nil)
	for len(b) > 0 {
		if len(b) < 6 || b[1]&maskBit == 0 || b[1]&0x7f > 125 {
			t.Fatalf("not a short masked client frame: %x", b)
		}
		n := int(b[1] & 0x7f)
		key := [4]byte(b[2:6])
		ops = append(ops, b[0]&0xf)
		payloads = append(payloads, maskSlow(b[6:6+n], key))
		b = b[6+n:]
	}
	return ops, payloads
}

// TestReadFrame: messages whole, fragmented, and with control frames between their fragments.
func TestReadFrame(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80000 bytes: a 64-bit length
	var in []byte
	in = append(in, serverFrame(true, opBinary, []byte("one"))...)
	in = append(in, serverFrame(false, opText, []byte("tw"))...)
	in = append(in, serverFrame(true, opPing, []byte("are you there"))...)
	in = append(in, serverFrame(true, opPong, []byte("ignored"))...)
	in = append(in, serverFrame(false, 0, nil)...)
	in = append(in, serverFrame(true, 0, []byte("o"))...)
	in = append(in, serverFrame(true, opBinary, big)...)
	in = append(in, serverFrame(true, opBinary, make([]byte, 300))...) // a 16-bit length
	in = append(in, serverFrame(true, opBinary, nil)...)
	tr, out := readerOver(in)
	var buf []byte
	for _, want := range [][]byte{[]byte("one"), []byte("two"), big, make([]byte, 300), {}} {
		got, err := tr.ReadFrame(buf)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("read %.20q (%d bytes), want %.20q (%d bytes)", got, len(got), want, len(want))
		}
		buf = got
	}
	if _, err := tr.ReadFrame(buf); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v, want EOF", err)
	}
	ops, payloads := clientFrames(t, out)
	if len(ops) != 1 || ops[0] != opPong || string(payloads[0]) != "are you there" {
		t.Fatalf("wrote %v %q, want one pong with the ping's data", ops, payloads)
	}
}

// TestReadFrameRefuses: frames that break RFC 6455 end the reader with ErrWebsocketProtocol and a close 1002;
// a message over protocol.MaxMessageSize ends it with close 1009 before its bytes are read or allocated.
func TestReadFrameRefuses(t *testing.T) {
	huge := binary.BigEndian.AppendUint64([]byte{0x82, 127}, protocol.MaxMessageSize+1)
	rest := binary.BigEndian.AppendUint64([]byte{0x80, 127}, protocol.MaxMessageSize-999) // a final continuation
	for _, tc := range []struct {
		name string
		in   []byte
		code int
	}{
		{"reserved bit", []byte{0xc2, 0}, websocket.CloseProtocolError},
		{"masked", []byte{0x82, 0x81, 1, 2, 3, 4, 5}, websocket.CloseProtocolError},
		{"opcode 3", []byte{0x83, 0}, websocket.CloseProtocolError},
		{"fragmented ping", []byte{0x09, 0}, websocket.CloseProtocolError},
		{"ping of 126 bytes", serverFrame(true, opPing, make([]byte, 126)), websocket.CloseProtocolError},
		{"continuation first", serverFrame(true, 0, []byte("x")), websocket.CloseProtocolError},
		{"message inside a message", append(serverFrame(false, opBinary, []byte("a")), serverFrame(true, opBinary, []byte("b"))...), websocket.CloseProtocolError},
		{"64-bit length with its top bit", append([]byte{0x82, 127}, 0x80, 0, 0, 0, 0, 0, 0, 0), websocket.CloseProtocolError},
		{"close of one byte", serverFrame(true, opClose, []byte{3}), websocket.CloseProtocolError},
		{"close code 1005", serverFrame(true, opClose, []byte{0x03, 0xed}), websocket.CloseProtocolError},
		{"close text not UTF-8", serverFrame(true, opClose, []byte{0x03, 0xe8, 0xff}), websocket.CloseProtocolError},
		{"message too big", huge, websocket.CloseMessageTooBig},
		{"fragments too big", append(serverFrame(false, opBinary, make([]byte, 1000)), rest...), websocket.CloseMessageTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, out := readerOver(tc.in)
			_, err := tr.ReadFrame(nil)
			if tc.code == websocket.CloseMessageTooBig {
				if !errors.Is(err, websocket.ErrReadLimit) {
					t.Fatalf("%v, want ErrReadLimit", err)
				}
			} else if !errors.Is(err, ErrWebsocketProtocol) {
				t.Fatalf("%v, want ErrWebsocketProtocol", err)
			}
			ops, payloads := clientFrames(t, out)
			if len(ops) != 1 || ops[0] != opClose || len(payloads[0]) != 2 || int(binary.BigEndian.Uint16(payloads[0])) != tc.code {
				t.Fatalf("wrote %v %x, want one close %d", ops, payloads, tc.code)
			}
		})
	}
}

func TestReadFrameClose(t *testing.T) {
	for _, tc := range []struct {
		payload []byte
		code    int
		text    string
		answer  []byte
	}{
		{nil, websocket.CloseNoStatusReceived, "", []byte{}},
		{[]byte("\x03\xe8"), websocket.CloseNormalClosure, "", []byte("\x03\xe8")},
		{[]byte("\x0f\xa0session ended"), 4000, "session ended", []byte("\x0f\xa0")},
	} {
		tr, out := readerOver(serverFrame(true, opClose, tc.payload))
		_, err := tr.ReadFrame(nil)
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != tc.code || ce.Text != tc.text {
			t.Fatalf("close %x: %v, want close %d %q", tc.payload, err, tc.code, tc.text)
		}
		ops, payloads := clientFrames(t, out)
		if len(ops) != 1 || ops[0] != opClose || !bytes.Equal(payloads[0], tc.answer) {
			t.Fatalf("close %x answered with %v %x, want close %x", tc.payload, ops, payloads, tc.answer)
		}
		if err := tr.WriteBinary([]byte("late")); !errors.Is(err, websocket.ErrCloseSent) {
			t.Fatalf("a write after the close: %v, want ErrCloseSent", err)
		}
	}
}

// FuzzReadFrame: whatever the service sends, the reader returns messages no larger than the bytes it read
// (nothing is allocated from a length alone) or an error, and never panics.
func FuzzReadFrame(f *testing.F) {
	f.Add(serverFrame(true, opBinary, []byte("one")))
	f.Add(append(serverFrame(false, opText, []byte("t")), append(serverFrame(true, opPing, nil), serverFrame(true, 0, []byte("w"))...)...))
	f.Add(serverFrame(true, opClose, []byte("\x03\xe8bye")))
	f.Add([]byte{0x82, 127, 0, 0, 0, 0, 0, 0x10, 0, 0})
	f.Add([]byte{0x82, 126, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		tr, _ := readerOver(in)
		var buf []byte
		total := 0
		for range 100 {
			msg, err := tr.ReadFrame(buf)
			if err != nil {
				return
			}
			total += len(msg)
			if total > len(in) {
				t.Fatalf("read %d message bytes from %d input bytes", total, len(in))
			}
			buf = msg
		}
	})
}

// TestGateHoldsFramesAfterUpgrade: a service that sends its first frames in the same packet as the 101
// response loses none of them to gorilla's buffered reader.
func TestGateHoldsFramesAfterUpgrade(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			served <- err
			return
		}
		sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		var b []byte
		b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
		b = append(b, base64.StdEncoding.EncodeToString(sum[:])+"\r\n\r\n"...)
		b = append(b, serverFrame(true, opBinary, []byte("first"))...)
		b = append(b, serverFrame(true, opBinary, bytes.Repeat([]byte("s"), 3000))...)
		_, err = c.Write(b)
		served <- err
		c.(*net.TCPConn).CloseWrite() // a frame lost makes ReadFrame fail with EOF, not wait
		io.Copy(io.Discard, c)
	}()
	tr, err := (&Dialer{Proxy: NoProxy}).Dial(context.Background(), "ws://"+ln.Addr().String()+"/v1/data-channel/s", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"first", strings.Repeat("s", 3000)} {
		got, err := tr.ReadFrame(nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("read %.20q, want %.20q", got, want)
		}
	}
}

// TestUpgradeRefusedThroughGate: a refused upgrade, its body longer than gorilla's buffer, still reads as an
// *UpgradeError with its status through the gate.
func TestUpgradeRefusedThroughGate(t *testing.T) {
	d := &Dialer{Proxy: NoProxy}
	srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, strings.Repeat("denied ", 500), http.StatusForbidden)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	_, err = d.Dial(context.Background(), "ws://"+ln.Addr().String()+"/", nil)
	var ue *UpgradeError
	if !errors.As(err, &ue) || ue.StatusCode != http.StatusForbidden {
		t.Fatalf("%v, want an UpgradeError 403", err)
	}
}
