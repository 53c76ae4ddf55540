//go:build e2e

package realtest

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ssmwire/ssmwire/internal/tools/e2e"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// ssmwireInTmux runs `ssmwire ARGS...` against srv in a tmux window of cols x rows.
func ssmwireInTmux(t *testing.T, srv *ssmtest.Server, cols, rows int, args ...string) *e2e.Tmux {
	t.Helper()
	line := e2e.ShellQuote(e2e.BuildBinary(t, ssmwirePkg)) + " --endpoint-url " + e2e.ShellQuote(srv.URL)
	for _, a := range args {
		line += " " + e2e.ShellQuote(a)
	}
	return e2e.StartTmux(t, e2e.TmuxOptions{
		Command: line,
		Cols:    cols,
		Rows:    rows,
		Env:     fakeAWSEnv(t, "AWS_CA_BUNDLE="+srv.CAFile()),
	})
}

// statusLines returns the lines of screen that are forward status lines.
func statusLines(screen string) []string {
	var out []string
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, " → ") {
			out = append(out, l)
		}
	}
	return out
}

// TestStatusLineInTmux: `ssmwire forward` on a terminal keeps one status line, cut to the terminal's width
// and redrawn in place as counters change and as the terminal is resized; it never adds rows.
func TestStatusLineInTmux(t *testing.T) {
	t.Parallel()
	for _, cols := range []int{60, 200} {
		t.Run(fmt.Sprint(cols), func(t *testing.T) {
			srv := ssmtest.NewTLSServer(&ssmtest.Options{NoPacing: true})
			t.Cleanup(srv.Close)
			port := e2e.FreePort(t)
			tm := ssmwireInTmux(t, srv, cols, 30, "forward", instanceID, fmt.Sprintf("%d:localhost:22", port))
			fits := func(screen string, width int) bool {
				lines := statusLines(screen)
				if len(lines) != 1 {
					return false
				}
				n := utf8.RuneCountInString(lines[0])
				if width < 110 {
					return n == width-1 && strings.HasSuffix(lines[0], "…")
				}
				return n < width && strings.HasSuffix(lines[0], "↓0 B")
			}
			tm.WaitForFunc(fmt.Sprintf("one status line fitting %d columns", cols), 60*time.Second,
				func(s string) bool { return fits(s, cols) })

			// A connection changes the counters: the line is redrawn in place, still one line.
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if cols > 110 {
				tm.WaitForFunc("conns 1 on the one status line", 60*time.Second, func(s string) bool {
					return fits(s, cols) && strings.Contains(s, "conns 1 (")
				})
			}

			// The terminal changes width: the line follows at once (SIGWINCH), without leaving rows behind.
			other := 260 - cols
			tm.Resize(other, 30)
			screen := tm.WaitForFunc(fmt.Sprintf("one status line fitting %d columns after the resize", other), 60*time.Second,
				func(s string) bool { return fits(s, other) })
			if n := len(statusLines(screen)); n != 1 {
				t.Errorf("%d status lines after the resize:\n%s", n, screen)
			}
		})
	}
}

// pickerNodes are managed nodes for the picker: two share the Name tag "web".
func pickerServer(t *testing.T) *ssmtest.Server {
	srv := ssmtest.NewTLSServer(&ssmtest.Options{NoPacing: true, Instances: []ssmtest.Instance{
		{ID: "i-0aaaaaaaaaaaaaaa1", Name: "web", IPAddress: "10.0.3.7"},
		{ID: "i-0aaaaaaaaaaaaaaa2", Name: "web", IPAddress: "10.0.3.8"},
		{ID: "i-0aaaaaaaaaaaaaaa3", Name: "batch", IPAddress: "10.0.3.9"},
		{ID: "i-0aaaaaaaaaaaaaaa4", Name: "gone", PingStatus: "ConnectionLost"},
	}})
	t.Cleanup(srv.Close)
	return srv
}

// lastTarget is the target of srv's latest session, "" when none.
func lastTarget(srv *ssmtest.Server) string {
	ids := srv.SessionIDs()
	if len(ids) == 0 {
		return ""
	}
	return srv.Session(ids[len(ids)-1]).Target
}

// TestPickerNoTargetInTmux: `ssmwire shell` without TARGET on a terminal opens the picker of online nodes;
// typing filters, Enter starts the shell on the node picked.
func TestPickerNoTargetInTmux(t *testing.T) {
	t.Parallel()
	srv := pickerServer(t)
	tm := ssmwireInTmux(t, srv, 140, 30, "shell")
	screen := tm.WaitFor("Enter to pick", 60*time.Second)
	for _, want := range []string{"i-0aaaaaaaaaaaaaaa1", "i-0aaaaaaaaaaaaaaa3", "10.0.3.9", "Amazon Linux", "3.3.987.0"} {
		if !strings.Contains(screen, want) {
			t.Errorf("picker lacks %q:\n%s", want, screen)
		}
	}
	if strings.Contains(screen, "i-0aaaaaaaaaaaaaaa4") {
		t.Errorf("picker lists an offline node:\n%s", screen)
	}
	tm.Type("btch")
	tm.WaitFor("1/4", 30*time.Second)
	tm.SendKeys("Enter")
	tm.WaitFor("starting session on i-0aaaaaaaaaaaaaaa3", 60*time.Second)
	const prompt = "picked> "
	tm.Type("PS1='picked''> '")
	tm.SendKeys("Enter")
	tm.WaitFor(prompt, 60*time.Second)
	if got := lastTarget(srv); got != "i-0aaaaaaaaaaaaaaa3" {
		t.Errorf("session on %q, want i-0aaaaaaaaaaaaaaa3", got)
	}
	tm.Type("exit")
	tm.SendKeys("Enter")
	if status := tm.WaitExit(60 * time.Second); status != 0 {
		t.Errorf("exit status %d; screen:\n%s", status, tm.Capture())
	}
}

// TestPickerAmbiguousInTmux: a Name tag two nodes share opens the picker with those two; Esc cancels.
func TestPickerAmbiguousInTmux(t *testing.T) {
	t.Parallel()
	srv := pickerServer(t)
	tm := ssmwireInTmux(t, srv, 140, 30, "exec", "web", "--", "echo ran-on-$((40+2))")
	screen := tm.WaitFor(`2 managed nodes match "web"`, 60*time.Second)
	if strings.Contains(screen, "batch") {
		t.Errorf("picker lists a node that does not match:\n%s", screen)
	}
	tm.SendKeys("Down")
	tm.SendKeys("Enter")
	tm.WaitFor("ran-on-42", 60*time.Second)
	if status := tm.WaitExit(60 * time.Second); status != 0 {
		t.Errorf("exit status %d; screen:\n%s", status, tm.Capture())
	}
	if got := lastTarget(srv); got != "i-0aaaaaaaaaaaaaaa2" {
		t.Errorf("session on %q, want i-0aaaaaaaaaaaaaaa2", got)
	}

	tm = ssmwireInTmux(t, srv, 140, 30, "exec", "web", "--", "true")
	tm.WaitFor(`2 managed nodes match "web"`, 60*time.Second)
	tm.SendKeys("Escape")
	if status := tm.WaitExit(60 * time.Second); status != 255 {
		t.Errorf("exit status %d after Esc, want 255; screen:\n%s", status, tm.Capture())
	}
	if n := len(srv.SessionIDs()); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
}
