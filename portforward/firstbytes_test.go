package portforward_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
)

// TestMuxDestinationSpeaksFirst: a destination that writes at once (an SSH or SMTP banner) is answered
// through a new stream before smux's OpenStream has registered it, which smux would drop; every connection
// must still see its banner. Each connection reads while it is closed, as a proxy's copy loop does. Without
// the hold-back in onMuxFrame this failed about one run in three under the race detector.
func TestMuxDestinationSpeaksFirst(t *testing.T) {
	srv := newServer(t, nil)
	port := testkit.Serve(t, func(c net.Conn) {
		io.WriteString(c, "banner\n")
		io.Copy(c, c)
	})
	f, _ := newForwarder(t, srv, "AWS-StartPortForwardingSession", map[string][]string{"portNumber": {strconv.Itoa(port)}}, nil)
	for i := range 200 {
		conn, err := f.Dial(testkit.Context(t))
		if err != nil {
			t.Fatal(err)
		}
		pr, pw := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			io.Copy(pw, conn)
			pw.Close()
		}()
		stop := time.AfterFunc(testkit.Timeout, func() { pw.CloseWithError(fmt.Errorf("no banner after %v", testkit.Timeout)) })
		br := bufio.NewReader(pr)
		if line, err := br.ReadString('\n'); line != "banner\n" {
			t.Fatalf("connection %d: read %q, %v", i, line, err)
		}
		fmt.Fprintf(conn, "ping %d\n", i)
		if line, err := br.ReadString('\n'); line != fmt.Sprintf("ping %d\n", i) {
			t.Fatalf("connection %d: echo %q, %v", i, line, err)
		}
		stop.Stop()
		conn.Close()
		<-done
	}
}
