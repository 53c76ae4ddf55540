//go:build e2e

package realtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/tools/e2e"
)

// TestShellInTmux runs `aws ssm start-session` in a terminal (tmux), as a
// person would: types commands, resizes the terminal, interrupts a command
// with Ctrl-C, and exits.
func TestShellInTmux(t *testing.T) {
	t.Parallel()
	_, a := newAWS(t)
	tm := e2e.StartTmux(t, e2e.TmuxOptions{
		Command: a.CommandLine("ssm", "start-session", "--target", instanceID),
		Env:     a.Env,
		Cols:    100,
		Rows:    30,
	})
	tm.WaitFor("Starting session with SessionId", 60*time.Second)

	// A prompt of our own that the echo of the typed line does not contain.
	const prompt = "rt-prompt> "
	prompts := func(s string) int { return strings.Count(s, prompt) }
	tm.Type(`PS1='rt-''prompt> '`)
	tm.SendKeys("Enter")
	tm.WaitFor(prompt, 30*time.Second)

	// run types line and waits for the wanted output and the next prompt.
	run := func(line, want string) string {
		t.Helper()
		n := prompts(tm.Capture())
		tm.Type(line)
		tm.SendKeys("Enter")
		return tm.WaitForFunc(fmt.Sprintf("output %q and a new prompt", want), 30*time.Second, func(s string) bool {
			return prompts(s) > n && strings.Contains(s, want)
		})
	}

	run("echo $((6*7))", "\n42\n")
	run("stty size", "\n30 100\n")

	// The plugin notices the new size (it polls every 500 ms, like the
	// official one) and the remote pty follows.
	tm.Resize(120, 40)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(run("stty size", "\n"), "\n40 120\n") {
		if time.Now().After(deadline) {
			t.Fatalf("remote stty size did not become 40 120 after the resize; screen:\n%s", tm.Capture())
		}
	}

	// Ctrl-C reaches the remote command: the sleep ends long before 100 s.
	// It is sent once the sleep is the remote terminal's foreground job:
	// the child shell prints "sleeping" after job control handed it the
	// terminal, then execs sleep.
	n := prompts(tm.Capture())
	tm.Type("sh -c 'echo slee''ping; exec sleep 100'")
	tm.SendKeys("Enter")
	tm.WaitFor("\nsleeping", 30*time.Second)
	tm.SendKeys("C-c")
	tm.WaitForFunc("a prompt after Ctrl-C", 30*time.Second, func(s string) bool { return prompts(s) > n })
	// The session is still usable after the interrupt.
	run("echo still-$((1+1))", "\nstill-2\n")

	tm.Type("exit")
	tm.SendKeys("Enter")
	if status := tm.WaitExit(60 * time.Second); status != 0 {
		t.Fatalf("aws ssm start-session exited %d after the remote shell exited; screen:\n%s", status, tm.Capture())
	}
}
