package portforward

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"testing"
	"testing/synctest"
	"unsafe"
)

// pieceReader is the session's receiving side for the transport's tests: it hands out the bytes it was given
// in pieces of 1, 2, 3, ... bytes (never more than asked), and once they are used up waits for more or for
// ctx.
type pieceReader struct {
	mu   sync.Mutex
	data []byte
	next int // size of the next piece
	more chan struct{}
	err  error // returned once data is used up, when set
}

func newPieceReader() *pieceReader { return &pieceReader{next: 1, more: make(chan struct{}, 1)} }

func (r *pieceReader) add(b []byte) {
	r.mu.Lock()
	r.data = append(r.data, b...)
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

func (r *pieceReader) fail(err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

func (r *pieceReader) ReadContext(ctx context.Context, p []byte) (int, error) {
	for {
		r.mu.Lock()
		if len(r.data) > 0 {
			k := copy(p, r.data[:min(len(r.data), r.next)])
			r.data = r.data[k:]
			r.next = r.next%7 + 1
			r.mu.Unlock()
			return k, nil
		}
		err := r.err
		r.mu.Unlock()
		if err != nil {
			return 0, err
		}
		select {
		case <-r.more:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// frameBytes is one smux v1 frame.
func frameBytes(cmd byte, sid uint32, data []byte) []byte {
	h := make([]byte, smuxHeaderSize, smuxHeaderSize+len(data))
	h[0], h[1] = smuxVersion1, cmd
	binary.LittleEndian.PutUint16(h[2:], uint16(len(data)))
	binary.LittleEndian.PutUint32(h[4:], sid)
	return append(h, data...)
}

type seenFrame struct {
	cmd  byte
	sid  uint32
	data string
}

// smuxReads reads one frame from tr as smux v1.5.16's receiver does: the header with io.ReadFull, then a
// PSH frame's data.
func smuxReads(tr *muxTransport) (seenFrame, error) {
	var h [smuxHeaderSize]byte
	if _, err := io.ReadFull(tr, h[:]); err != nil {
		return seenFrame{}, err
	}
	f := seenFrame{cmd: h[1], sid: binary.LittleEndian.Uint32(h[4:])}
	if n := binary.LittleEndian.Uint16(h[2:]); f.cmd == smuxPSH && n > 0 {
		b := make([]byte, n)
		if _, err := io.ReadFull(tr, b); err != nil {
			return seenFrame{}, err
		}
		f.data = string(b)
	}
	return f, nil
}

// readFrames reads frames from tr as smux does, in a goroutine, until a Read fails: each frame on the first
// channel, then the error on the second.
func readFrames(tr *muxTransport) (<-chan seenFrame, <-chan error) {
	got, errc := make(chan seenFrame, 4), make(chan error, 1)
	go func() {
		for {
			f, err := smuxReads(tr)
			if err != nil {
				errc <- err
				return
			}
			got <- f
		}
	}()
	return got, errc
}

// notYet fails the test when ch holds a value: after synctest.Wait, it shows that a wait goes on.
func notYet[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s: got %v", what, v)
	default:
	}
}

// recvTransport is a transport over r whose onFrame gives stream 3's frames to the returned recvBuf.
func recvTransport(t *testing.T, r ctxReader, limit int) (*muxTransport, *recvBuf, *[]seenFrame) {
	tr := &muxTransport{}
	tr.ctx, tr.cancel = context.WithCancel(context.Background())
	t.Cleanup(tr.cancel)
	rb := newRecvBuf(tr)
	var seen []seenFrame
	tr.initRecv(r, func(cmd byte, sid uint32, length int) *recvBuf {
		seen = append(seen, seenFrame{cmd: cmd, sid: sid})
		if sid != 3 {
			return nil
		}
		if cmd == smuxFIN {
			rb.finish()
		}
		return rb
	}, limit)
	return tr, rb, &seen
}

// TestTransportTakesStreamData: the data of the PSH frames of a stream with a recvBuf goes there, and smux
// reads a NOP in each such frame's place; every other frame reaches smux whole, and the Forwarder's hook sees
// every header, whatever pieces the session delivers the bytes in.
func TestTransportTakesStreamData(t *testing.T) {
	r := newPieceReader()
	tr, rb, seen := recvTransport(t, r, 1<<20)
	big := bytes.Repeat([]byte("0123456789abcdef"), 2500) // 40 000 bytes: three chunks
	for _, f := range [][]byte{
		frameBytes(smuxSYN, 3, nil),
		frameBytes(smuxPSH, 3, []byte("hello ")),
		frameBytes(smuxNOP, 0, nil),
		frameBytes(smuxPSH, 5, []byte("not ours")),
		frameBytes(smuxPSH, 3, big),
		frameBytes(smuxPSH, 3, nil),
		frameBytes(smuxFIN, 5, nil),
		frameBytes(smuxFIN, 3, nil),
	} {
		r.add(f)
	}
	want := []seenFrame{{smuxSYN, 3, ""}, {smuxNOP, 3, ""}, {smuxNOP, 0, ""}, {smuxPSH, 5, "not ours"},
		{smuxNOP, 3, ""}, {smuxPSH, 3, ""}, {smuxFIN, 5, ""}, {smuxFIN, 3, ""}}
	for i, w := range want {
		got, err := smuxReads(tr)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if got != w {
			t.Errorf("smux read frame %d as %+v, want %+v", i, got, w)
		}
	}
	wantSeen := []seenFrame{{smuxSYN, 3, ""}, {smuxPSH, 3, ""}, {smuxNOP, 0, ""}, {smuxPSH, 5, ""},
		{smuxPSH, 3, ""}, {smuxPSH, 3, ""}, {smuxFIN, 5, ""}, {smuxFIN, 3, ""}}
	if len(*seen) != len(wantSeen) {
		t.Fatalf("onFrame saw %v, want %v", *seen, wantSeen)
	}
	for i := range wantSeen {
		if (*seen)[i] != wantSeen[i] {
			t.Errorf("onFrame saw frame %d as %+v, want %+v", i, (*seen)[i], wantSeen[i])
		}
	}
	if got := tr.buffered.Load(); got != int64(6+len(big)) {
		t.Errorf("buffered = %d, want %d", got, 6+len(big))
	}
	var out []byte
	buf := make([]byte, 7000)
	for {
		n, err := rb.read(context.Background(), nil, buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if want := "hello " + string(big); string(out) != want {
		t.Errorf("stream 3 read %d bytes, want %d: %.40q", len(out), len(want), out)
	}
	if got := tr.buffered.Load(); got != 0 {
		t.Errorf("buffered = %d after every byte was read, want 0", got)
	}
	if len(rb.chunks) != 0 {
		t.Errorf("an emptied stream holds %d chunks, want 0", len(rb.chunks))
	}
}

// TestTransportBound: once the streams hold the bound, the transport reads no further frame (smux's next
// Read waits) until a Read takes bytes; closing the transport ends that wait.
func TestTransportBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newPieceReader()
		tr, rb, _ := recvTransport(t, r, 1000)
		for range 3 {
			r.add(frameBytes(smuxPSH, 3, make([]byte, 600)))
		}
		r.add(frameBytes(smuxFIN, 7, nil))
		for i := range 2 {
			if f, err := smuxReads(tr); err != nil || f.cmd != smuxNOP {
				t.Fatalf("frame %d: smux read %+v, %v; want a NOP", i, f, err)
			}
		}
		if n := tr.buffered.Load(); n != 1200 {
			t.Fatalf("buffered = %d, want 1200: two frames, the second going past the bound", n)
		}
		got, errc := readFrames(tr)
		synctest.Wait()
		notYet(t, got, "smux read a frame while the streams held the bound")
		if _, err := rb.read(context.Background(), nil, make([]byte, 300)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if f := <-got; f.cmd != smuxNOP {
			t.Fatalf("after a Read took bytes smux read %+v, want the NOP of the third frame", f)
		}
		// Now 1500 bytes wait: stream 7's FIN is not read until a Read takes some, or the transport closes.
		notYet(t, got, "smux read a frame while the streams held the bound")
		tr.cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("smux's Read after the transport closed: %v, want context.Canceled", err)
		}
	})
}

// TestRecvBufClose: a stream closed while its data arrives gives its bytes back to the bound, and the rest
// of the frame is read and dropped so that the frames after it still parse.
func TestRecvBufClose(t *testing.T) {
	r := newPieceReader()
	tr, rb, _ := recvTransport(t, r, 1<<20)
	r.add(frameBytes(smuxPSH, 3, []byte("first")))
	if f, err := smuxReads(tr); err != nil || f.cmd != smuxNOP {
		t.Fatalf("smux read %+v, %v; want a NOP", f, err)
	}
	rb.close()
	if n := tr.buffered.Load(); n != 0 {
		t.Fatalf("buffered = %d after close, want 0", n)
	}
	r.add(frameBytes(smuxPSH, 3, make([]byte, 3000)))
	r.add(frameBytes(smuxFIN, 9, nil))
	if f, err := smuxReads(tr); err != nil || f.cmd != smuxNOP {
		t.Fatalf("smux read %+v, %v; want a NOP", f, err)
	}
	if f, err := smuxReads(tr); err != nil || f != (seenFrame{smuxFIN, 9, ""}) {
		t.Fatalf("smux read %+v, %v; want stream 9's FIN", f, err)
	}
	if n := tr.buffered.Load(); n != 0 || len(rb.chunks) != 0 {
		t.Fatalf("a closed stream's data was kept: buffered %d, %d chunks", n, len(rb.chunks))
	}
}

// TestRecvBufReadEnds: a waiting Read ends with its context, with die (the stream's or smux's session's
// end) as io.EOF, and with the transport's failure as its error, each only after the unread bytes.
func TestRecvBufReadEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newPieceReader()
		tr, rb, _ := recvTransport(t, r, 1<<20)
		wait := func(ctx context.Context, die chan struct{}) chan error {
			errc := make(chan error, 1)
			go func() {
				_, err := rb.read(ctx, die, make([]byte, 10))
				errc <- err
			}()
			synctest.Wait()
			notYet(t, errc, "Read returned with nothing to read")
			return errc
		}

		ctx, cancel := context.WithCancel(context.Background())
		errc := wait(ctx, nil)
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Read after its context ended: %v", err)
		}

		die := make(chan struct{})
		errc = wait(context.Background(), die)
		close(die)
		if err := <-errc; err != io.EOF {
			t.Errorf("Read after die: %v, want io.EOF", err)
		}

		// The transport fails after a frame's data: the data is read first, then the failure.
		r.add(frameBytes(smuxPSH, 3, []byte("last")))
		if _, err := smuxReads(tr); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("websocket gone")
		r.fail(boom)
		if _, err := smuxReads(tr); !errors.Is(err, boom) {
			t.Fatalf("smux's Read: %v, want %v", err, boom)
		}
		b := make([]byte, 10)
		if n, err := rb.read(context.Background(), nil, b); err != nil || string(b[:n]) != "last" {
			t.Fatalf("Read = %q, %v; want the data before the failure", b[:n], err)
		}
		if _, err := rb.read(context.Background(), nil, b); !errors.Is(err, boom) {
			t.Fatalf("Read after the failure: %v, want %v", err, boom)
		}
	})
}

