//go:build linux

package ssmwire_test

import (
	"errors"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/shell"
)

// TestEscapeEndsSession types "~?" and then "~." on a pseudo-terminal during a shell session: the escapes
// are listed on the local terminal, the session is terminated on the service (TerminateSession, since the
// flag only exists for port sessions), Shell returns nil, and the terminal is back as it was.
func TestEscapeEndsSession(t *testing.T) {
	srv := newServer(t, nil)
	api := &countingSSM{SSMAPI: ssm.NewFromConfig(srv.AWSConfig())}
	c := newClient(t, srv, func(cfg *ssmwire.Config) { cfg.SSM = api })
	ctx := testkit.Context(t)

	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 33, Cols: 111}); err != nil {
		t.Fatal(err)
	}
	before := ttyState(t, tty)
	screen := new(testkit.Buffer)
	go io.Copy(screen, ptmx)

	s, err := c.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(target)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	done := make(chan error, 1)
	go func() {
		done <- s.Shell(ctx, &shell.Config{Stdin: tty, Stdout: tty, Stderr: tty, Terminal: true})
	}()

	io.WriteString(ptmx, "stty size\r")
	screen.WaitFor(t, "33 111") // the size went out at the start
	raw := ttyState(t, tty)
	if raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
		t.Errorf("terminal not raw during the session: lflag %#x", raw.Lflag)
	}
	io.WriteString(ptmx, "~?")
	screen.WaitFor(t, "Supported escape sequences")
	io.WriteString(ptmx, "~.")
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shell after ~. = %v, want nil", err)
		}
	case <-ctx.Done():
		t.Fatal("~. did not end the session")
	}
	if n := api.terminates.Load(); n != 1 {
		t.Errorf("TerminateSession calls = %d, want 1", n)
	}
	select {
	case <-srv.Session(s.ID()).Done:
	case <-ctx.Done():
		t.Fatal("the service never ended the session")
	}
	after := ttyState(t, tty)
	if after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag {
		t.Errorf("terminal not restored: before %+v, after %+v", before, after)
	}
}

func ttyState(t testing.TB, f *os.File) *unix.Termios {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio
}

// TestSignalRestoresTerminal delivers SIGTERM during a shell session on a pseudo-terminal: the terminal is
// restored, the session ended on the service, and Shell reports the signal.
func TestSignalRestoresTerminal(t *testing.T) {
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	ctx := testkit.Context(t)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	before := ttyState(t, tty)
	screen := new(testkit.Buffer)
	go io.Copy(screen, ptmx)

	s, err := c.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(target)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	caught := make(chan chan<- os.Signal, 1)
	done := make(chan error, 1)
	go func() {
		done <- s.Shell(ctx, &shell.Config{Stdin: tty, Stdout: tty, Terminal: true,
			Notify: func(c chan<- os.Signal, sig ...os.Signal) {
				for _, sg := range sig {
					if sg == syscall.SIGTERM {
						caught <- c
					}
				}
			},
			StopNotify: func(chan<- os.Signal) {},
		})
	}()
	io.WriteString(ptmx, "echo ready-$((20+1))\r")
	screen.WaitFor(t, "ready-21")
	(<-caught) <- syscall.SIGTERM
	select {
	case err := <-done:
		if !errors.Is(err, shell.ErrSignal) {
			t.Errorf("Shell = %v, want shell.ErrSignal", err)
		}
	case <-ctx.Done():
		t.Fatal("SIGTERM did not end the session")
	}
	if after := ttyState(t, tty); after.Lflag != before.Lflag || after.Iflag != before.Iflag {
		t.Errorf("terminal not restored: before %+v, after %+v", before, after)
	}
	select {
	case <-srv.Session(s.ID()).Done:
	case <-ctx.Done():
		t.Fatal("the service never ended the session")
	}
}
