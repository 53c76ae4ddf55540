package portforward_test

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/portforward"
	"github.com/ssmwire/ssmwire/session"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// TestMuxDownloadToStalledReaderIsBounded downloads 32 MiB through a mux session with the defaults to a local
// client that stops reading after 1 MiB until the session's reader has had to wait for room, and then reads
// the rest. What the session holds for the local side never exceeds its receive buffer (the rest waits in
// TCP, in the kernel and on the agent; the mux's own buffer is bounded by MuxReceiveBuffer), no in-order
// message is refused (each refusal costs the agent a retransmission timeout), and every byte arrives.
func TestMuxDownloadToStalledReaderIsBounded(t *testing.T) {
	const size = 32 << 20
	data := make([]byte, size)
	rand.Read(data)
	port := testkit.Serve(t, func(c net.Conn) { c.Write(data) })
	srv := newServer(t, nil)
	f, s := newForwarder(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {strconv.Itoa(port)}}, nil)
	if f.Mode() != portforward.ModeMux {
		t.Fatalf("mode %v", f.Mode())
	}
	addr, _ := serve(t, f)
	c := testkit.Dial(t, addr)
	got := make([]byte, size)
	if _, err := io.ReadFull(c, got[:1<<20]); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the session's reader to wait for room", func() bool { return s.Stats().Waits > 0 })
	if _, err := io.ReadFull(c, got[1<<20:]); err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatal("the bytes downloaded differ from those sent")
	}
	st := s.Stats()
	t.Logf("session: %+v", st)
	if st.BufferedPeak > session.DefaultRecvBuffer {
		t.Errorf("%d bytes waited in the session at once, more than its receive buffer (%d)", st.BufferedPeak, session.DefaultRecvBuffer)
	}
	// Duplicates are expected: while the local client does not read, the agent resends its oldest
	// unacknowledged message once per retransmission timeout, as it would to AWS's plugin.
	if st.Deferred != 0 {
		t.Errorf("%d in-order messages refused", st.Deferred)
	}
}

// TestMuxBidirectionalBulk has the local client write 16 MiB to an echo destination while it reads the echo
// back, on two connections at once: uploads in flight keep the session reading acknowledgements while the
// download applies back-pressure, so neither direction starves the other and both complete.
func TestMuxBidirectionalBulk(t *testing.T) {
	const size = 16 << 20
	echo := newEchoServer(t)
	srv := newServer(t, nil)
	f, s := newForwarder(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {echo.port}}, nil)
	addr, _ := serve(t, f)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			errs <- bidirectional(c, size)
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	t.Logf("session: %+v", st)
	if st.BufferedPeak > session.DefaultRecvBuffer+16<<20 {
		t.Errorf("%d bytes waited in the session at once, more than its receive and out-of-order buffers", st.BufferedPeak)
	}
}

// bidirectional writes size random bytes to c while it reads them back, comparing SHA-256 sums.
func bidirectional(c net.Conn, size int) error {
	data := make([]byte, size)
	rand.Read(data)
	c.SetDeadline(time.Now().Add(testkit.Timeout))
	werr := make(chan error, 1)
	go func() {
		for off := 0; off < size; off += 64 << 10 { // in pieces, so reads and writes interleave
			if _, err := c.Write(data[off:min(off+64<<10, size)]); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	h := sha256.New()
	if _, err := io.CopyN(h, c, int64(size)); err != nil {
		return err
	}
	if err := <-werr; err != nil {
		return err
	}
	if [32]byte(h.Sum(nil)) != sha256.Sum256(data) {
		return errors.New("echoed bytes differ from those sent")
	}
	return nil
}

// TestMuxWriteAllThenRead has the local client write 8 MiB to an echo destination before it reads anything:
// the echo piles up while the upload is in flight, and the session must keep reading the agent's
// acknowledgements rather than wait for the client to read, or the client's writes would never finish.
func TestMuxWriteAllThenRead(t *testing.T) {
	const size = 8 << 20
	echo := newEchoServer(t)
	srv := newServer(t, nil)
	f, s := newForwarder(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {echo.port}}, nil)
	addr, _ := serve(t, f)
	c := testkit.Dial(t, addr)
	data := make([]byte, size)
	rand.Read(data)
	if _, err := c.Write(data); err != nil {
		t.Fatalf("write without reading: %v", err)
	}
	got := make([]byte, size)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatal("echoed bytes differ from those sent")
	}
	t.Logf("session: %+v", s.Stats())
}
