//go:build unix

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TmuxOptions says what StartTmux runs.
type TmuxOptions struct {
	// Command is the command line bash runs in the window, e.g. "sh" or
	// "aws ssm start-session --target i-0123456789abcdef0".
	Command string
	// Cols and Rows are the window size; zero means 80x24.
	Cols, Rows int
	// Env is the environment of the tmux server and so of Command; nil means
	// os.Environ(). TERM is set to xterm-256color unless Env sets it.
	Env []string
	// Dir is the working directory of Command; "" means a temporary one.
	Dir string
}

// Tmux is a detached tmux server with its own socket, running one window.
// Its methods fail the test on error and must be called from the test
// goroutine.
type Tmux struct {
	t      testing.TB
	bin    string
	socket string
	target string
	status string // file the wrapper writes the command's exit status to
}

// StartTmux starts a detached tmux server on a private socket running
// opts.Command in a window of the given size. The server is killed when the
// test ends. The window stays open after the command exits so that its last
// screen can still be captured (see Dead).
func StartTmux(t testing.TB, opts TmuxOptions) *Tmux {
	t.Helper()
	bin := RequireProgram(t, "tmux")
	if opts.Cols == 0 {
		opts.Cols = 80
	}
	if opts.Rows == 0 {
		opts.Rows = 24
	}
	// A short private directory: unix socket paths are limited to ~100
	// bytes, and t.TempDir is named after the (possibly long) test name.
	dir, err := os.MkdirTemp("", "e2e-tmux-")
	if err != nil {
		t.Fatalf("e2e: tmux: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// remain-on-exit keeps a window whose command has exited, so its last
	// screen can still be captured. (No window-size option here: tmux 3.3
	// exits at start with window-size manual; resize-window sets it.)
	conf := filepath.Join(dir, "tmux.conf")
	if err := os.WriteFile(conf, []byte("set-option -g remain-on-exit on\nset-option -g history-limit 10000\n"), 0o600); err != nil {
		t.Fatalf("e2e: tmux: %v", err)
	}
	if opts.Dir == "" {
		opts.Dir = dir
	}
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	hasTerm := false
	for _, kv := range env {
		if strings.HasPrefix(kv, "TERM=") {
			hasTerm = true
		}
	}
	if !hasTerm {
		env = append(env[:len(env):len(env)], "TERM=xterm-256color")
	}
	// A tmux started from inside tmux would otherwise talk to the outer server.
	env = append(env[:len(env):len(env)], "TMUX=")

	tm := &Tmux{t: t, bin: bin, socket: filepath.Join(dir, "tmux.sock"), target: "e2e:0.0",
		status: filepath.Join(dir, "status")}
	// tmux 3.3 does not always record a dead pane's exit status (it can
	// see the pty's EOF first and never fill it in), so a bash wrapper
	// writes it to a file. A non-interactive bash in the foreground
	// group survives a Ctrl-C that its child handles or ignores.
	bash := RequireProgram(t, "bash")
	wrapped := "exec " + ShellQuote(bash) + " -c " + ShellQuote(opts.Command+"\necho $? > "+ShellQuote(tm.status+".tmp")+" && mv "+ShellQuote(tm.status+".tmp")+" "+ShellQuote(tm.status))
	cmd := exec.Command(bin, "-S", tm.socket, "-f", conf,
		"new-session", "-d", "-s", "e2e", "-c", opts.Dir,
		"-x", strconv.Itoa(opts.Cols), "-y", strconv.Itoa(opts.Rows),
		wrapped)
	cmd.Env = env
	cmd.Dir = opts.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("e2e: tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(bin, "-S", tm.socket, "kill-server").Run() })
	return tm
}

// run runs a tmux subcommand against this server and returns its stdout.
func (tm *Tmux) run(args ...string) string {
	tm.t.Helper()
	out, err := tm.command(args...)
	if err != nil {
		tm.t.Fatalf("e2e: tmux %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func (tm *Tmux) command(args ...string) (string, error) {
	cmd := exec.Command(tm.bin, append([]string{"-S", tm.socket}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// SendKeys sends keys to the window with tmux send-keys: each argument is a
// tmux key name ("Enter", "C-c", "Up") or, when it is not one, literal text
// ("echo hi").
func (tm *Tmux) SendKeys(keys ...string) {
	tm.t.Helper()
	tm.run(append([]string{"send-keys", "-t", tm.target}, keys...)...)
}

// Type sends text literally, never as key names.
func (tm *Tmux) Type(text string) {
	tm.t.Helper()
	tm.run("send-keys", "-t", tm.target, "-l", text)
}

// Capture returns the visible screen and the scrollback, wrapped lines
// joined, trailing spaces and blank lines trimmed.
func (tm *Tmux) Capture() string {
	tm.t.Helper()
	screen := tm.run("capture-pane", "-p", "-J", "-S", "-", "-t", tm.target)
	return strings.TrimRight(screen, "\n") + "\n"
}

// WaitFor polls the screen until it contains substr and returns that screen;
// after timeout it fails the test, showing the last screen.
func (tm *Tmux) WaitFor(substr string, timeout time.Duration) string {
	tm.t.Helper()
	return tm.WaitForFunc(fmt.Sprintf("%q", substr), timeout, func(screen string) bool {
		return strings.Contains(screen, substr)
	})
}

// WaitForFunc polls the screen until ok(screen) is true and returns that
// screen; after timeout it fails the test, naming what, with the last screen.
func (tm *Tmux) WaitForFunc(what string, timeout time.Duration, ok func(screen string) bool) string {
	tm.t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		screen := tm.Capture()
		if ok(screen) {
			return screen
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("e2e: tmux: no %s on screen after %v; screen:\n%s", what, timeout, screen)
		}
		<-tick.C
	}
}

// Resize sets the window to cols x rows, as a terminal emulator resizing
// would; the program in it gets SIGWINCH.
func (tm *Tmux) Resize(cols, rows int) {
	tm.t.Helper()
	tm.run("resize-window", "-t", "e2e:0", "-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows))
}

// Dead reports whether the command in the window has exited, and its exit
// status if so (128+n when signal n killed it, as bash reports it).
func (tm *Tmux) Dead() (dead bool, status int) {
	tm.t.Helper()
	b, err := os.ReadFile(tm.status)
	if err != nil {
		return false, 0
	}
	status, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		// Written but not yet flushed; not done yet.
		return false, 0
	}
	return true, status
}

// WaitExit waits until the command in the window has exited and returns its
// exit status; after timeout it fails the test, showing the screen.
func (tm *Tmux) WaitExit(timeout time.Duration) int {
	tm.t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if dead, status := tm.Dead(); dead {
			return status
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("e2e: tmux: command still running after %v; screen:\n%s", timeout, tm.Capture())
		}
		<-tick.C
	}
}
