package ssmwire_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/internal/testkit/clientkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

const target = ssmtest.DefaultInstanceID

// The set-up shared with pool's tests (internal/testkit/clientkit).
var (
	newServer       = clientkit.NewServer
	newClient       = clientkit.NewClient
	waitGoroutines  = clientkit.WaitGoroutines
	checkGoroutines = clientkit.CheckGoroutines
)

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
