package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// SumsFile is the name of the checksum file: "SHA256  NAME" lines as sha256sum writes them, sorted by name.
const SumsFile = "SHA256SUMS"

// Names of the package manager manifests a release writes.
const (
	FormulaFile = "ssmwire.rb"   // Homebrew formula
	ScoopFile   = "ssmwire.json" // Scoop manifest
)

// manifest is a package manager file written from the archives' URLs and checksums.
type manifest struct {
	name      string
	platforms []Platform // the archives it points at
	write     func(c *Config, sums map[string]string) []byte
}

func (m manifest) covered(built []Platform) bool {
	for _, p := range m.platforms {
		if !slices.Contains(built, p) {
			return false
		}
	}
	return true
}

var manifests = []manifest{
	{FormulaFile, []Platform{{"darwin", "amd64"}, {"darwin", "arm64"}, {"linux", "amd64"}, {"linux", "arm64"}}, formula},
	{ScoopFile, []Platform{{"windows", "amd64"}, {"windows", "arm64"}}, scoop},
}

const summary = "AWS Session Manager client and drop-in session-manager-plugin"

// formula writes the Homebrew formula: one url and sha256 per OS and CPU, the programs in bin, the
// completion scripts where Homebrew's shells find them.
func formula(c *Config, sums map[string]string) []byte {
	v := c.Source.Version
	var b bytes.Buffer
	fmt.Fprintf(&b, `# Homebrew formula for ssmwire %s, written by scripts/release from %s.
class Ssmwire < Formula
  desc "%s"
  homepage "https://github.com/ssmwire/ssmwire"
  version "%s"
  license "Apache-2.0"
`, v, c.Source.Describe, summary, v)
	for _, goos := range []string{"darwin", "linux"} {
		fmt.Fprintf(&b, "\n  on_%s do\n", map[string]string{"darwin": "macos", "linux": "linux"}[goos])
		for _, arch := range []string{"arm64", "amd64"} {
			name := ArchiveName(v, Platform{goos, arch})
			fmt.Fprintf(&b, "    on_%s do\n      url \"%s/%s\"\n      sha256 \"%s\"\n    end\n",
				map[string]string{"arm64": "arm", "amd64": "intel"}[arch], c.BaseURL, name, sums[name])
		}
		fmt.Fprintf(&b, "  end\n")
	}
	fmt.Fprintf(&b, `
  conflicts_with cask: "session-manager-plugin", because: "both install a session-manager-plugin binary"

  def install
    bin.install "ssmwire", "session-manager-plugin"
    bash_completion.install "completions/ssmwire.bash" => "ssmwire"
    zsh_completion.install "completions/_ssmwire"
    fish_completion.install "completions/ssmwire.fish"
    doc.install "README.md"
  end

  test do
    assert_equal version.to_s, shell_output("#{bin}/session-manager-plugin --version").strip
    assert_match version.to_s, shell_output("#{bin}/ssmwire --version")
  end
end
`)
	return b.Bytes()
}

// ScoopManifest is the part of a Scoop manifest the release writes.
type ScoopManifest struct {
	Version      string                       `json:"version"`
	Description  string                       `json:"description"`
	Homepage     string                       `json:"homepage"`
	License      string                       `json:"license"`
	Architecture map[string]ScoopArchitecture `json:"architecture"`
	Bin          []string                     `json:"bin"`
	Notes        string                       `json:"notes,omitempty"`
}

// ScoopArchitecture is one entry of a Scoop manifest's architecture object.
type ScoopArchitecture struct {
	URL        string `json:"url"`
	Hash       string `json:"hash"`
	ExtractDir string `json:"extract_dir"`
}

// scoop writes the Scoop manifest: the Windows archives per CPU, both programs as shims.
func scoop(c *Config, sums map[string]string) []byte {
	v := c.Source.Version
	m := ScoopManifest{
		Version:      v,
		Description:  summary,
		Homepage:     "https://github.com/ssmwire/ssmwire",
		License:      "Apache-2.0",
		Architecture: map[string]ScoopArchitecture{},
		Bin:          []string{"ssmwire.exe", "session-manager-plugin.exe"},
		Notes:        "Tab completion for PowerShell: ssmwire completion powershell | Out-String | Invoke-Expression",
	}
	for key, arch := range map[string]string{"64bit": "amd64", "arm64": "arm64"} {
		p := Platform{"windows", arch}
		m.Architecture[key] = ScoopArchitecture{
			URL: c.BaseURL + "/" + ArchiveName(v, p), Hash: sums[ArchiveName(v, p)], ExtractDir: archiveDir(v, p),
		}
	}
	out, _ := json.MarshalIndent(m, "", "    ") // maps marshal in key order
	return append(out, '\n')
}

// formatSums writes SHA256SUMS.
func formatSums(sums map[string]string) []byte {
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s\n", sums[n], n)
	}
	return []byte(b.String())
}
