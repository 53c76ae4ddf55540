package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ssmwire/ssmwire/protocol"
)

// floodAgent sends size bytes of Output in messages of msg bytes as fast as the pipe takes them, while
// another goroutine counts the client's acknowledgements, like an unpaced agent whose TCP window is the
// pipe's 1024 frames. It returns the SHA-256 of what it sent.
func floodAgent(a *fakeAgent, size, msg int, acks chan<- int64) [32]byte {
	go func() {
		for {
			var f frame
			select {
			case f = <-a.tr.in:
			case <-a.tr.closed:
				return
			}
			var m protocol.Message
			if f.text || protocol.Parse(f.b, &m) != nil || m.MessageType != protocol.TypeAcknowledge {
				continue
			}
			if ack, err := protocol.ParseAcknowledge(m.Payload); err == nil {
				acks <- ack.AcknowledgedMessageSequenceNumber
			}
		}
	}()
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	for i := 0; i < len(data); i += msg {
		data[i] = byte(i / msg) // no two messages alike
	}
	go func() {
		for off := 0; off < len(data); off += msg {
			a.output(protocol.PayloadOutput, data[off:min(off+msg, len(data))])
		}
	}()
	return sha256.Sum256(data)
}

// TestSlowReaderBoundsBufferedBytes downloads 8 MiB from an unpaced agent to an application that reads 4 KiB
// per millisecond of the bubble's clock (4 MiB/s): the reader goroutine waits for room instead of taking
// more, so no more than RecvBuffer bytes ever wait for Read, no message is refused (a refusal costs the
// agent a retransmission timeout) and every message is acknowledged exactly once.
func TestSlowReaderBoundsBufferedBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			size  = 8 << 20
			msg   = 1024
			limit = 64 << 10
		)
		s, a := openPipe(t, &Config{RecvBuffer: limit})
		acks := make(chan int64, size/msg)
		want := floodAgent(a, size, msg, acks)
		h := sha256.New()
		buf := make([]byte, 4<<10)
		for got := 0; got < size; {
			n, err := s.Read(buf)
			if err != nil {
				t.Fatalf("after %d bytes: %v", got, err)
			}
			h.Write(buf[:n])
			got += n
			time.Sleep(time.Millisecond)
		}
		if [32]byte(h.Sum(nil)) != want {
			t.Fatal("the bytes read differ from those sent")
		}
		for i := range int64(size / msg) {
			if seq := <-acks; seq != i {
				t.Fatalf("acknowledgement %d is for %d", i, seq)
			}
		}
		synctest.Wait()
		if len(acks) != 0 {
			t.Fatalf("%d acknowledgements more than messages", len(acks))
		}
		st := s.Stats()
		t.Logf("stats: %+v", st)
		if st.BufferedPeak > limit {
			t.Errorf("%d bytes waited for Read at once, more than RecvBuffer (%d)", st.BufferedPeak, limit)
		}
		if st.Deferred != 0 || st.DuplicatesReceived != 0 || st.AcksSent != size/msg {
			t.Errorf("%d refused, %d duplicates, %d acknowledgements for %d messages", st.Deferred, st.DuplicatesReceived, st.AcksSent, size/msg)
		}
		if st.Waits == 0 {
			t.Error("the reader never waited for room: the test did not exercise back-pressure")
		}
		s.Close()
		a.tr.Close()
	})
}

// fillAndBlock fills a 4 KiB receive buffer nobody reads and sends one more message, so the reader waits.
func fillAndBlock(t *testing.T, s *Channel, a *fakeAgent) {
	t.Helper()
	if n := s.stdout.len(); n != 0 {
		t.Fatalf("%d bytes already waiting", n)
	}
	for range 4 {
		a.output(protocol.PayloadOutput, make([]byte, 1024))
		a.nextAck()
	}
	a.output(protocol.PayloadOutput, []byte("waits"))
	synctest.Wait()
	if st := s.Stats(); st.Waits == 0 || st.Deferred != 0 {
		t.Fatalf("the reader does not wait: %+v", st)
	}
	select {
	case f := <-a.tr.in:
		t.Fatalf("client answered a message it could not take yet (a %d-byte frame)", len(f.b))
	default:
	}
}

