package cli

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/ssmtest"
)

func TestCpUpAndDown(t *testing.T) {
	h := newHarness(t, nil)
	data := make([]byte, 3<<20)
	rand.Read(data)
	local, remote, back := t.TempDir(), t.TempDir(), t.TempDir()
	src := filepath.Join(local, "f.bin")
	if err := os.WriteFile(src, data, 0o640); err != nil {
		t.Fatal(err)
	}
	r := h.run(t, nil, "cp", src, "ssmtest:"+remote)
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("upload: code %d stdout %q stderr %q (not a terminal: want silence)", r.code, r.stdout, r.stderr)
	}
	r = h.run(t, nil, "cp", "--sessions", "3", "i-0123456789abcdef0:"+filepath.Join(remote, "f.bin"), back)
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("download: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	got, err := os.ReadFile(filepath.Join(back, "f.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("downloaded file differs (%d bytes, err %v)", len(got), err)
	}
	if st := h.srv.Stats(); st.SessionsStarted != 5 { // upload, stat, three ranges
		t.Errorf("%d sessions, want 5", st.SessionsStarted)
	}
}

func TestCpErrors(t *testing.T) {
	h := newHarness(t, nil)
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"cp", "a", "b"}, ExitUsage, "exactly one of SOURCE and DEST"},
		{[]string{"cp", "ssmtest:a", "ssmtest:b"}, ExitUsage, "exactly one of SOURCE and DEST"},
		{[]string{"cp", "a"}, ExitUsage, "want a SOURCE and a DEST"},
		{[]string{"cp", "--sessions", "0", "ssmtest:a", dir}, ExitUsage, "--sessions must be"},
		{[]string{"cp", "--sessions", "2", filepath.Join(dir, "x"), "ssmtest:/tmp"}, ExitUsage, "downloads only"},
		{[]string{"cp", "ssmtest:", dir}, ExitUsage, "names no remote path"},
		{[]string{"cp", "ssmtest:" + filepath.Join(dir, "missing"), dir}, ExitError, "No such file or directory"},
		{[]string{"cp", filepath.Join(dir, "missing"), "ssmtest:/tmp"}, ExitError, "no such file or directory"},
	} {
		r := h.run(t, nil, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: code %d stderr %q, want code %d and %q", c.args, r.code, r.stderr, c.code, c.want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("%s is not empty: %v", dir, ents)
	}
}

func TestSplitRemote(t *testing.T) {
	for _, c := range []struct {
		arg, target, path string
		remote            bool
	}{
		{"i-0abc:/etc/hosts", "i-0abc", "/etc/hosts", true},
		{"web:rel/path", "web", "rel/path", true},
		{"./a:b", "", "./a:b", false},
		{"/x/y:z", "", "/x/y:z", false},
		{":x", "", ":x", false},
		{"plain", "", "plain", false},
	} {
		target, path, remote := splitRemote(c.arg)
		if target != c.target || path != c.path || remote != c.remote {
			t.Errorf("splitRemote(%q) = %q, %q, %v", c.arg, target, path, remote)
		}
	}
}

func TestProgressLine(t *testing.T) {
	now := time.Unix(1000, 0)
	var out bytes.Buffer
	p := newProgressLine(&out, true, func() time.Time { return now })
	p.update(0, 8<<20)
	now = now.Add(100 * time.Millisecond)
	p.update(1<<20, 8<<20) // within 200 ms of the last line: not drawn
	now = now.Add(1900 * time.Millisecond)
	p.update(2<<20, 8<<20)
	now = now.Add(6 * time.Second)
	p.update(8<<20, 8<<20)
	p.finish()
	want := "\r0 B / 8.0 MiB    0%\x1b[K" +
		"\r2.0 MiB / 8.0 MiB   25%  1.0 MiB/s  ETA 0:06\x1b[K" +
		"\r8.0 MiB / 8.0 MiB  100%  1.0 MiB/s  in 0:08\x1b[K\n"
	if out.String() != want {
		t.Errorf("progress line\n%q, want\n%q", out.String(), want)
	}

	out.Reset()
	off := newProgressLine(&out, false, time.Now)
	off.update(1, 2)
	off.finish()
	if out.Len() != 0 {
		t.Errorf("progress off wrote %q", out.String())
	}
}

// TestCpWithReason copies both ways on a target that needs just-in-time access: one request, and every
// session (the upload, the stat and the ranges of a download over two sessions) uses its credentials.
func TestCpWithReason(t *testing.T) {
	h := jitHarness(t, func(ssmtest.AccessRequest) string { return ssmtest.AccessApproved })
	data := make([]byte, 2<<20+5)
	rand.Read(data)
	local, remote, back := t.TempDir(), t.TempDir(), t.TempDir()
	src := filepath.Join(local, "f.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := h.run(t, nil, "cp", "--reason", "ticket OPS-2", src, "ssmtest:"+remote); r.code != 0 {
		t.Fatalf("upload: exit %d, stderr %q", r.code, r.stderr)
	}
	r := h.run(t, nil, "cp", "--reason", "ticket OPS-2", "--sessions", "2", "ssmtest:"+filepath.Join(remote, "f.bin"), back)
	if r.code != 0 {
		t.Fatalf("download: exit %d, stderr %q", r.code, r.stderr)
	}
	if got, err := os.ReadFile(filepath.Join(back, "f.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("downloaded file differs (%d bytes, err %v)", len(got), err)
	}
	if reqs := h.srv.AccessRequests(); len(reqs) != 2 {
		t.Errorf("%d access requests, want one per command", len(reqs))
	}
	if n := len(h.srv.SessionIDs()); n != 4 {
		t.Errorf("%d sessions, want 4 (upload, stat, two ranges)", n)
	}
}
