package filecopy_test

import (
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/filecopy"
	"github.com/ssmwire/ssmwire/internal/testkit"
)

// TestCopyDroppedSession drops the client's websocket every 160 KiB of stream data while files are copied
// both ways: resumed by the session (ResumeSession), or, when the service refuses to resume, continued by a
// new session from where the lost one stopped (the rest of a download's range; the rest of an upload, after
// what the remote temporary file holds), or, without retries, cleanly failed with nothing left behind.
func TestCopyDroppedSession(t *testing.T) {
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	ctx := testkit.Context(t)
	data := make([]byte, 1<<20)
	rand.Read(data)
	local, remote, back := t.TempDir(), t.TempDir(), t.TempDir()
	src := writeFile(t, local, "f.bin", data)
	srv.Faults().KillEvery.Store(160 << 10)

	t.Run("resumed", func(t *testing.T) {
		before := srv.Stats()
		if err := filecopy.To(ctx, c, target, src, filepath.Join(remote, "up.bin"), nil); err != nil {
			t.Fatalf("CopyTo: %v", err)
		}
		checkSame(t, filepath.Join(remote, "up.bin"), data)
		if err := filecopy.From(ctx, c, target, filepath.Join(remote, "up.bin"), filepath.Join(back, "down.bin"), nil); err != nil {
			t.Fatalf("CopyFrom: %v", err)
		}
		checkSame(t, filepath.Join(back, "down.bin"), data)
		after := srv.Stats()
		if after.Faults.Kills-before.Faults.Kills < 10 || after.Resumes-before.Resumes < 10 {
			t.Errorf("%d kills and %d resumes; the fault did not happen as planned",
				after.Faults.Kills-before.Faults.Kills, after.Resumes-before.Resumes)
		}
		checkOnly(t, remote, "up.bin")
		checkOnly(t, back, "down.bin")
	})

	srv.Faults().RefuseResume.Store(true)
	srv.Faults().KillEvery.Store(400 << 10)
	c = newClient(t, srv, func(cfg *ssmwire.Config) { cfg.Session.ResumeAttempts = 1 }) // lost sessions fail at once
	t.Run("download read again", func(t *testing.T) {
		before := srv.Stats().SessionsStarted
		err := filecopy.From(ctx, c, target, filepath.Join(remote, "up.bin"), filepath.Join(back, "again.bin"),
			&filecopy.Config{Retries: 50})
		if err != nil {
			t.Fatalf("CopyFrom: %v", err)
		}
		checkSame(t, filepath.Join(back, "again.bin"), data)
		if n := srv.Stats().SessionsStarted - before; n < 4 {
			t.Errorf("%d sessions: the range was not read again after lost sessions", n)
		}
		checkOnly(t, back, "again.bin", "down.bin")
	})
	t.Run("download failed", func(t *testing.T) {
		err := filecopy.From(ctx, c, target, filepath.Join(remote, "up.bin"), filepath.Join(back, "failed.bin"),
			&filecopy.Config{Retries: -1})
		var ce *filecopy.Error
		if !errors.Is(err, filecopy.ErrIncomplete) || !errors.As(err, &ce) {
			t.Fatalf("CopyFrom: %v, want ErrIncomplete", err)
		}
		checkOnly(t, back, "again.bin", "down.bin")
	})
	t.Run("upload continued", func(t *testing.T) {
		before := srv.Stats().SessionsStarted
		var last, resumedAt int64 = 0, -1
		err := filecopy.To(ctx, c, target, src, filepath.Join(remote, "again.bin"), &filecopy.Config{Retries: 20,
			Progress: func(done, total int64) {
				if done < last && resumedAt < 0 {
					resumedAt = done // a new session goes on from what the remote file holds
				}
				last = done
			}})
		if err != nil {
			t.Fatalf("CopyTo: %v", err)
		}
		checkSame(t, filepath.Join(remote, "again.bin"), data)
		if n := srv.Stats().SessionsStarted - before; n < 2 {
			t.Errorf("%d sessions: the upload was not continued after a lost session", n)
		}
		if last != int64(len(data)) {
			t.Errorf("progress ended at %d, want %d", last, len(data))
		}
		if resumedAt <= 0 {
			t.Errorf("the next session went on from %d bytes, want more than 0 (what the lost one delivered)", resumedAt)
		}
		checkOnly(t, remote, "again.bin", "up.bin")
		if err := os.Remove(filepath.Join(remote, "again.bin")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("upload failed", func(t *testing.T) {
		err := filecopy.To(ctx, c, target, src, filepath.Join(remote, "up.bin"), &filecopy.Config{Retries: -1})
		if !errors.Is(err, filecopy.ErrIncomplete) {
			t.Fatalf("CopyTo: %v, want ErrIncomplete", err)
		}
		checkOnly(t, remote, "up.bin") // the earlier copy, whole; the temporary file removed
		checkSame(t, filepath.Join(remote, "up.bin"), data)
	})
}

// TestCopyToFullDisk gives the remote side a head that fails as on a full disk, after reading a little.
func TestCopyToFullDisk(t *testing.T) {
	bin := t.TempDir()
	script := "#!/bin/sh\ndd bs=1024 count=4 of=/dev/null 2>/dev/null\necho \"head: error writing 'standard output': No space left on device\" >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "head"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH")) // the agent's commands inherit it

	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	ctx := testkit.Context(t)
	local, remote := t.TempDir(), t.TempDir()
	data := make([]byte, 256<<10)
	rand.Read(data)
	src := writeFile(t, local, "f.bin", data)
	err := filecopy.To(ctx, c, target, src, remote, nil)
	if !errors.Is(err, filecopy.ErrRemoteWrite) || !strings.Contains(err.Error(), "No space left on device") {
		t.Fatalf("CopyTo: %v, want ErrRemoteWrite saying why", err)
	}
	checkOnly(t, remote)
}

// TestCopyPermissions copies from an unreadable file and into an unwritable directory and over an unwritable
// file. Root may do all of that, so as root the remote commands run as nobody (setpriv), as on an instance
// where the agent runs them as a plain user.
func TestCopyPermissions(t *testing.T) {
	if os.Geteuid() == 0 {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Fatalf("running as root, the test needs setpriv (util-linux) to run the remote side as nobody: %v", err)
		}
		bin := t.TempDir()
		wrapper := "#!/bin/sh\nif [ \"$(id -u)\" = 0 ]; then exec " + setpriv +
			" --reuid=65534 --regid=65534 --clear-groups /bin/sh \"$@\"; fi\nexec /bin/sh \"$@\"\n"
		if err := os.WriteFile(filepath.Join(bin, "sh"), []byte(wrapper), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	srv := newServer(t, nil)
	c := newClient(t, srv, nil)
	ctx := testkit.Context(t)
	open := func(dir string, mode os.FileMode) string {
		for _, d := range []string{filepath.Dir(dir), dir} {
			if err := os.Chmod(d, mode); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	local, back := t.TempDir(), t.TempDir()
	readOnly := open(t.TempDir(), 0o755)
	writable := open(t.TempDir(), 0o777)
	secret := writeFile(t, readOnly, "secret", []byte("secret"))
	if err := os.Chmod(secret, 0); err != nil {
		t.Fatal(err)
	}
	kept := writeFile(t, writable, "kept", []byte("original"))
	if err := os.Chmod(kept, 0o444); err != nil {
		t.Fatal(err)
	}
	src := writeFile(t, local, "f", []byte("new content"))

	err := filecopy.From(ctx, c, target, secret, back, nil)
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("CopyFrom an unreadable file: %v, want fs.ErrPermission", err)
	}
	checkOnly(t, back)
	err = filecopy.To(ctx, c, target, src, readOnly, nil)
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("CopyTo an unwritable directory: %v, want fs.ErrPermission", err)
	}
	checkOnly(t, readOnly, "secret")
	err = filecopy.To(ctx, c, target, src, kept, nil)
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("CopyTo over an unwritable file: %v, want fs.ErrPermission", err)
	}
	checkOnly(t, writable, "kept")
	checkSame(t, kept, []byte("original"))
}
