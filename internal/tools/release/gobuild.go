package release

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

const versionPkg = "github.com/ssmwire/ssmwire/internal/version"

// classicGC is the GOEXPERIMENT the programs are built with when the toolchain offers it: Go 1.26's
// previous garbage collector instead of its default, Green Tea. For the plugin's small heap (well under
// 2 MiB live) it keeps about 0.2 MiB less resident (anonymous memory 3.3 against 3.5 MiB in a 64 MiB
// transfer) at the same CPU and throughput (BENCHMARKS.md, "Issue 18, eighth pass"). Go is expected to
// drop the setting in 1.27; a toolchain that refuses it builds with its default collector.
const classicGC = "nogreenteagc"

// goExperiment returns classicGC if the toolchain accepts it, else "".
func (b *builder) goExperiment(ctx context.Context) string {
	cmd := exec.CommandContext(ctx, b.cfg.Go, "env", "GOEXPERIMENT")
	cmd.Dir = b.cfg.Root
	cmd.Env = append(buildEnv(), "GOEXPERIMENT="+classicGC)
	if out, err := cmd.Output(); err != nil || strings.TrimSpace(string(out)) != classicGC {
		return ""
	}
	return classicGC
}

// buildEnv is the caller's environment less the variables that change a build's output.
func buildEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "GOOS", "GOARCH", "CGO_ENABLED", "GOFLAGS", "GOEXPERIMENT", "GOAMD64", "GOARM64", "GO386", "GOARM",
			"CGO_CFLAGS", "CGO_LDFLAGS", "GOWORK", "GOTOOLCHAIN":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// goBuild compiles the main package pkg for p into out: -trimpath, CGO_ENABLED=0, -buildvcs=false, no
// symbol table, the version stamped into internal/version, and GOEXPERIMENT set to b.experiment alone.
// Variables of the caller's environment that change the output (GOFLAGS, GOAMD64, GOEXPERIMENT...) are
// cleared, so that two machines with one toolchain produce the same bytes.
func (b *builder) goBuild(ctx context.Context, p Platform, pkg, out string) error {
	ldflags := fmt.Sprintf("-s -w -X %s.Version=%s -X %s.Describe=%s",
		versionPkg, b.cfg.Source.Version, versionPkg, b.cfg.Source.Describe)
	cmd := exec.CommandContext(ctx, b.cfg.Go, "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, pkg)
	cmd.Dir = b.cfg.Root
	cmd.Env = append(buildEnv(), "GOOS="+p.OS, "GOARCH="+p.Arch, "CGO_ENABLED=0", "GOFLAGS=-mod=readonly",
		"GOWORK=off", "GOTOOLCHAIN=local", "GOEXPERIMENT="+b.experiment)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("release: go build %s for %s: %w\n%s", pkg, p, err, stderr.String())
	}
	return nil
}

// programs builds both programs for p and returns their paths by program name.
func (b *builder) programs(ctx context.Context, p Platform) (map[string]string, error) {
	fmt.Fprintf(b.cfg.Log, "release: building for %s\n", p)
	bins := map[string]string{}
	for _, prog := range Programs {
		out := filepath.Join(b.work, p.OS+"_"+p.Arch, prog.Name+p.exe())
		if err := b.goBuild(ctx, p, prog.Pkg, out); err != nil {
			return nil, err
		}
		bins[prog.Name] = out
	}
	return bins, nil
}

// Completion is one shell's completion script as the release ships it.
type Completion struct {
	Shell string
	File  string // name in the archives' completions/ directory
}

// Completions are the scripts `ssmwire completion SHELL` writes, in archive order.
var Completions = []Completion{
	{"bash", "ssmwire.bash"},
	{"zsh", "_ssmwire"},
	{"fish", "ssmwire.fish"},
	{"powershell", "ssmwire.ps1"},
}

// completions builds ssmwire for the machine running the release and has it write its completion scripts;
// it returns their paths by shell.
func (b *builder) completions(ctx context.Context) (map[string]string, error) {
	host := Platform{runtime.GOOS, runtime.GOARCH}
	bin := filepath.Join(b.work, "host", "ssmwire"+host.exe())
	if err := b.goBuild(ctx, host, "./cmd/ssmwire", bin); err != nil {
		return nil, err
	}
	dir := filepath.Join(b.work, "completions")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	paths := map[string]string{}
	for _, c := range Completions {
		cmd := exec.CommandContext(ctx, bin, "completion", c.Shell)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("release: ssmwire completion %s: %w: %s", c.Shell, err, stderr.String())
		}
		path := filepath.Join(dir, c.File)
		if err := writeFile(path, out); err != nil {
			return nil, err
		}
		paths[c.Shell] = path
	}
	return paths, nil
}
