package release

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testBase = "https://downloads.example.com/ssmwire/1.4.0.2"

// fakeRelease writes a release directory whose archives are stand-ins, with the real manifests and
// SHA256SUMS written from them.
func fakeRelease(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	c := &Config{Source: testSource, BaseURL: testBase}
	sums := map[string]string{}
	for _, p := range Platforms {
		name := ArchiveName(testSource.Version, p)
		if err := os.WriteFile(filepath.Join(dir, name), []byte("archive for "+p.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		sum, err := fileSHA256(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		sums[name] = sum
	}
	for _, m := range manifests {
		if err := os.WriteFile(filepath.Join(dir, m.name), m.write(c, sums), 0o644); err != nil {
			t.Fatal(err)
		}
		sum, err := fileSHA256(filepath.Join(dir, m.name))
		if err != nil {
			t.Fatal(err)
		}
		sums[m.name] = sum
	}
	if err := os.WriteFile(filepath.Join(dir, SumsFile), formatSums(sums), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestManifests parses the formula and the Scoop manifest and checks every download against the files.
func TestManifests(t *testing.T) {
	dir := fakeRelease(t)
	if err := Verify(dir, testBase); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, FormulaFile))
	if err != nil {
		t.Fatal(err)
	}
	formula, err := ParseFormula(data)
	if err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(filepath.Join(dir, ScoopFile))
	if err != nil {
		t.Fatal(err)
	}
	scoop, err := ParseScoop(data)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{} // archive → checksum, from the manifests
	for _, a := range formula {
		got[strings.TrimPrefix(a.URL, testBase+"/")] = a.SHA256
	}
	for _, a := range scoop {
		got[strings.TrimPrefix(a.URL, testBase+"/")] = a.SHA256
	}
	if len(formula) != 4 || len(scoop) != 2 || len(got) != 6 {
		t.Fatalf("formula names %d, scoop %d, together %d archives; want 4, 2, 6", len(formula), len(scoop), len(got))
	}
	for _, p := range Platforms {
		name := ArchiveName(testSource.Version, p)
		want, err := fileSHA256(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got[name] != want {
			t.Errorf("%s: manifests say %q, the file's SHA-256 is %s", name, got[name], want)
		}
	}
	if a := scoop["arm64"]; a.URL != testBase+"/ssmwire_1.4.0.2_windows_arm64.zip" {
		t.Errorf("scoop arm64 url %s", a.URL)
	}
	for _, want := range []string{`version "1.4.0.2"`, `license "Apache-2.0"`, "on_macos do", "on_arm do", "on_intel do",
		`bin.install "ssmwire", "session-manager-plugin"`, `zsh_completion.install "completions/_ssmwire"`} {
		if !strings.Contains(string(mustRead(t, filepath.Join(dir, FormulaFile))), want) {
			t.Errorf("formula lacks %s", want)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifyFinds: each kind of damage to a release is reported.
func TestVerifyFinds(t *testing.T) {
	linuxArchive := ArchiveName(testSource.Version, Platform{"linux", "arm64"})
	for _, tc := range []struct {
		name   string
		damage func(dir string) error
		want   string
	}{
		{"changed archive", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, linuxArchive), []byte("changed"), 0o644)
		}, linuxArchive + ": SHA-256"},
		{"missing archive", func(dir string) error { return os.Remove(filepath.Join(dir, linuxArchive)) }, "which is missing"},
		{"extra file", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "extra.txt"), nil, 0o644)
		}, "extra.txt is not in SHA256SUMS"},
		{"formula checksum", func(dir string) error {
			return replaceIn(dir, FormulaFile, `sha256 "`, `sha256 "00`)
		}, "the manifest says"},
		{"scoop url", func(dir string) error {
			return replaceIn(dir, ScoopFile, "windows_amd64.zip", "windows_amd64.tar.gz")
		}, "names no file of the release"},
		{"formula base url", func(dir string) error {
			return replaceIn(dir, FormulaFile, testBase, "https://elsewhere.example.com")
		}, "is not under"},
		{"formula without a platform", func(dir string) error {
			return replaceIn(dir, FormulaFile, "linux_arm64", "linux_amd64")
		}, "does not name " + linuxArchive},
		{"formula url without sha256", func(dir string) error {
			return replaceIn(dir, FormulaFile, `sha256 "`, `# sha256 "`)
		}, "has no sha256"},
		{"scoop not JSON", func(dir string) error { return replaceIn(dir, ScoopFile, "{", "[") }, "scoop manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := fakeRelease(t)
			if err := tc.damage(dir); err != nil {
				t.Fatal(err)
			}
			// Keep SHA256SUMS true to the manifests, so that only the damage itself is found.
			if tc.name != "changed archive" && tc.name != "missing archive" && tc.name != "extra file" {
				resum(t, dir)
			}
			err := Verify(dir, testBase)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func replaceIn(dir, name, old, new string) error {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), []byte(strings.Replace(string(b), old, new, 1)), 0o644)
}

// resum rewrites SHA256SUMS from the files.
func resum(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for _, e := range entries {
		if e.Name() == SumsFile {
			continue
		}
		if sums[e.Name()], err = fileSHA256(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, SumsFile), formatSums(sums), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadSums(t *testing.T) {
	good := strings.Repeat("a", 64)
	for _, bad := range []string{
		"nope\n",
		good + " one-space\n",
		good + "  dir/file\n",
		good + "  a\n" + good + "  a\n",
		strings.Repeat("A", 64) + "  upper\n",
	} {
		if _, err := ReadSums([]byte(bad)); err == nil {
			t.Errorf("ReadSums(%q) accepted", bad)
		}
	}
	if s, err := ReadSums([]byte(good + "  x.tar.gz\n")); err != nil || s["x.tar.gz"] != good {
		t.Errorf("ReadSums = %v, %v", s, err)
	}
}