// TestTransportProtocolError: a frame smux refuses (another version, an unknown command) stops smux's
// receiver, so the transport fails the streams' Reads itself, and still hands smux the header.
func TestTransportProtocolError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { // a Read left waiting fails the test as a deadlock
		r := newPieceReader()
		tr, rb, _ := recvTransport(t, r, 1<<20)
		f := frameBytes(smuxPSH, 3, nil)
		f[0] = 2
		r.add(f)
		if got, err := smuxReads(tr); err != nil || got.cmd != smuxPSH {
			t.Fatalf("smux read %+v, %v; want the header as sent", got, err)
		}
		if _, err := rb.read(context.Background(), nil, make([]byte, 1)); err == nil {
			t.Fatal("Read after a frame of version 2 succeeded")
		}
	})
}

// TestRecvChunkSize: a chunk fills its size class exactly.
func TestRecvChunkSize(t *testing.T) {
	if got := unsafe.Sizeof(recvChunk{}); got != 16<<10 {
		t.Fatalf("a recvChunk is %d bytes, want 16 KiB", got)
	}
}

// TestRecvBufCloseWhileFilling: a stream closed while the transport is writing a frame's data into its last
// chunk does not give that chunk back for reuse (another session could take it from the pool while the
// write goes on), and the rest of the frame is still read and dropped.
func TestRecvBufCloseWhileFilling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newPieceReader()
		tr, rb, _ := recvTransport(t, r, 1<<20)
		f := frameBytes(smuxPSH, 3, bytes.Repeat([]byte("x"), 100))
		r.add(f[:smuxHeaderSize+50]) // half the data: fill waits for the rest
		got, _ := readFrames(tr)
		synctest.Wait()
		rb.mu.Lock()
		filling, chunks := rb.filling, len(rb.chunks)
		rb.mu.Unlock()
		if !filling || chunks != 1 {
			t.Fatalf("filling %v with %d chunks, want the transport writing into one", filling, chunks)
		}
		rb.close()
		tr.freeMu.Lock()
		free := len(tr.free)
		tr.freeMu.Unlock()
		if free != 0 {
			t.Fatalf("close gave back the chunk being filled (%d free)", free)
		}
		r.add(f[smuxHeaderSize+50:])
		r.add(frameBytes(smuxFIN, 9, nil))
		synctest.Wait()
		if f := <-got; f.cmd != smuxNOP {
			t.Fatalf("smux read %+v, want the NOP of the closed stream's frame", f)
		}
		if f := <-got; f != (seenFrame{smuxFIN, 9, ""}) {
			t.Fatalf("smux read %+v, want stream 9's FIN", f)
		}
		if n := tr.buffered.Load(); n != 0 {
			t.Fatalf("buffered = %d after close, want 0", n)
		}
	})
}
