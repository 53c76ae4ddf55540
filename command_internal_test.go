package ssmwire

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// runLocally runs line with sh -c, as a shell parses it (the agent's split gives the same words), and
// returns stdout and the exit code.
func runLocally(t *testing.T, line string) (string, int) {
	t.Helper()
	cmd := exec.Command("sh", "-c", line)
	var out bytes.Buffer
	cmd.Stdout = &out
	code := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return out.String(), code
}

func wrapperWith(command, sentinel string) *ExitCodeWrapper {
	return &ExitCodeWrapper{command: command, f: sentinelFilter{sentinel: []byte(sentinel)}}
}

// TestExitCodeWrapperFilter runs the wrapper's command line with a local sh, then feeds its output to the
// filter split at every position and byte by byte: the output comes out as the bare command's, the code as
// its exit status, also with a terminal's \r\n line ends.
func TestExitCodeWrapperFilter(t *testing.T) {
	sentinel := WrapExitCode("").f.sentinel
	for _, command := range []string{"echo a; exit 3", "printf 'no newline'", "true", "printf 'x\\n\\n'; exit 255", "printf '\\n'"} {
		wantOut, wantCode := runLocally(t, command)
		raw, code := runLocally(t, wrapperWith(command, string(sentinel)).Command())
		if code != wantCode || !bytes.Contains([]byte(raw), sentinel) {
			t.Fatalf("%q: the wrapper exits %d with %q", command, code, raw)
		}
		for _, pty := range []bool{false, true} {
			in, want := raw, wantOut
			if pty {
				in, want = strings.ReplaceAll(raw, "\n", "\r\n"), strings.ReplaceAll(wantOut, "\n", "\r\n")
			}
			var splits [][]string
			for cut := 0; cut <= len(in); cut++ {
				splits = append(splits, []string{in[:cut], in[cut:]})
			}
			var bytewise []string
			for i := range len(in) {
				bytewise = append(bytewise, in[i:i+1])
			}
			for _, pieces := range append(splits, bytewise) {
				w := wrapperWith(command, string(sentinel))
				var out bytes.Buffer
				f := w.Stdout(&out)
				for _, p := range pieces {
					if n, err := f.Write([]byte(p)); n != len(p) || err != nil {
						t.Fatalf("Write = %d, %v", n, err)
					}
					// Never more held back than the sentinel line could be.
					if len(w.f.held) > len(sentinel)+2+maxCodeLine {
						t.Fatalf("%d bytes held back", len(w.f.held))
					}
				}
				err := w.Result(nil)
				var ee *ExitError
				switch {
				case wantCode == 0 && err != nil, wantCode != 0 && (!errors.As(err, &ee) || ee.Code != wantCode):
					t.Fatalf("%q pty=%v %d pieces: Result = %v, want code %d", command, pty, len(pieces), err, wantCode)
				case out.String() != want:
					t.Fatalf("%q pty=%v %d pieces: output %q, want %q", command, pty, len(pieces), out.String(), want)
				}
			}
		}
	}
}

// TestExitCodeWrapperNoSentinel: output without the sentinel line passes unchanged (held-back bytes are
// written at the end) and the result says the exit code never came.
func TestExitCodeWrapperNoSentinel(t *testing.T) {
	w := WrapExitCode("sleep 1")
	var out bytes.Buffer
	f := w.Stdout(&out)
	s := string(w.f.sentinel)
	for _, p := range []string{"partial\n", s[:5]} {
		f.Write([]byte(p))
	}
	if out.String() != "partial" {
		t.Fatalf("written so far %q: the newline and the sentinel's start are held back", out.String())
	}
	lost := errors.New("session lost")
	err := w.Result(lost)
	if !errors.Is(err, ErrNoExitCode) || !errors.Is(err, lost) {
		t.Fatalf("Result = %v", err)
	}
	if out.String() != "partial\n"+s[:5] {
		t.Fatalf("output %q", out.String())
	}
	if err := WrapExitCode("x").Result(nil); !errors.Is(err, ErrNoExitCode) {
		t.Fatalf("Result(nil) without output = %v", err)
	}
}

// TestExitCodeWrapperSentinelsDiffer: every run has its own sentinel.
func TestExitCodeWrapperSentinelsDiffer(t *testing.T) {
	if a, b := WrapExitCode("x").Command(), WrapExitCode("x").Command(); a == b {
		t.Fatalf("two wrappers share %q", a)
	}
}
