package portforward_test

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/portforward"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// A stream's Write that waits for the session (the service paused publication, so the transport's buffer
// fills and stays full) ends at its write deadline, and on Close. (TestWriteDataEndedWaitCutsNoFrame shows
// that such an ended wait cuts no frame.)
func TestMuxWriteWaitEndsOnDeadlineAndClose(t *testing.T) {
	testkit.CheckGoroutines(t, nil)
	srv := newServer(t, nil)
	echo := newEchoServer(t)
	f, _ := newForwarder(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {echo.port}}, nil)
	if f.Mode() != portforward.ModeMux {
		t.Fatalf("mode %v, want mux", f.Mode())
	}
	c, err := f.Dial(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := echoCheck(c, 1000); err != nil {
		t.Fatal(err)
	}

	srv.Faults().Pause(time.Hour) // start_publication never comes during the test
	big := make([]byte, 4<<20)    // far more than the transport's buffer
	write := func() <-chan error {
		ch := make(chan error, 1)
		go func() {
			_, err := c.Write(big)
			ch <- err
		}()
		return ch
	}

	ch := write()
	testkit.WaitBlocked(t, "(*packer).writeFrame") // the deadline must end a Write that already waits
	c.SetWriteDeadline(time.Now())
	expectErr(t, ch, "the write deadline", isTimeout)
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write after its deadline: %v, want os.ErrDeadlineExceeded", err)
	}

	c.SetWriteDeadline(time.Time{})
	ch = write()
	testkit.WaitBlocked(t, "(*packer).writeFrame")
	go c.Close() // its FIN waits for the transport like any frame; the session's end at cleanup frees it
	expectErr(t, ch, "Close", func(err error) bool { return errors.Is(err, net.ErrClosed) })
}
