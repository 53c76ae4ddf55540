//go:build linux

package cli

import (
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/ssmwire/ssmwire/internal/testkit"
)

// TestCpProgressOnTerminal copies with standard error on a pseudo-terminal: the progress line is drawn there
// and ended with a newline; nothing goes to standard output.
func TestCpProgressOnTerminal(t *testing.T) {
	h := newHarness(t, nil)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	screen := new(testkit.Buffer)
	go io.Copy(screen, ptmx)

	data := make([]byte, 2<<20)
	rand.Read(data)
	remote, back := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(remote, "f.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	var out testkit.Buffer
	code := Main(testkit.Context(t), []string{"--endpoint-url", h.srv.URL, "cp", "ssmtest:" + filepath.Join(remote, "f.bin"), back},
		h.env, strings.NewReader(""), &out, tty)
	if code != 0 || out.String() != "" {
		t.Fatalf("code %d, stdout %q, screen %q", code, out.String(), screen.String())
	}
	screen.WaitFor(t, "2.0 MiB / 2.0 MiB  100%")
	screen.WaitFor(t, "\x1b[K\r\n") // the line is ended (the terminal turns \n into \r\n)
	if !strings.Contains(screen.String(), "MiB/s  in ") {
		t.Errorf("no rate on the final line: %q", screen.String())
	}
}