// TestBlockedReaderUnblocks: a reader waiting for room goes on when Read makes room, when the session is
// closed, when its websocket is found lost (by the writer), and when a message of ours is queued (it must then read the
// acknowledgements, so the message it holds borrows room instead).
func TestBlockedReaderUnblocks(t *testing.T) {
	t.Run("read", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s, a := openPipe(t, &Config{RecvBuffer: 4 << 10})
			fillAndBlock(t, s, a)
			if _, err := io.ReadFull(s, make([]byte, 2<<10)); err != nil {
				t.Fatal(err)
			}
			if seq := a.nextAck(); seq != 4 {
				t.Fatalf("ack for %d", seq)
			}
		})
	})
	t.Run("close", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s, a := openPipe(t, &Config{RecvBuffer: 4 << 10})
			fillAndBlock(t, s, a)
			s.Close() // waits for the reader goroutine
			if st := s.Stats(); st.MessagesReceived != 4 || st.Deferred != 1 {
				t.Fatalf("stats %+v", st)
			}
		})
	})
	t.Run("websocket lost", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s, a := openPipe(t, &Config{RecvBuffer: 4 << 10})
			fillAndBlock(t, s, a)
			// The waiting reader does not see the drop; the writer's next keepalive ping, or the reader
			// itself once it stops waiting (stallTimeout), does.
			a.tr.Close()
			<-s.Done()
			if !errors.Is(s.Err(), ErrConnectionLost) {
				t.Fatalf("Err = %v", s.Err())
			}
			s.Close()
		})
	})
	t.Run("stall", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s, a := openPipe(t, &Config{RecvBuffer: 4 << 10})
			fillAndBlock(t, s, a)
			time.Sleep(stallTimeout - time.Millisecond)
			synctest.Wait()
			if len(a.tr.in) != 0 {
				t.Fatal("the reader stopped waiting before stallTimeout")
			}
			time.Sleep(time.Millisecond)
			// Read stalled: the reader reads on and borrows, as a message of ours in flight would make it.
			if seq := a.nextAck(); seq != 4 {
				t.Fatalf("ack for %d", seq)
			}
			a.output(protocol.PayloadOutput, []byte("borrows"))
			if seq := a.nextAck(); seq != 5 {
				t.Fatalf("ack for %d", seq)
			}
			if _, err := io.ReadFull(s, make([]byte, 4<<10+12)); err != nil {
				t.Fatal(err)
			}
			// Read caught up: the next time the buffer is full, the reader waits again.
			fillAndBlock(t, s, a)
			if st := s.Stats(); st.Waits != 2 || st.BufferedPeak != 4<<10+12 {
				t.Fatalf("stats %+v", st)
			}
		})
	})
	t.Run("write past the window", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// One Write of 8 messages with room for 2 unacknowledged: it queues 2 and waits for their
			// acknowledgements, which only the reader can read, so it must wake the reader first.
			s, a := openPipe(t, &Config{RecvBuffer: 4 << 10, MaxPayload: 1024, Window: 2048})
			fillAndBlock(t, s, a)
			werr := make(chan error, 1)
			go func() {
				_, err := s.Write(make([]byte, 8<<10))
				werr <- err
			}()
			for acked := 0; acked < 8; {
				m := a.next()
				if m.MessageType == protocol.TypeInputStreamData {
					a.ack(m)
					acked++
				}
			}
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			if st := s.Stats(); st.AcksReceived != 8 || st.MessagesReceived != 5 {
				t.Fatalf("stats %+v", st)
			}
		})
	})
	t.Run("send", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s, a := openPipe(t, &Config{RecvBuffer: 4 << 10})
			fillAndBlock(t, s, a)
			if err := s.Send(context.Background(), protocol.PayloadOutput, []byte("hello")); err != nil {
				t.Fatal(err)
			}
			var data protocol.Message
			acked := false
			for data.MessageType == "" || !acked {
				switch m := a.next(); m.MessageType {
				case protocol.TypeInputStreamData:
					data = m
				case protocol.TypeAcknowledge:
					ack, _ := protocol.ParseAcknowledge(m.Payload)
					acked = ack.AcknowledgedMessageSequenceNumber == 4
				}
			}
			a.ack(data)
			synctest.Wait()
			if st := s.Stats(); st.AcksReceived != 1 || st.MessagesReceived != 5 || st.BufferedPeak != 4<<10+5 {
				t.Fatalf("stats %+v", st)
			}
		})
	})
}
