package ssmwire_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/session"
	"github.com/ssmwire/ssmwire/ssmtest"
)

const secretToken = "SECRET-TOKEN-must-not-leak"

// fakeSSM answers StartSession with a fixed output and records TerminateSession calls.
type fakeSSM struct {
	out *ssm.StartSessionOutput
	err error

	mu         sync.Mutex
	started    []*ssm.StartSessionInput
	terminated []string
}

func (f *fakeSSM) StartSession(_ context.Context, in *ssm.StartSessionInput, _ ...func(*ssm.Options)) (*ssm.StartSessionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, in)
	return f.out, f.err
}

func (f *fakeSSM) ResumeSession(context.Context, *ssm.ResumeSessionInput, ...func(*ssm.Options)) (*ssm.ResumeSessionOutput, error) {
	return nil, errors.New("fake: no resume")
}

func (f *fakeSSM) TerminateSession(_ context.Context, in *ssm.TerminateSessionInput, _ ...func(*ssm.Options)) (*ssm.TerminateSessionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.terminated = append(f.terminated, aws.ToString(in.SessionId))
	return &ssm.TerminateSessionOutput{SessionId: in.SessionId}, nil
}

func TestStartSessionRequiresSSM(t *testing.T) {
	c, err := ssmwire.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartSession(context.Background(), &ssm.StartSessionInput{Target: aws.String("i-0")}); !errors.Is(err, ssmwire.ErrNoSSM) {
		t.Errorf("StartSession without SSM = %v, want ErrNoSSM", err)
	}
	if _, err := ssmwire.New(&ssmwire.Config{Session: &session.Config{Window: 10, MaxPayload: 100}}); err == nil {
		t.Error("New accepted a window smaller than a payload")
	}
}

func TestStartSessionAPIError(t *testing.T) {
	f := &fakeSSM{err: errors.New("TargetNotConnected: i-0 is not connected")}
	c, _ := ssmwire.New(&ssmwire.Config{SSM: f})
	_, err := c.StartSession(context.Background(), &ssm.StartSessionInput{Target: aws.String("i-0")})
	if err == nil || !errors.Is(err, f.err) || !strings.Contains(err.Error(), "i-0") {
		t.Errorf("StartSession = %v", err)
	}
	if _, err := c.StartSession(context.Background(), &ssm.StartSessionInput{}); err == nil {
		t.Error("StartSession without a target succeeded")
	}
}

