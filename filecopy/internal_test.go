package filecopy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSplitRanges(t *testing.T) {
	for _, c := range []struct {
		size int64
		n    int
		min  int64
		want []byteRange
	}{
		{0, 4, 1, nil},
		{10, 1, 1, []byteRange{{0, 10}}},
		{10, 3, 1, []byteRange{{0, 4}, {4, 3}, {7, 3}}},
		{10, 4, 5, []byteRange{{0, 5}, {5, 5}}},        // at least min per range
		{10, 4, 100, []byteRange{{0, 10}}},             // smaller than one range
		{3, 8, 1, []byteRange{{0, 1}, {1, 1}, {2, 1}}}, // never an empty range
	} {
		got := splitRanges(c.size, c.n, c.min)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("splitRanges(%d, %d, %d) = %v, want %v", c.size, c.n, c.min, got, c.want)
		}
	}
}

func TestRemotePath(t *testing.T) {
	for in, want := range map[string]string{
		"~": ".", "~/": ".", "~/a/b": "a/b", "~//a": "a", "/etc/hosts": "/etc/hosts", "rel": "rel", "~user/x": "~user/x",
	} {
		if got := remotePath(in); got != want {
			t.Errorf("remotePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRemoteError(t *testing.T) {
	err := remoteError("copy from", "i-1", "/x", "perm /x: Permission denied")
	var ce *Error
	if !errors.As(err, &ce) || !errors.Is(err, fs.ErrPermission) || ce.Detail != "/x: Permission denied" {
		t.Fatalf("remoteError = %#v", err)
	}
	if got, want := err.Error(), "filecopy: copy from i-1:/x: permission denied: /x: Permission denied"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if err := remoteError("copy to", "i-1", "/x", "odd thing"); !errors.Is(err, ErrRemoteFailed) {
		t.Errorf("unknown kind: %v, want ErrRemoteFailed", err)
	}
}

func TestMarkerLines(t *testing.T) {
	var got []string
	m := &markerLines{line: func(b []byte) error {
		got = append(got, string(b))
		if string(b) == "stop" {
			return errors.New("stopped")
		}
		return nil
	}}
	for _, p := range []string{"a\r", "\nb", "c\n\nst", "op\nafter\n", "cut"} {
		if n, err := m.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if err := m.finish(); err == nil || err.Error() != "stopped" {
		t.Errorf("finish = %v", err)
	}
	if want := []string{"a", "bc", "", "stop"}; !reflect.DeepEqual(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
}

func TestParseMarker(t *testing.T) {
	const tok = "0123456789abcdef"
	for _, c := range []struct {
		line, word, rest string
		ok               bool
	}{
		{tok + " SUM abc", "SUM", "abc", true},
		{tok + " READY", "READY", "", true},
		{tok + " ERR perm /x: Permission denied", "ERR", "perm /x: Permission denied", true},
		{tok, "", "", false},
		{tok + "X SUM", "", "", false},
		{"QUJD", "", "", false},
	} {
		word, rest, ok := parseMarker([]byte(c.line), tok)
		if word != c.word || rest != c.rest || ok != c.ok {
			t.Errorf("parseMarker(%q) = %q, %q, %v", c.line, word, rest, ok)
		}
	}
	line := []byte("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0")
	if n := testing.AllocsPerRun(100, func() { parseMarker(line, tok) }); n != 0 {
		t.Errorf("parseMarker allocates %v times for a data line", n)
	}
}

// TestUploadScriptConfirmsFinishedRename runs the resuming upload script where a lost session already
// renamed the file into place: it confirms the destination without asking for any byte (nor touching the
// terminal, so it runs here without one).
func TestUploadScriptConfirmsFinishedRename(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "f")
	data := []byte("already here\n")
	if err := os.WriteFile(dest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	const tok = "0123456789abcdef"
	script := uploadScript(tok, dest, "f", int64(len(data)), hex.EncodeToString(sum[:]), 0o644, true)
	out, err := exec.Command("sh", "-c", script).CombinedOutput()
	if err != nil || string(out) != tok+" OK "+hex.EncodeToString(sum[:])+"\n" {
		t.Fatalf("script: %v, output %q", err, out)
	}
	// A different destination is not confirmed: the script goes on to receive the file (and, with no
	// terminal here, fails at stty, removing its temporary file).
	other := sha256.Sum256([]byte("abc"))
	out, _ = exec.Command("sh", "-c", uploadScript(tok, dest, "f", 3, hex.EncodeToString(other[:]), 0o644, true)).CombinedOutput()
	if want := tok + " ERR tool"; !strings.HasPrefix(string(out), want) {
		t.Errorf("output %q, want %q…", out, want)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%s holds %d files, want only f", dir, len(ents))
	}
}
