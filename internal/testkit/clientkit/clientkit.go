// Package clientkit holds the set-up that the tests of the root package and of pool share: an emulator
// without pacing, a library client aimed at it, the client's goroutines and a few checks on connections and
// sessions. Only _test.go files import it.
//
// It lives apart from testkit because it imports the root package and ssmtest: testkit must stay importable
// from the tests inside session, ssmtest and the root, which this package would turn into import cycles.
package clientkit

import (
	"bufio"
	"fmt"
	"io"
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

// NewServer starts an ssmtest server without the agent's pacing; it is closed at cleanup.
func NewServer(t testing.TB, opts *ssmtest.Options) *ssmtest.Server {
	t.Helper()
	return newServer(t, opts, true)
}

// NewPacedServer starts an ssmtest server whose agent paces its output as the real one does (whatever
// opts.NoPacing says); it is closed at cleanup.
func NewPacedServer(t testing.TB, opts *ssmtest.Options) *ssmtest.Server {
	t.Helper()
	return newServer(t, opts, false)
}

func newServer(t testing.TB, opts *ssmtest.Options, noPacing bool) *ssmtest.Server {
	t.Helper()
	var o ssmtest.Options
	if opts != nil {
		o = *opts
	}
	o.NoPacing = noPacing
	srv := ssmtest.NewServer(&o)
	t.Cleanup(srv.Close)
	return srv
}

// NewClient returns a library client for srv; edit, when non-nil, adjusts its Config.
func NewClient(t testing.TB, srv *ssmtest.Server, edit func(*ssmwire.Config)) *ssmwire.Client {
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

// ClientStack selects the goroutines that belong to the client side: the library, pool, filecopy and the
// session, shell and portforward packages, and with smux also the multiplexer's (which the emulated agent
// uses as well, so count those only once the server is closed).
func ClientStack(smux bool) func(stack string) bool {
	pkgs := []string{"ssmwire/ssmwire.", "ssmwire/pool.", "ssmwire/filecopy.", "ssmwire/session.", "ssmwire/shell.",
		"ssmwire/portforward."}
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

// WaitGoroutines waits for the client goroutines to end and fails t if they do not. Some end just after
// Close returns (the shell's stdin pump, see package shell), so this waits rather than checking once.
func WaitGoroutines(t testing.TB, smux bool) {
	t.Helper()
	testkit.WaitNoGoroutines(t, ClientStack(smux))
}

// CheckGoroutines makes sure no client goroutine runs before the test (waiting for an earlier test's
// sessions, which may have ended without a Close that waits, to wind down), and none (smux included) after
// it and after every server it started is closed: call it before NewServer so its cleanup runs last.
func CheckGoroutines(t testing.TB) {
	t.Helper()
	testkit.WaitNoGoroutines(t, ClientStack(true))
	testkit.CheckGoroutines(t, ClientStack(true))
}

// Echo writes msg on conn and checks it comes back.
func Echo(t testing.TB, conn net.Conn, msg string) {
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

// WaitEnded waits until the server has ended session id.
func WaitEnded(t testing.TB, srv *ssmtest.Server, id string) {
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

// ExampleClient starts an emulated AWS side and returns a client aimed at it, for the examples, which have no
// testing.TB: the caller closes the server. In a real program the configuration comes from
// config.LoadDefaultConfig(ctx) instead (see the root package's documentation).
func ExampleClient() (*ssmwire.Client, *ssmtest.Server) {
	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true})
	return ssmwire.NewFromAWSConfig(srv.AWSConfig()), srv
}

// StartDatabase stands in, for the examples, for a database on the target's network: it answers each "PING"
// line with "+PONG" until stop is called. Examples have no testing.TB to fail, so a loopback listener that
// cannot be made panics.
func StartDatabase() (port int, stop func()) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("clientkit: listen for the example database: %v", err))
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
