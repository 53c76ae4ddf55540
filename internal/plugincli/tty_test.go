//go:build linux

package plugincli

import (
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/ssmwire/ssmwire/internal/testkit"
)

// TestTerminal runs a shell session on a pseudo-terminal, as a user at a terminal would: the terminal is in
// raw mode during the session (Ctrl-C travels to the remote shell as a byte), its size is sent at the start
// and after SIGWINCH, and it is restored when the session ends.
func TestTerminal(t *testing.T) {
	srv := newServer(t)
	id, resp := startSession(t, srv, "", nil)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	before := termios(t, tty)

	screen := new(testkit.Buffer)
	go io.Copy(screen, ptmx)
	stderr := new(testkit.Buffer)
	r := newRunner(tty, tty, stderr, (&fakeEnv{}).env())
	winch := make(chan chan<- os.Signal, 1)
	r.notify = func(c chan<- os.Signal, sig ...os.Signal) {
		if len(sig) == 1 && sig[0] == syscall.SIGWINCH {
			winch <- c
		}
	}
	r.stop = func(chan<- os.Signal) {}
	done := make(chan int, 1)
	go func() { done <- r.main(testkit.Context(t), cliArgs(srv, resp)) }()

	screen.WaitFor(t, "Starting session with SessionId: "+id)
	io.WriteString(ptmx, "stty size\r")
	screen.WaitFor(t, "40 120")
	raw := termios(t, tty)
	if raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 || raw.Iflag&unix.ICRNL != 0 {
		t.Errorf("terminal not in raw mode during the session: lflag %#x iflag %#x", raw.Lflag, raw.Iflag)
	}

	// Resize, then ask until the remote terminal reports the new size.
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 20, Cols: 50}); err != nil {
		t.Fatal(err)
	}
	(<-winch) <- syscall.SIGWINCH
	askUntil(t, ptmx, screen, "stty size\r", "20 50")

	// Ctrl-C interrupts the remote sleep; the shell then runs the next command. The ^C goes once the sleep is
	// the terminal's foreground job: the child shell prints "start-2" after job control handed it the
	// terminal, then execs sleep (a ^C between the shell's fork and that hand-over would interrupt the shell
	// itself and the sleep would go on). The remote line discipline flushes typed-ahead input on ^C, so each
	// step waits for the previous one.
	io.WriteString(ptmx, "sh -c 'echo start-$((1+1)); exec sleep 30'\r")
	screen.WaitFor(t, "start-2")
	io.WriteString(ptmx, "\x03")
	screen.WaitFor(t, "^C")
	io.WriteString(ptmx, "echo after-$((40+2))\r")
	screen.WaitFor(t, "after-42")

	io.WriteString(ptmx, "exit\r")
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d; stderr %q", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the session did not end after exit")
	}
	screen.WaitFor(t, "Exiting session with sessionId: "+id)
	after := termios(t, tty)
	if after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag {
		t.Errorf("terminal not restored: before %+v, after %+v", before, after)
	}
}

func termios(t testing.TB, f *os.File) *unix.Termios {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio
}

// askUntil sends cmd until the screen shows want: the resize travels independently of the keystrokes, so the
// first answer may predate it.
func askUntil(t testing.TB, w io.Writer, screen *testkit.Buffer, cmd, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		io.WriteString(w, cmd)
		timer := time.NewTimer(300 * time.Millisecond)
	wait:
		for {
			changed := screen.Changed() // before looking, so that no write is missed
			if strings.Contains(screen.String(), want) {
				timer.Stop()
				return
			}
			select {
			case <-changed:
			case <-timer.C:
				break wait
			}
		}
	}
	t.Fatalf("screen %q never showed %q", screen.String(), want)
}