// TestOpenFailureTerminates checks that a session whose data channel cannot be opened is terminated, and that
// neither the error nor the log mention the token.
func TestOpenFailureTerminates(t *testing.T) {
	checkGoroutines(t)
	f := &fakeSSM{out: &ssm.StartSessionOutput{
		SessionId:  aws.String("sess-1"),
		StreamUrl:  aws.String("ws://127.0.0.1:1/v1/data-channel/sess-1"),
		TokenValue: aws.String(secretToken),
	}}
	var logs bytes.Buffer
	var mu sync.Mutex
	c, _ := ssmwire.New(&ssmwire.Config{SSM: f, Logger: slog.New(slog.NewTextHandler(&lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	_, err := c.StartSession(testkit.Context(t), &ssm.StartSessionInput{Target: aws.String("i-0")})
	if err == nil {
		t.Fatal("StartSession succeeded against a closed port")
	}
	if len(f.terminated) != 1 || f.terminated[0] != "sess-1" {
		t.Errorf("TerminateSession calls %v, want [sess-1]", f.terminated)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(err.Error(), secretToken) || strings.Contains(logs.String(), secretToken) {
		t.Errorf("token leaked: err %q, logs %q", err, logs.String())
	}
}

func TestIncompleteStartSessionOutput(t *testing.T) {
	f := &fakeSSM{out: &ssm.StartSessionOutput{SessionId: aws.String("sess-2"), TokenValue: aws.String(secretToken)}}
	c, _ := ssmwire.New(&ssmwire.Config{SSM: f})
	_, err := c.StartSession(context.Background(), &ssm.StartSessionInput{Target: aws.String("i-0")})
	if err == nil || strings.Contains(err.Error(), secretToken) {
		t.Fatalf("StartSession = %v", err)
	}
	if len(f.terminated) != 1 {
		t.Errorf("TerminateSession calls %v, want [sess-2]", f.terminated)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestRunDefaultDocument(t *testing.T) {
	checkGoroutines(t)
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)

	var out bytes.Buffer
	if err := c.Run(testkit.Context(t), target, ssmwire.Command{Command: "echo one; echo two >&2; exit 4", Stdout: &out}); err != nil {
		t.Fatalf("Run = %v (AWS-StartNonInteractiveCommand reports no exit status)", err)
	}
	if got := out.String(); !strings.Contains(got, "one") || !strings.Contains(got, "two") {
		t.Errorf("output %q, want both streams on stdout", got)
	}
	ids := srv.SessionIDs()
	if len(ids) != 1 || srv.Session(ids[0]).DocumentName != ssmwire.DefaultCommandDocument {
		t.Errorf("sessions %v", ids)
	}
	waitGoroutines(t, false)
}

func TestRunExitCodes(t *testing.T) {
	checkGoroutines(t)
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	for _, code := range []int{0, 1, 42} {
		var stdout, stderr bytes.Buffer
		err := c.Run(testkit.Context(t), target, ssmwire.Command{
			Document: ssmtest.DocRunCommand,
			Command:  "echo out; echo err >&2; exit " + strconv.Itoa(code),
			Stdout:   &stdout,
			Stderr:   &stderr,
		})
		var ee *ssmwire.ExitError
		switch {
		case code == 0 && err != nil:
			t.Errorf("exit 0: Run = %v", err)
		case code != 0 && (!errors.As(err, &ee) || ee.Code != code):
			t.Errorf("exit %d: Run = %v", code, err)
		}
		if stdout.String() != "out\n" || stderr.String() != "err\n" {
			t.Errorf("exit %d: stdout %q, stderr %q", code, stdout.String(), stderr.String())
		}
	}
	waitGoroutines(t, false)
}

// TestRunCancel checks that cancelling Run's context terminates the remote command's session.
func TestRunCancel(t *testing.T) {
	checkGoroutines(t)
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	ctx, cancel := context.WithCancel(testkit.Context(t))
	started := make(chan struct{})
	w := &notifyWriter{seen: started}
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, target, ssmwire.Command{Document: ssmtest.DocRunCommand, Command: "echo started; sleep 60", Stdout: w})
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	waitEnded(t, srv, srv.SessionIDs()[0])
	waitGoroutines(t, false)
}

// notifyWriter closes seen on the first write.
type notifyWriter struct {
	once sync.Once
	seen chan struct{}
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.seen) })
	return len(p), nil
}

func TestRunUnknownTarget(t *testing.T) {
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	err := c.Run(testkit.Context(t), "i-00000000000000000", ssmwire.Command{Command: "true"})
	if err == nil || !strings.Contains(err.Error(), "TargetNotConnected") {
		t.Fatalf("Run = %v, want TargetNotConnected", err)
	}
}

func TestAttachOwnStartSession(t *testing.T) {
	checkGoroutines(t)
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	ctx := testkit.Context(t)
	api := ssm.NewFromConfig(srv.AWSConfig())
	doc := ssmtest.DocRunCommand
	out, err := api.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(target), DocumentName: &doc,
		Parameters: map[string][]string{"command": {"echo own"}}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Attach(ctx, session.Info{SessionID: *out.SessionId, StreamURL: *out.StreamUrl, TokenValue: *out.TokenValue}, target)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, err := io.ReadAll(s.Channel())
	if err != nil || string(b) != "own\n" {
		t.Errorf("output %q, %v", b, err)
	}
	if err := s.Wait(); err != nil {
		t.Errorf("Wait = %v", err)
	}
	s.Close()
	waitGoroutines(t, false)
}

// TestRunInterrupt sends Ctrl-C on a command's stdin: the agent turns it into SIGINT on the command.
func TestRunInterrupt(t *testing.T) {
	checkGoroutines(t)
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	in, inw := io.Pipe()
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- c.Run(testkit.Context(t), target, ssmwire.Command{
			Document: ssmtest.DocRunCommand,
			// exec: a SIGINT that reaches sh after "started" but before a forked sleep exists is lost and
			// leaves sleep running (measured without ssmwire: 15 of 200 tries); with exec there is no window.
			Command: "echo started; exec sleep 30",
			Stdin:   in,
			Stdout:  &notifyWriter{seen: started},
		})
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	}
	inw.Write([]byte{0x03})
	err := <-done
	inw.Close()
	var ee *ssmwire.ExitError
	// The agent reports a command killed by a signal as EXIT_CODE: -1 (Go's ExitCode()).
	if !errors.As(err, &ee) || ee.Code != -1 {
		t.Fatalf("Run = %v, want exit status -1 (killed by SIGINT)", err)
	}
	waitGoroutines(t, false)
}

// tokenSSM records the tokens StartSession hands out.
type tokenSSM struct {
	ssmwire.SSMAPI
	mu     sync.Mutex
	tokens []string
}

func (s *tokenSSM) StartSession(ctx context.Context, in *ssm.StartSessionInput, opts ...func(*ssm.Options)) (*ssm.StartSessionOutput, error) {
	out, err := s.SSMAPI.StartSession(ctx, in, opts...)
	if err == nil {
		s.mu.Lock()
		s.tokens = append(s.tokens, aws.ToString(out.TokenValue))
		s.mu.Unlock()
	}
	return out, err
}

// TestTokenNeverLogged runs successful and failing sessions with a debug logger and checks that no token
// appears in the log or in an error.
func TestTokenNeverLogged(t *testing.T) {
	srv := newServer(t, &ssmtest.Options{KMSKeyID: testKeyID})
	var mu sync.Mutex
	var logs bytes.Buffer
	rec := &tokenSSM{}
	c := newClient(t, srv, func(cfg *ssmwire.Config) {
		rec.SSMAPI = cfg.SSM
		cfg.SSM = rec
		cfg.Logger = slog.New(slog.NewTextHandler(&lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ctx := testkit.Context(t)
	var errs []error
	errs = append(errs, c.Run(ctx, target, ssmwire.Command{Document: ssmtest.DocRunCommand, Command: "exit 2"}))
	conn, err := c.Dial(ctx, target, ssmwire.Remote{Port: closedPort(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Read(make([]byte, 1))
	errs = append(errs, err, conn.Close())

	bad := newClient(t, srv, func(cfg *ssmwire.Config) {
		cfg.SSM = rec
		cfg.KMS = failingKMS{}
		cfg.Logger = slog.New(slog.NewTextHandler(&lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	errs = append(errs, bad.Run(ctx, target, ssmwire.Command{Document: ssmtest.DocRunCommand, Command: "true"}))

	mu.Lock()
	defer mu.Unlock()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.tokens) != 3 || logs.Len() == 0 {
		t.Fatalf("%d tokens, %d bytes of log", len(rec.tokens), logs.Len())
	}
	for _, tok := range rec.tokens {
		if tok == "" {
			t.Fatal("empty token")
		}
		if strings.Contains(logs.String(), tok) {
			t.Errorf("token in the log")
		}
		for _, err := range errs {
			if err != nil && strings.Contains(err.Error(), tok) {
				t.Errorf("token in error %q", err)
			}
		}
	}
}

// TestRunShellSemantics: Run gives commands the meaning sh -c gives them, although the agent runs no shell
// itself (it splits the command line into words and executes them); Raw gets the agent's own semantics.
func TestRunShellSemantics(t *testing.T) {
	checkGoroutines(t)
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	for _, command := range []string{
		"echo a; exit 3",
		`printf '%s|' "it's" 'a "b"' \x "\$HOME" 'back\slash'; echo`,
		"echo $((1+2)) # a comment",
		"echo one\necho two",
		`x='  spaced  '; echo "[$x]" >&2`,
		"echo '#' \"#\" x#y",
	} {
		local := exec.Command("sh", "-c", command)
		var wantOut, wantErr bytes.Buffer
		local.Stdout, local.Stderr = &wantOut, &wantErr
		wantCode := 0
		if err := local.Run(); err != nil {
			wantCode = local.ProcessState.ExitCode()
		}
		var stdout, stderr bytes.Buffer
		err := c.Run(testkit.Context(t), target, ssmwire.Command{Document: ssmtest.DocRunCommand, Command: command,
			Stdout: &stdout, Stderr: &stderr})
		code := 0
		var ee *ssmwire.ExitError
		if errors.As(err, &ee) {
			code = ee.Code
		} else if err != nil {
			t.Fatalf("%q: Run = %v", command, err)
		}
		if code != wantCode || stdout.String() != wantOut.String() || stderr.String() != wantErr.String() {
			t.Errorf("%q: code %d stdout %q stderr %q; sh -c gives %d %q %q", command, code, stdout.String(),
				stderr.String(), wantCode, wantOut.String(), wantErr.String())
		}
	}
	var stdout bytes.Buffer
	err := c.Run(testkit.Context(t), target, ssmwire.Command{Document: ssmtest.DocRunCommand, Raw: true,
		Command: "echo a; exit 3", Stdout: &stdout})
	if err != nil || stdout.String() != "a; exit 3\n" {
		t.Errorf("Raw: Run = %v, stdout %q; want the agent's word splitting", err, stdout.String())
	}
	waitGoroutines(t, false)
}

func TestShellCommand(t *testing.T) {
	for in, want := range map[string]string{
		"echo a; exit 3": `sh -c 'echo a; exit 3'`,
		"it's":           `sh -c 'it'\''s'`,
		"":               `sh -c ''`,
	} {
		if got := ssmwire.ShellCommand(in); got != want {
			t.Errorf("ShellCommand(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRunExitCodeWrap: with ExitCodeWrap the exit code comes back from documents whose agent reports none
// (combined output after the command, or a pseudo-terminal), and the sentinel line never reaches Stdout.
func TestRunExitCodeWrap(t *testing.T) {
	checkGoroutines(t)
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	for _, tc := range []struct {
		doc, command, stdout, stderr string
		code                         int
	}{
		{ssmwire.DefaultCommandDocument, "echo out; echo err >&2; exit 3", "out\nerr\n", "", 3},
		{ssmwire.DefaultCommandDocument, "printf 'no newline'", "no newline", "", 0},
		{ssmtest.DocInteractiveCommand, "echo on-a-pty; exit 4", "on-a-pty\r\n", "", 4},
		{ssmtest.DocRunCommand, "echo out; echo err >&2; exit 5", "out\n", "err\n", 5},
	} {
		var stdout, stderr bytes.Buffer
		err := c.Run(testkit.Context(t), target, ssmwire.Command{Document: tc.doc, Command: tc.command,
			ExitCode: ssmwire.ExitCodeWrap, Stdout: &stdout, Stderr: &stderr})
		var ee *ssmwire.ExitError
		switch {
		case tc.code == 0 && err != nil, tc.code != 0 && (!errors.As(err, &ee) || ee.Code != tc.code):
			t.Errorf("%s %q: Run = %v, want exit code %d", tc.doc, tc.command, err, tc.code)
		case stdout.String() != tc.stdout || stderr.String() != tc.stderr:
			t.Errorf("%s %q: stdout %q stderr %q, want %q %q", tc.doc, tc.command, stdout.String(), stderr.String(), tc.stdout, tc.stderr)
		}
	}
	waitGoroutines(t, false)
}

// TestRunExitCodeWrapKilled: a command whose wrapper is killed never prints the sentinel: Run says so.
func TestRunExitCodeWrapKilled(t *testing.T) {
	checkGoroutines(t)
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	var stdout bytes.Buffer
	err := c.Run(testkit.Context(t), target, ssmwire.Command{Command: "echo before; kill -9 $PPID",
		ExitCode: ssmwire.ExitCodeWrap, Stdout: &stdout})
	if !errors.Is(err, ssmwire.ErrNoExitCode) || stdout.String() != "before\n" {
		t.Fatalf("Run = %v, stdout %q", err, stdout.String())
	}
	if err := c.Run(testkit.Context(t), target, ssmwire.Command{Command: "true", Raw: true, ExitCode: ssmwire.ExitCodeWrap}); err == nil {
		t.Fatal("ExitCodeWrap with Raw accepted")
	}
	waitGoroutines(t, false)
}
