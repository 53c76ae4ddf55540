package release

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNumericVersion(t *testing.T) {
	for _, tc := range []struct {
		describe string
		count    int
		want     string
		err      string
	}{
		{"v1.4.0", 300, "1.4.0.0", ""},
		{"v1.4.0-7-g1a2b3c4", 300, "1.4.0.7", ""},
		{"v1.4.0-7-g1a2b3c4-dirty", 300, "1.4.0.7", ""},
		{"1.4.2", 300, "1.4.2.0", ""},
		{"v2.0.0.5-2-gabcdef0", 9, "2.0.0.7", ""},
		{"1a2b3c4", 238, "1.3.0.238", ""},
		{"1a2b3c4-dirty", 238, "1.3.0.238", ""},
		{"v1.2.497", 0, "", "must be later than 1.2.497.0"},
		{"v1.2.497-1-gabcdef0", 0, "1.2.497.1", ""},
		{"v1.0.0", 0, "", "must be later than 1.2.497.0"},
		{"v1.x", 0, "", "is not vMAJOR.MINOR.PATCH"},
	} {
		got, err := NumericVersion(tc.describe, tc.count)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("NumericVersion(%q) = %q, %v; want error %q", tc.describe, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NumericVersion(%q, %d) = %q, %v; want %q", tc.describe, tc.count, got, err, tc.want)
		}
	}
}

var testSource = Source{Describe: "v1.4.0-2-gabcdef0", Version: "1.4.0.2", Time: time.Unix(1764000000, 0).UTC()}

// testMembers writes a few files to pack.
func testMembers(t *testing.T) []member {
	t.Helper()
	dir := t.TempDir()
	var files []member
	for _, f := range []struct {
		name string
		mode os.FileMode
	}{{"ssmwire", 0o755}, {"README.md", 0o644}, {"completions/ssmwire.bash", 0o644}, {"completions/_ssmwire", 0o644}} {
		src := filepath.Join(dir, strings.ReplaceAll(f.name, "/", "_"))
		if err := os.WriteFile(src, []byte("contents of "+f.name+strings.Repeat("x", 1000)), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, member{f.name, src, f.mode})
	}
	return files
}

// TestTarGz: the archive holds the files under one directory, in order, owned by root, at the commit time,
// and two writes give the same bytes.
func TestTarGz(t *testing.T) {
	files := testMembers(t)
	var a, b bytes.Buffer
	if err := writeTarGz(&a, "top", files, testSource); err != nil {
		t.Fatal(err)
	}
	// A different file time on disk and another moment change nothing.
	os.Chtimes(files[0].src, time.Now(), time.Now())
	if err := writeTarGz(&b, "top", files, testSource); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two archives of the same files differ")
	}
	zr, err := gzip.NewReader(&a)
	if err != nil {
		t.Fatal(err)
	}
	if !zr.ModTime.IsZero() || zr.Name != "" {
		t.Errorf("gzip header: time %v name %q, want none", zr.ModTime, zr.Name)
	}
	tr := tar.NewReader(zr)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "root" || h.Gname != "root" || !h.ModTime.Equal(testSource.Time) {
			t.Errorf("%s: owner %d/%d %s/%s time %v", h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
		}
		got = append(got, h.Name+" "+os.FileMode(h.Mode).String())
	}
	want := []string{"top/ -rwxr-xr-x", "top/completions/ -rwxr-xr-x", "top/ssmwire -rwxr-xr-x", "top/README.md -rw-r--r--",
		"top/completions/ssmwire.bash -rw-r--r--", "top/completions/_ssmwire -rw-r--r--"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestZip(t *testing.T) {
	files := testMembers(t)
	var a, b bytes.Buffer
	if err := writeZip(&a, "top", files, testSource); err != nil {
		t.Fatal(err)
	}
	if err := writeZip(&b, "top", files, testSource); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two archives of the same files differ")
	}
	zr, err := zip.NewReader(bytes.NewReader(a.Bytes()), int64(a.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range zr.File {
		if !f.Modified.Equal(testSource.Time) {
			t.Errorf("%s: time %v", f.Name, f.Modified)
		}
		got = append(got, f.Name+" "+f.Mode().String())
	}
	want := []string{"top/ drwxr-xr-x", "top/completions/ drwxr-xr-x", "top/ssmwire -rwxr-xr-x", "top/README.md -rw-r--r--",
		"top/completions/ssmwire.bash -rw-r--r--", "top/completions/_ssmwire -rw-r--r--"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
