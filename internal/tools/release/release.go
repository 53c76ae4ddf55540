package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Platform is one GOOS/GOARCH pair.
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// exe is the suffix of executables on p.
func (p Platform) exe() string {
	if p.OS == "windows" {
		return ".exe"
	}
	return ""
}

// Platforms are the platforms a release covers, in the order they are built.
var Platforms = []Platform{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

// ParsePlatform parses "GOOS/GOARCH", one of [Platforms].
func ParsePlatform(s string) (Platform, error) {
	for _, p := range Platforms {
		if p.String() == s {
			return p, nil
		}
	}
	return Platform{}, fmt.Errorf("release: unknown platform %q (want one of linux, darwin, windows / amd64, arm64)", s)
}

// Programs are the programs every archive and package holds, by package path in the module.
var Programs = []struct{ Name, Pkg string }{
	{"ssmwire", "./cmd/ssmwire"},
	{"session-manager-plugin", "./cmd/session-manager-plugin"},
}

// DefaultBaseURL is where a release's artifacts are published unless Config.BaseURL says otherwise; %s is
// the version.
const DefaultBaseURL = "https://github.com/ssmwire/ssmwire/releases/download/v%s"

// Config says what [Build] builds. Zero fields take the defaults documented on each.
type Config struct {
	// Root is the module's root directory (the repository). Required.
	Root string
	// OutDir receives the artifacts. It must not exist or be empty. Required.
	OutDir string
	// Source is the commit being built. Required ([GitInfo]).
	Source Source
	// BaseURL is the URL the artifacts will be downloadable under, for the Homebrew formula and the Scoop
	// manifest. Default: DefaultBaseURL with the version.
	BaseURL string
	// Platforms are the platforms to build. Default: all of [Platforms]. A subset builds only the archives
	// and packages of those platforms, and the manifests only when every platform they name is built.
	Platforms []Platform
	// Go is the go command. Default: "go" on PATH.
	Go string
	// Log receives one line per step. Default: none.
	Log io.Writer
}

// Build builds a release into cfg.OutDir and returns the names of the files it wrote, SHA256SUMS last.
func Build(ctx context.Context, cfg *Config) ([]string, error) {
	c := *cfg
	if c.Root == "" || c.OutDir == "" || c.Source.Version == "" || c.Source.Time.IsZero() {
		return nil, errors.New("release: Config needs Root, OutDir and Source")
	}
	if c.BaseURL == "" {
		c.BaseURL = fmt.Sprintf(DefaultBaseURL, c.Source.Version)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if len(c.Platforms) == 0 {
		c.Platforms = Platforms
	}
	if c.Go == "" {
		c.Go = "go"
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if entries, err := os.ReadDir(c.OutDir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("release: %s is not empty", c.OutDir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("release: %w", err)
	}
	if err := os.MkdirAll(c.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	work, err := os.MkdirTemp("", "ssmwire-release-")
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	defer os.RemoveAll(work)

	b := &builder{cfg: &c, work: work}
	b.experiment = b.goExperiment(ctx)
	if b.experiment != "" {
		fmt.Fprintf(c.Log, "release: building with GOEXPERIMENT=%s\n", b.experiment)
	}
	completions, err := b.completions(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	sums := map[string]string{}
	add := func(name string, err error) error {
		if err != nil {
			return err
		}
		sum, err := fileSHA256(filepath.Join(c.OutDir, name))
		if err != nil {
			return err
		}
		sums[name] = sum
		names = append(names, name)
		fmt.Fprintf(c.Log, "release: wrote %s\n", name)
		return nil
	}
	for _, p := range c.Platforms {
		bins, err := b.programs(ctx, p)
		if err != nil {
			return nil, err
		}
		files := b.archiveFiles(p, bins, completions)
		if err := add(b.archive(p, files)); err != nil {
			return nil, err
		}
		if p.OS == "linux" {
			for _, format := range []string{"deb", "rpm"} {
				if err := add(b.linuxPackage(format, p, bins, completions)); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, m := range manifests {
		if !m.covered(c.Platforms) {
			fmt.Fprintf(c.Log, "release: %s left out: not every platform it names is built\n", m.name)
			continue
		}
		if err := add(m.name, writeFile(filepath.Join(c.OutDir, m.name), m.write(&c, sums))); err != nil {
			return nil, err
		}
	}
	if err := writeFile(filepath.Join(c.OutDir, SumsFile), formatSums(sums)); err != nil {
		return nil, err
	}
	fmt.Fprintf(c.Log, "release: wrote %s\n", SumsFile)
	return append(names, SumsFile), nil
}

// builder holds the state of one Build.
type builder struct {
	cfg        *Config
	work       string // temporary directory for binaries and completions
	experiment string // GOEXPERIMENT of every build: classicGC or "" (goExperiment)
}

// ArchiveName is the name of p's archive for version.
func ArchiveName(version string, p Platform) string {
	ext := ".tar.gz"
	if p.OS == "windows" {
		ext = ".zip"
	}
	return archiveDir(version, p) + ext
}

// archiveDir is the one top-level directory of p's archive.
func archiveDir(version string, p Platform) string {
	return "ssmwire_" + version + "_" + p.OS + "_" + p.Arch
}

func writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	return nil
}
