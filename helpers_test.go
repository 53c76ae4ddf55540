package ssmwire_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire"
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

// awsConfig aims aws-sdk-go-v2 clients at srv with static credentials and no retries.
func awsConfig(srv *ssmtest.Server) aws.Config {
	return aws.Config{
		Region:       ssmtest.DefaultRegion,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDSSMWIRETEST", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}
}

// newClient returns a library client for srv; edit, when non-nil, adjusts its Config.
func newClient(t testing.TB, srv *ssmtest.Server, edit func(*ssmwire.Config)) *ssmwire.Client {
	t.Helper()
	cfg := ssmwire.Config{SSM: ssm.NewFromConfig(awsConfig(srv)), KMS: kms.NewFromConfig(awsConfig(srv))}
	if edit != nil {
		edit(&cfg)
	}
	c, err := ssmwire.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// clientGoroutines returns the stacks of running goroutines that belong to the client side: the library and
// the session, shell and portforward packages, and with smux also the multiplexer's (which the emulated agent
// uses as well, so count those only once the server is closed).
func clientGoroutines(smux bool) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	pkgs := []string{"ssmwire/ssmwire.", "ssmwire/session.", "ssmwire/shell.", "ssmwire/portforward."}
	if smux {
		pkgs = append(pkgs, "xtaci/smux.")
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "ssmwire/ssmtest") || strings.Contains(g, "clientGoroutines") || strings.Contains(g, "testing.tRunner") {
			continue
		}
		for _, pkg := range pkgs {
			if strings.Contains(g, pkg) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// waitGoroutines waits up to a few seconds for the client goroutines to end and fails t if they do not.
// Some end just after Close returns (the shell's stdin pump, see package shell), so this polls rather than
// checking once.
func waitGoroutines(t testing.TB, smux bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		g := clientGoroutines(smux)
		if len(g) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d client goroutines left running:\n%s", len(g), strings.Join(g, "\n\n"))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkGoroutines makes sure no client goroutine runs before the test (giving an earlier test's sessions, which
// may have ended without a Close that waits, up to 5 s to wind down), and none (smux included) after it and
// after every server it started is closed: call it before newServer so its cleanup runs last.
func checkGoroutines(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for g := clientGoroutines(true); len(g) != 0; g = clientGoroutines(true) {
		if time.Now().After(deadline) {
			t.Fatalf("client goroutines before the test:\n%s", strings.Join(g, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() { waitGoroutines(t, true) })
}

// startCommand starts command with the SSMWire-RunCommand document through c and returns the open session,
// closed at cleanup.
func startCommand(t testing.TB, c *ssmwire.Client, command string) *session.Session {
	t.Helper()
	doc := ssmtest.DocRunCommand
	s, err := c.StartSession(testContext(t), &ssm.StartSessionInput{
		Target:       aws.String(target),
		DocumentName: &doc,
		Parameters:   map[string][]string{"command": {command}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
