package ssmwire_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
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
	pkgs := []string{"ssmwire/ssmwire.", "ssmwire/session.", "ssmwire/shell.", "ssmwire/portforward."}
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

// startCommand starts sh -c command with the SSMWire-RunCommand document through c and returns the open session,
// closed at cleanup.
func startCommand(t testing.TB, c *ssmwire.Client, command string) *ssmwire.Session {
	t.Helper()
	doc := ssmtest.DocRunCommand
	s, err := c.StartSession(testkit.Context(t), &ssm.StartSessionInput{
		Target:       aws.String(target),
		DocumentName: &doc,
		Parameters:   map[string][]string{"command": {ssmwire.ShellCommand(command)}}, // the agent runs no shell
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
