package portforward

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/relay"
	"github.com/ssmwire/ssmwire/internal/testkit"
)

// Stream Writes whose wait for room is ended by their context leave no frame cut in the byte stream: the
// agent, which parses every frame, sees only whole PSH frames of the stream, and exactly the bytes the
// Writes reported written, while the acknowledgements were held (the window full) and after.
func TestWriteDataEndedWaitCutsNoFrame(t *testing.T) {
	m := loopMux(t, 0)
	a, write := m.a, m.write
	buf := make([]byte, relay.BufferSize)
	var (
		mu      sync.Mutex
		written int64
	)
	writer := func(ctx context.Context) error {
		for {
			n, err := write(ctx, buf)
			mu.Lock()
			written += int64(n)
			mu.Unlock()
			if err != nil {
				return err
			}
		}
	}

	a.hold.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	for range 2 { // two writers, so that one's frames would land inside the other's if a frame were cut
		go func() { errs <- writer(ctx) }()
	}
	testkit.WaitBlocked(t, "(*packer).writeFrame")
	cancel()
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("a writer ended with %v, want context.Canceled", err)
			}
		case <-time.After(testkit.Timeout):
			t.Fatal("canceling the context did not end a waiting Write")
		}
	}

	a.hold.Store(false)
	select {
	case a.kick <- struct{}{}:
	default:
	}
	if _, err := write(context.Background(), buf); err != nil { // after the ended waits, a Write still goes through
		t.Fatal(err)
	}
	mu.Lock()
	want := written + int64(len(buf))
	mu.Unlock()
	waitFor(t, func() bool { return a.received.Load() >= want }, "the agent to receive every byte written")
	if got := a.received.Load(); got != want || a.bad.Load() != 0 {
		t.Fatalf("the agent received %d stream bytes and %d foreign frames, want %d and 0", got, a.bad.Load(), want)
	}
}

// With 32 KiB messages the pump holds back a partial message while a stream Write is in progress, for the
// rest of that Write's frames. When the next frame needs more room than the buffer has beside that partial
// message, the partial message must go first (packer.starved); waiting for it to fill would wait forever.
func TestWriteFrameSendsHeldPartialForRoom(t *testing.T) {
	m := loopMux(t, 32<<10)
	p := m.tr.packer
	if p.size != 32<<10 || p.frameRoom() != 64<<10 {
		t.Fatalf("message size %d, room %d; want 32 KiB and 64 KiB", p.size, p.frameRoom())
	}
	frame := func(n int) []byte {
		f := make([]byte, smuxHeaderSize+n)
		f[0], f[1] = smuxVersion1, smuxPSH
		binary.LittleEndian.PutUint16(f[2:], uint16(n))
		binary.LittleEndian.PutUint32(f[4:], m.st.ID())
		return f
	}
	p.begin() // one Write in progress: the pump holds partial messages
	defer p.end()
	first, second := frame(32757), frame(32764) // 32 765 bytes pending, then 32 772 needed: 1 more than is free
	done := make(chan error, 1)
	go func() {
		_, err := p.writeFrame(context.Background(), first[:smuxHeaderSize], first[smuxHeaderSize:])
		if err == nil {
			_, err = p.writeFrame(context.Background(), second[:smuxHeaderSize], second[smuxHeaderSize:])
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testkit.Timeout):
		t.Fatal("the second frame waited for room that only sending the held partial message makes")
	}
	waitFor(t, func() bool { return m.a.received.Load() >= 32757 }, "the first frame at the agent")
	if m.a.bad.Load() != 0 {
		t.Fatalf("%d foreign frames at the agent", m.a.bad.Load())
	}
}
