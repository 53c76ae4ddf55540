package filecopy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/filecopy"
	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// everyByte is every byte value, alone and in the sequences a terminal or the agent's UTF-8 filter would
// change: line ends, control keys (interrupt, quit, suspend, end of file, flow control, literal next,
// erase), a correctly encoded U+FFFD (which the agent's filter shortens), invalid UTF-8, and a truncated
// character at the very end (which the agent's filter holds back for good).
func everyByte() []byte {
	var b bytes.Buffer
	for range 4 {
		for i := range 256 {
			b.WriteByte(byte(i))
		}
		for i := 255; i >= 0; i-- {
			b.WriteByte(byte(i))
		}
	}
	b.WriteString("\r\n\n\r\r\x03\x1c\x1a\x04\x11\x13\x16\x7f\x08\x15\x17\x12\x0f")
	b.WriteString("\xef\xbf\xbd\xef\xbf\xbd\xff\xfe\xc0\x80\xed\xa0\x80")
	b.Write(bytes.Repeat([]byte{0x04}, 600)) // ^D in a row, more than a cooked terminal's line
	b.WriteString("\xe2\x82")
	return b.Bytes()
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkOnly fails t unless dir holds exactly the files names (no temporary file left).
func checkOnly(t testing.TB, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

func checkSame(t testing.TB, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: %d bytes, want %d; first difference at %d", path, len(got), len(want), i)
	}
}

func TestCopyEveryByteValue(t *testing.T) {
	checkGoroutines(t)
	srv := newPacedServer(t, nil)
	c := newClient(t, srv, nil)
	ctx := testkit.Context(t)
	data := everyByte()
	local, remote, back := t.TempDir(), t.TempDir(), t.TempDir()
	src := writeFile(t, local, "bytes.bin", data)

	if err := filecopy.To(ctx, c, target, src, remote, nil); err != nil {
		t.Fatalf("CopyTo: %v", err)
	}
	checkSame(t, filepath.Join(remote, "bytes.bin"), data)
	checkOnly(t, remote, "bytes.bin")

	dst := filepath.Join(back, "copy.bin")
	if err := filecopy.From(ctx, c, target, filepath.Join(remote, "bytes.bin"), dst, nil); err != nil {
		t.Fatalf("CopyFrom: %v", err)
	}
	checkSame(t, dst, data)
	checkOnly(t, back, "copy.bin")
}

func TestCopyEmptyFile(t *testing.T) {
	checkGoroutines(t)
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	ctx := testkit.Context(t)
	local, remote, back := t.TempDir(), t.TempDir(), t.TempDir()
	src := writeFile(t, local, "empty", nil)
	if err := filecopy.To(ctx, c, target, src, filepath.Join(remote, "e"), nil); err != nil {
		t.Fatalf("CopyTo: %v", err)
	}
	checkSame(t, filepath.Join(remote, "e"), nil)
	var calls int
	cfg := &filecopy.Config{Sessions: 4, Progress: func(done, total int64) {
		calls++
		if done != 0 || total != 0 {
			t.Errorf("progress %d/%d for an empty file", done, total)
		}
	}}
	if err := filecopy.From(ctx, c, target, filepath.Join(remote, "e"), back, cfg); err != nil {
		t.Fatalf("CopyFrom: %v", err)
	}
	checkSame(t, filepath.Join(back, "e"), nil)
	checkOnly(t, back, "e")
	if calls != 1 {
		t.Errorf("%d progress calls, want 1", calls)
	}
}

func TestCopy16MiB(t *testing.T) {
	srv := newPacedServer(t, nil)
	c := newClient(t, srv, nil)
	// 16 MiB at the paced agent's rate take about 10 s on four sessions, much longer under -race on a loaded
	// machine: more than testkit's minute.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	data := make([]byte, 16<<20)
	rand.Read(data)
	local, remote, back := t.TempDir(), t.TempDir(), t.TempDir()
	src := writeFile(t, local, "big.bin", data)
	var (
		mu         sync.Mutex
		last, tot  int64
		calls      int
		decreasing bool
	)
	progress := func(done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if done < last {
			decreasing = true
		}
		last, tot = done, total
		calls++
	}

	if err := filecopy.To(ctx, c, target, src, filepath.Join(remote, "up.bin"), &filecopy.Config{Progress: progress}); err != nil {
		t.Fatalf("CopyTo: %v", err)
	}
	checkSame(t, filepath.Join(remote, "up.bin"), data)
	checkOnly(t, remote, "up.bin")
	if last != int64(len(data)) || tot != int64(len(data)) || calls < 2 || decreasing {
		t.Errorf("upload progress: last %d/%d after %d calls (decreasing: %v)", last, tot, calls, decreasing)
	}

	last, calls = 0, 0
	dst := filepath.Join(back, "down.bin")
	err := filecopy.From(ctx, c, target, filepath.Join(remote, "up.bin"), dst, &filecopy.Config{Sessions: 4, Progress: progress})
	if err != nil {
		t.Fatalf("CopyFrom: %v", err)
	}
	checkSame(t, dst, data)
	checkOnly(t, back, "down.bin")
	if last != int64(len(data)) || tot != int64(len(data)) || calls < 2 || decreasing {
		t.Errorf("download progress: last %d/%d after %d calls (decreasing: %v)", last, tot, calls, decreasing)
	}
	// One session for the file's size and sum, four for the ranges, one for the upload.
	if n := srv.Stats().SessionsStarted; n != 6 {
		t.Errorf("%d sessions, want 6", n)
	}
}

func TestCopyFromMissingPath(t *testing.T) {
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	ctx := testkit.Context(t)
	remote, back := t.TempDir(), t.TempDir()
	err := filecopy.From(ctx, c, target, filepath.Join(remote, "nothing"), filepath.Join(back, "x"), nil)
	var ce *filecopy.Error
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &ce) || !strings.Contains(err.Error(), "No such file") {
		t.Fatalf("CopyFrom of a missing file: %v, want a Error wrapping fs.ErrNotExist", err)
	}
	checkOnly(t, back)

	src := writeFile(t, back, "f", []byte("data"))
	err = filecopy.To(ctx, c, target, src, filepath.Join(remote, "no", "such", "dir", "f"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("CopyTo into a missing directory: %v, want fs.ErrNotExist", err)
	}
	err = filecopy.From(ctx, c, target, remote, filepath.Join(back, "y"), nil)
	if err == nil || !strings.Contains(err.Error(), "directory") {
		t.Fatalf("CopyFrom of a directory: %v", err)
	}
	checkOnly(t, back, "f")
	checkOnly(t, remote)
}

// TestCopyRelativeToHome copies with paths relative to the remote home directory, and with "~/", as scp
// takes them.
func TestCopyRelativeToHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home) // the emulated agent's commands inherit it
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	ctx := testkit.Context(t)
	local, back := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(home, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	data := []byte("relative\n")
	src := writeFile(t, local, "r.txt", data)
	if err := filecopy.To(ctx, c, target, src, "~/sub/", nil); err != nil {
		t.Fatalf("CopyTo ~/sub/: %v", err)
	}
	checkSame(t, filepath.Join(home, "sub", "r.txt"), data)
	if err := filecopy.To(ctx, c, target, src, "top.txt", nil); err != nil {
		t.Fatalf("CopyTo top.txt: %v", err)
	}
	checkSame(t, filepath.Join(home, "top.txt"), data)
	if err := filecopy.From(ctx, c, target, "sub/r.txt", back, nil); err != nil {
		t.Fatalf("CopyFrom sub/r.txt: %v", err)
	}
	checkSame(t, filepath.Join(back, "r.txt"), data)
	if err := filecopy.From(ctx, c, target, "~/top.txt", filepath.Join(back, "t"), nil); err != nil {
		t.Fatalf("CopyFrom ~/top.txt: %v", err)
	}
	checkSame(t, filepath.Join(back, "t"), data)
}

// TestCopyFromSeparateStreams downloads with a document whose sessions stream stdout and stderr apart and
// report an exit code (the agent sends stderr first, paced): the file and the errors come out the same.
func TestCopyFromSeparateStreams(t *testing.T) {
	srv := newPacedServer(t, nil)
	c := newClient(t, srv, nil)
	ctx := testkit.Context(t)
	remote, back := t.TempDir(), t.TempDir()
	data := everyByte()
	src := writeFile(t, remote, "f.bin", data)
	cfg := &filecopy.Config{FromDocument: ssmtest.DocRunCommand}
	if err := filecopy.From(ctx, c, target, src, back, cfg); err != nil {
		t.Fatalf("CopyFrom: %v", err)
	}
	checkSame(t, filepath.Join(back, "f.bin"), data)
	err := filecopy.From(ctx, c, target, filepath.Join(remote, "missing"), back, cfg)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("CopyFrom of a missing file: %v, want fs.ErrNotExist", err)
	}
	checkOnly(t, back, "f.bin")
}
