//go:build e2e

package realtest

import (
	"fmt"
	"net"
	"os"
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
		Env: []string{
			"HOME=" + t.TempDir(),
			"PATH=" + os.Getenv("PATH"),
			"AWS_ACCESS_KEY_ID=" + e2e.FakeAccessKeyID,
			"AWS_SECRET_ACCESS_KEY=" + e2e.FakeSecretAccessKey,
			"AWS_REGION=" + e2e.FakeRegion,
			"AWS_EC2_METADATA_DISABLED=true",
		},
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
			srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true})
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
