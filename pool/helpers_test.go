package pool_test

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/session"
	"github.com/ssmwire/ssmwire/ssmtest"
)

const target = ssmtest.DefaultInstanceID

// newServer starts an ssmtest server without the agent's pacing; it is closed at cleanup.
func newServer(t testing.TB, opts *ssmtest.Options) *ssmtest.Server {
	t.Helper()
	var o ssmtest.Options
	if opts != nil {
		o = *opts
	}
	o.NoPacing = true
	srv := ssmtest.NewServer(&o)
	t.Cleanup(srv.Close)
	return srv
}

// newClient returns a library client for srv; edit, when non-nil, adjusts its Config.
func newClient(t testing.TB, srv *ssmtest.Server, edit func(*ssmwire.Config)) *ssmwire.Client {
	t.Helper()
	a := srv.AWSConfig()
	cfg := ssmwire.Config{SSM: ssm.NewFromConfig(a), KMS: kms.NewFromConfig(a),
		Session: &session.Config{Credentials: a.Credentials, Region: a.Region, TrustedEndpoints: []string{srv.URL}}} // kept when a test wraps SSM
	if edit != nil {
		edit(&cfg)
	}
	c, err := ssmwire.New(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// clientStack selects the goroutines that belong to the client side: the library and the session, shell and
// portforward packages, and with smux also the multiplexer's (which the emulated agent uses as well, so count
// those only once the server is closed).
func clientStack(smux bool) func(stack string) bool {
	pkgs := []string{"ssmwire/ssmwire.", "ssmwire/pool.", "ssmwire/session.", "ssmwire/shell.", "ssmwire/portforward."}
	if smux {
		pkgs = append(pkgs, "xtaci/smux.")
	}
	return func(g string) bool {
		if strings.Contains(g, "ssmwire/ssmtest") {
			return false
		}
		for _, pkg := range pkgs {
			if strings.Contains(g, pkg) {
				return true
			}
		}
		return false
	}
}

// waitGoroutines waits for the client goroutines to end and fails t if they do not. Some end just after Close
// returns (the shell's stdin pump, see package shell), so this waits rather than checking once.
func waitGoroutines(t testing.TB, smux bool) {
	t.Helper()
	testkit.WaitNoGoroutines(t, clientStack(smux))
}

// checkGoroutines makes sure no client goroutine runs before the test (waiting for an earlier test's sessions,
// which may have ended without a Close that waits, to wind down), and none (smux included) after it and after
// every server it started is closed: call it before newServer so its cleanup runs last.
func checkGoroutines(t testing.TB) {
	t.Helper()
	testkit.WaitNoGoroutines(t, clientStack(true))
	testkit.CheckGoroutines(t, clientStack(true))
}

// exampleClient starts an emulated AWS side and returns a client aimed at it. In a real program the
// configuration comes from config.LoadDefaultConfig(ctx) instead (see the package documentation).
func exampleClient() (*ssmwire.Client, *ssmtest.Server) {
	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true})
	return ssmwire.NewFromAWSConfig(srv.AWSConfig()), srv
}

// startDatabase stands in for a database on the target's network: it answers each "PING" line with "+PONG".
func startDatabase() (port int, stop func()) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				sc := bufio.NewScanner(conn)
				for sc.Scan() {
					if sc.Text() == "PING" {
						fmt.Fprintf(conn, "+PONG\n")
					}
				}
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port, func() { l.Close() }
}
func echo(t testing.TB, conn net.Conn, msg string) {
	t.Helper()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	defer conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(conn, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, got); err != nil || string(got) != msg {
		t.Fatalf("echo %q: got %q, %v", msg, got, err)
	}
}

// waitEnded waits until the server has ended session id.
func waitEnded(t testing.TB, srv *ssmtest.Server, id string) {
	t.Helper()
	info := srv.Session(id)
	if info == nil {
		t.Fatalf("no session %s on the server", id)
	}
	select {
	case <-info.Done:
	case <-testkit.Context(t).Done():
		t.Fatalf("session %s still running on the server", id)
	}
}

// closedPort returns a 127.0.0.1 port nothing listens on.
func closedPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}
