//go:build e2e

package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestReleaseReproducible builds the whole release of the checked-out commit twice and compares every
// artifact byte for byte; then checks the release (SHA256SUMS, the formula's and the Scoop manifest's
// downloads) and runs both programs of this machine's archive for their --version.
func TestReleaseReproducible(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Fatal("the release is built on Linux or macOS")
	}
	ctx := t.Context() // go test's -timeout bounds it: 12 builds, the second time from Go's build cache
	root := moduleRoot(t)
	src, err := GitInfo(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	const base = "https://downloads.example.com/ssmwire/test"
	var dirs [2]string
	var names [2][]string
	for i := range dirs {
		dirs[i] = filepath.Join(t.TempDir(), "out")
		names[i], err = Build(ctx, &Config{Root: root, OutDir: dirs[i], Source: src, BaseURL: base})
		if err != nil {
			t.Fatalf("build %d: %v", i+1, err)
		}
	}
	if strings.Join(names[0], " ") != strings.Join(names[1], " ") {
		t.Fatalf("the two builds wrote different files:\n%q\n%q", names[0], names[1])
	}
	// 6 archives, 2 .deb, 2 .rpm, formula, Scoop manifest, SHA256SUMS.
	if len(names[0]) != 13 {
		t.Errorf("release holds %d files, want 13: %q", len(names[0]), names[0])
	}
	sums := [2][]byte{mustRead(t, filepath.Join(dirs[0], SumsFile)), mustRead(t, filepath.Join(dirs[1], SumsFile))}
	if !bytes.Equal(sums[0], sums[1]) {
		t.Errorf("SHA256SUMS differ:\n%s\n%s", sums[0], sums[1])
	}
	for _, n := range names[0] {
		if !bytes.Equal(mustRead(t, filepath.Join(dirs[0], n)), mustRead(t, filepath.Join(dirs[1], n))) {
			t.Errorf("%s differs between the two builds", n)
		}
	}
	if err := Verify(dirs[0], base); err != nil {
		t.Errorf("Verify: %v", err)
	}

	// The version is stamped into both programs.
	host := Platform{runtime.GOOS, runtime.GOARCH}
	bin := t.TempDir()
	extract(t, filepath.Join(dirs[0], ArchiveName(src.Version, host)), bin)
	top := filepath.Join(bin, archiveDir(src.Version, host))
	for prog, want := range map[string]string{
		"session-manager-plugin": src.Version + "\n",
		"ssmwire":                "ssmwire " + src.Version + " (" + src.Describe + ")\n",
	} {
		out, err := exec.Command(filepath.Join(top, prog), "--version").Output()
		if err != nil || string(out) != want {
			t.Errorf("%s --version = %q, %v; want %q", prog, out, err, want)
		}
	}
	for _, f := range []string{"README.md", "LICENSE", "completions/ssmwire.bash", "completions/_ssmwire", "completions/ssmwire.fish", "completions/ssmwire.ps1"} {
		if _, err := os.Stat(filepath.Join(top, f)); err != nil {
			t.Errorf("archive: %v", err)
		}
	}
	if !bytes.Contains(mustRead(t, filepath.Join(top, "LICENSE")), []byte("Apache License")) {
		t.Error("LICENSE is not the Apache License")
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// extract unpacks a .tar.gz into dir.
func extract(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, os.FileMode(h.Mode)); err != nil {
			t.Fatal(err)
		}
	}
}
