package ssmwire_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/session"
	"github.com/ssmwire/ssmwire/shell"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// countingSSM counts TerminateSession calls.
type countingSSM struct {
	ssmwire.SSMAPI
	terminates atomic.Int64
}

func (c *countingSSM) TerminateSession(ctx context.Context, in *ssm.TerminateSessionInput, opts ...func(*ssm.Options)) (*ssm.TerminateSessionOutput, error) {
	c.terminates.Add(1)
	return c.SSMAPI.TerminateSession(ctx, in, opts...)
}

// TestTerminatePolicy checks the one way a session is ended from this side: Flag TerminateSession for port
// sessions whose agent knows it, the TerminateSession API otherwise; either way the service ends the session.
func TestTerminatePolicy(t *testing.T) {
	for _, tc := range []struct {
		name, agent string
		shell       bool
		wantAPI     int64
	}{
		{"port, agent with the flag", "", false, 0},
		{"port, agent up to 2.3.722.0", "2.3.722.0", false, 1},
		{"shell", "", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, &ssmtest.Options{AgentVersion: tc.agent})
			api := &countingSSM{SSMAPI: ssm.NewFromConfig(srv.AWSConfig())}
			c := newClient(t, srv, func(cfg *ssmwire.Config) { cfg.SSM = api })
			ctx := testkit.Context(t)
			var s *ssmwire.Session
			if tc.shell {
				var err error
				s, err = c.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(target)})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.Ready(ctx); err != nil {
					t.Fatal(err)
				}
			} else {
				tun, err := c.Forward(ctx, target, ssmwire.Remote{Port: testkit.EchoServer(t)})
				if err != nil {
					t.Fatal(err)
				}
				s = tun.Session()
			}
			if err := s.Terminate(ctx); err != nil {
				t.Fatalf("Terminate = %v", err)
			}
			if n := api.terminates.Load(); n != tc.wantAPI {
				t.Errorf("TerminateSession API calls = %d, want %d", n, tc.wantAPI)
			}
			info := srv.Session(s.ID())
			select {
			case <-info.Done:
			case <-ctx.Done():
				t.Fatal("the service never ended the session")
			}
			if err := s.Wait(); err != nil {
				t.Errorf("Wait after Terminate = %v, want nil", err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("Close after Terminate = %v", err)
			}
		})
	}
}

// TestWaitExitError checks that Wait reports the remote exit status.
func TestWaitExitError(t *testing.T) {
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	s := startCommand(t, c, "exit 7")
	var ee *ssmwire.ExitError
	if err := s.Wait(); !errors.As(err, &ee) || ee.Code != 7 {
		t.Fatalf("Wait = %v, want *ExitError{7}", err)
	}
}

// TestSignalAndOutput sends SIGINT to a running command through the Session, and reads a command's output with
// Client.Output.
func TestSignalAndOutput(t *testing.T) {
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	ctx := testkit.Context(t)
	s := startCommand(t, c, "echo started; exec sleep 30")
	buf := make([]byte, 64)
	if n, err := s.Channel().ReadContext(ctx, buf); err != nil || string(buf[:n]) != "started\n" {
		t.Fatalf("first output %q, %v", buf[:n], err)
	}
	if err := s.Signal(ctx, ssmwire.SIGINT); err != nil {
		t.Fatal(err)
	}
	var ee *ssmwire.ExitError
	// The agent reports a command killed by a signal as EXIT_CODE: -1 (Go's ExitCode()).
	if err := s.Wait(); !errors.As(err, &ee) || ee.Code != -1 {
		t.Fatalf("Wait after SIGINT = %v, want exit status -1", err)
	}

	out, err := c.Output(ctx, target, ssmwire.Command{Document: ssmtest.DocRunCommand, Command: "echo one; echo two"})
	if err != nil || string(out) != "one\ntwo\n" {
		t.Errorf("Output = %q, %v", out, err)
	}
}

// TestAttachWithoutSSM attaches to a session started elsewhere with a client that has no SSM client: the
// session runs, and Close still ends it (nothing to call; the data channel is closed).
func TestAttachWithoutSSM(t *testing.T) {
	srv := newServer(t, nil)
	api := ssm.NewFromConfig(srv.AWSConfig())
	ctx := testkit.Context(t)
	doc := ssmtest.DocRunCommand
	out, err := api.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(target), DocumentName: &doc,
		Parameters: map[string][]string{"command": {"echo attached"}}})
	if err != nil {
		t.Fatal(err)
	}
	// No SSM client; only the credentials that sign the data channel's upgrade.
	c, err := ssmwire.New(&ssmwire.Config{Session: &session.Config{Credentials: srv.AWSConfig().Credentials, Region: ssmtest.DefaultRegion,
		TrustedEndpoints: []string{srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Attach(ctx, session.Info{SessionID: *out.SessionId, StreamURL: *out.StreamUrl, TokenValue: *out.TokenValue}, target)
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	if err := s.Shell(ctx, &shell.Config{Stdout: &stdout}); err != nil || stdout.String() != "attached\n" {
		t.Errorf("Shell = %v, output %q", err, stdout.String())
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
}
