package shell_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/session"
	"github.com/ssmwire/ssmwire/shell"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// start starts an ssmtest server, calls StartSession with doc and params, and opens the session.
func start(t testing.TB, doc string, params map[string][]string) *session.Channel {
	t.Helper()
	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true})
	t.Cleanup(srv.Close)
	client := ssm.NewFromConfig(srv.AWSConfig())
	in := &ssm.StartSessionInput{Target: aws.String(ssmtest.DefaultInstanceID), Parameters: params}
	if doc != "" {
		in.DocumentName = aws.String(doc)
	}
	out, err := client.StartSession(testkit.Context(t), in)
	if err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	s, err := session.Open(testkit.Context(t), session.Info{
		SessionID: *out.SessionId, StreamURL: *out.StreamUrl, TokenValue: *out.TokenValue,
	}, &session.Config{SSM: client, Credentials: client.Options().Credentials, Region: client.Options().Region,
		TrustedEndpoints: []string{aws.ToString(client.Options().BaseEndpoint)}})
	if err != nil {
		t.Fatalf("session.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestShellPipedStdin(t *testing.T) {
	s := start(t, "", nil)
	var stdout, stderr testkit.Buffer
	err := shell.Run(testkit.Context(t), s, &shell.Config{
		Stdin:  strings.NewReader("echo hel''lo; exit 3\n"),
		Stdout: &stdout,
		Stderr: &stderr,
	})
	// A pty session carries no exit code: the shell's status 3 is not visible to the client.
	if err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if !strings.Contains(stdout.String(), "hello") {
		t.Errorf("stdout = %q, want it to contain hello", stdout.String())
	}
	if stderr.String() != "" {
		t.Errorf("stderr = %q, want nothing", stderr.String())
	}
}

func TestShellInitialSizeAndResize(t *testing.T) {
	s := start(t, "", nil)
	stdinR, stdinW := io.Pipe()
	t.Cleanup(func() { stdinW.Close() })
	resize := make(chan shell.Size, 1)
	var stdout testkit.Buffer
	done := make(chan error, 1)
	go func() {
		done <- shell.Run(testkit.Context(t), s, &shell.Config{
			Stdin: stdinR, Stdout: &stdout, Resize: resize,
			InitialSize: &shell.Size{Cols: 123, Rows: 45},
		})
	}()
	if _, err := io.WriteString(stdinW, "stty size\n"); err != nil {
		t.Fatal(err)
	}
	stdout.WaitFor(t, "45 123")
	resize <- shell.Size{Cols: 99, Rows: 33}
	// The size and the keystrokes travel independently: ask until the remote terminal reports the new size.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "33 99") {
		if time.Now().After(deadline) {
			t.Fatalf("stdout = %q, never saw the resized terminal", stdout.String())
		}
		if _, err := io.WriteString(stdinW, "stty size\n"); err != nil {
			t.Fatal(err)
		}
		waitChange(&stdout, 300*time.Millisecond)
	}
	io.WriteString(stdinW, "exit\n")
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func TestRunCommandExitCodeAndStderr(t *testing.T) {
	s := start(t, ssmtest.DocRunCommand, map[string][]string{"command": {"sh -c 'echo out; echo err >&2; exit 3'"}})
	var stdout, stderr testkit.Buffer
	if err := shell.Run(testkit.Context(t), s, &shell.Config{Stdout: &stdout, Stderr: &stderr}); err != nil {
		t.Fatalf("Run = %v, want nil (the verdict is the owner's)", err)
	}
	if code, ok := s.ExitCode(); !ok || code != 3 {
		t.Fatalf("ExitCode = %d, %v; want 3, true", code, ok)
	}
	if got := stdout.String(); got != "out\n" {
		t.Errorf("stdout = %q, want %q", got, "out\n")
	}
	if got := stderr.String(); got != "err\n" {
		t.Errorf("stderr = %q, want %q", got, "err\n")
	}
}

func TestRunCommandSuccess(t *testing.T) {
	s := start(t, ssmtest.DocRunCommand, map[string][]string{"command": {"echo ok"}})
	var stdout testkit.Buffer
	if err := shell.Run(testkit.Context(t), s, &shell.Config{Stdout: &stdout}); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if got := stdout.String(); got != "ok\n" {
		t.Errorf("stdout = %q", got)
	}
}

func TestCancelReturnsPromptly(t *testing.T) {
	s := start(t, "", nil)
	stdinR, stdinW := io.Pipe() // never written: the pump stays blocked in Read
	t.Cleanup(func() { stdinW.Close() })
	ctx, cancel := context.WithCancel(testkit.Context(t))
	var stdout testkit.Buffer
	done := make(chan error, 1)
	go func() { done <- shell.Run(ctx, s, &shell.Config{Stdin: stdinR, Stdout: &stdout}) }()
	if _, err := s.Ready(testkit.Context(t)); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestSessionClosedLocally(t *testing.T) {
	s := start(t, "", nil)
	done := make(chan error, 1)
	go func() { done <- shell.Run(testkit.Context(t), s, nil) }()
	if _, err := s.Ready(testkit.Context(t)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		if err := s.Err(); !errors.Is(err, session.ErrClosed) {
			t.Fatalf("Err = %v, want session.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Close")
	}
}

// waitChange waits for the next write to b, or for d.
func waitChange(b *testkit.Buffer, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-b.Changed():
	case <-t.C:
	}
}

func TestStdinEOFDoesNotEndSession(t *testing.T) {
	s := start(t, ssmtest.DocRunCommand, map[string][]string{"command": {"sh -c 'sleep 0.3; echo done'"}})
	var stdout testkit.Buffer
	err := shell.Run(testkit.Context(t), s, &shell.Config{Stdin: strings.NewReader(""), Stdout: &stdout})
	if err != nil || stdout.String() != "done\n" {
		t.Fatalf("Run = %v, stdout %q; want nil, %q", err, stdout.String(), "done\n")
	}
}
