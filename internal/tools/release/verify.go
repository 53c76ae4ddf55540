package release

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// ReadSums parses a SHA256SUMS file: name → SHA-256 in hex.
func ReadSums(data []byte) (map[string]string, error) {
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(sum) || name == "" || strings.Contains(name, "/") {
			return nil, fmt.Errorf("release: %s line %d: want \"SHA256  NAME\"", SumsFile, n)
		}
		if _, dup := sums[name]; dup {
			return nil, fmt.Errorf("release: %s line %d: %s listed twice", SumsFile, n, name)
		}
		sums[name] = sum
	}
	return sums, sc.Err()
}

// Artifact is a download a package manager manifest names.
type Artifact struct {
	URL, SHA256 string
}

var (
	formulaURL    = regexp.MustCompile(`^\s*url\s+"([^"]+)"\s*$`)
	formulaSHA256 = regexp.MustCompile(`^\s*sha256\s+"([^"]*)"\s*$`)
)

// ParseFormula returns the url/sha256 pairs of a Homebrew formula, in order. A url without its sha256 on a
// following line, or a sha256 without a url, is an error.
func ParseFormula(data []byte) ([]Artifact, error) {
	var out []Artifact
	var url string
	for n, line := range strings.Split(string(data), "\n") {
		if m := formulaURL.FindStringSubmatch(line); m != nil {
			if url != "" {
				return nil, fmt.Errorf("release: formula line %d: url %s has no sha256", n+1, url)
			}
			url = m[1]
		} else if m := formulaSHA256.FindStringSubmatch(line); m != nil {
			if url == "" {
				return nil, fmt.Errorf("release: formula line %d: sha256 without a url", n+1)
			}
			out = append(out, Artifact{url, m[1]})
			url = ""
		}
	}
	if url != "" {
		return nil, fmt.Errorf("release: formula: url %s has no sha256", url)
	}
	return out, nil
}

// ParseScoop returns the downloads of a Scoop manifest, by architecture key ("64bit", "arm64").
func ParseScoop(data []byte) (map[string]Artifact, error) {
	var m ScoopManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("release: scoop manifest: %w", err)
	}
	out := map[string]Artifact{}
	for k, a := range m.Architecture {
		out[k] = Artifact{a.URL, a.Hash}
	}
	return out, nil
}

// Verify checks the release in dir: every file but SHA256SUMS is listed there with its true SHA-256 and
// every listed file exists; every download of the Homebrew formula and the Scoop manifest (when present)
// is a file of the release, under baseURL ("": any), with the right SHA-256, and each manifest names every
// platform it is for.
func Verify(dir, baseURL string) error {
	data, err := os.ReadFile(filepath.Join(dir, SumsFile))
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	sums, err := ReadSums(data)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	var errs []error
	seen := map[string]bool{}
	for _, e := range entries {
		if e.Name() == SumsFile {
			continue
		}
		seen[e.Name()] = true
		want, ok := sums[e.Name()]
		if !ok {
			errs = append(errs, fmt.Errorf("release: %s is not in %s", e.Name(), SumsFile))
			continue
		}
		got, err := fileSHA256(filepath.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
		} else if got != want {
			errs = append(errs, fmt.Errorf("release: %s: SHA-256 %s, %s says %s", e.Name(), got, SumsFile, want))
		}
	}
	for name := range sums {
		if !seen[name] {
			errs = append(errs, fmt.Errorf("release: %s lists %s, which is missing", SumsFile, name))
		}
	}
	check := func(manifest string, a Artifact) {
		name := path.Base(a.URL)
		switch {
		case baseURL != "" && a.URL != strings.TrimRight(baseURL, "/")+"/"+name:
			errs = append(errs, fmt.Errorf("release: %s: url %s is not under %s", manifest, a.URL, baseURL))
		case !seen[name]:
			errs = append(errs, fmt.Errorf("release: %s: url %s names no file of the release", manifest, a.URL))
		case sums[name] != a.SHA256:
			errs = append(errs, fmt.Errorf("release: %s: %s has SHA-256 %s, the manifest says %q", manifest, name, sums[name], a.SHA256))
		}
	}
	manifestVersion := func() string {
		for name := range sums {
			if strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".zip") {
				return strings.Split(name, "_")[1]
			}
		}
		return ""
	}()
	for _, m := range manifests {
		data, err := os.ReadFile(filepath.Join(dir, m.name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			errs = append(errs, err)
			continue
		}
		var got []Artifact
		if m.name == FormulaFile {
			got, err = ParseFormula(data)
		} else {
			var byArch map[string]Artifact
			byArch, err = ParseScoop(data)
			for _, k := range []string{"64bit", "arm64"} {
				if a, ok := byArch[k]; ok {
					got = append(got, a)
				}
			}
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var names []string
		for _, a := range got {
			check(m.name, a)
			names = append(names, path.Base(a.URL))
		}
		for _, p := range m.platforms {
			if want := ArchiveName(manifestVersion, p); !slices.Contains(names, want) {
				errs = append(errs, fmt.Errorf("release: %s does not name %s", m.name, want))
			}
		}
	}
	return errors.Join(errs...)
}
