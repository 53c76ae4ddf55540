package release

import (
	"context"
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestGoBuildClassicGC: the programs are built with Go 1.26's previous garbage collector when the toolchain
// offers it, whatever GOEXPERIMENT the caller's environment has, and with the toolchain's default when it
// refuses the setting.
func TestGoBuildClassicGC(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	// A small main package stands for the programs: the setting is recorded in any binary's build info.
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/hello\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "main.go"), []byte("package main\n\nfunc main() { println(\"hello\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &builder{cfg: &Config{Root: root, Go: goCmd, Source: Source{Version: "0.0.0-test", Describe: "test", Time: time.Unix(0, 0)}}}
	b.experiment = b.goExperiment(context.Background())
	if strings.HasPrefix(runtime.Version(), "go1.26") && b.experiment != classicGC {
		t.Fatalf("go %s: goExperiment = %q, want %q", runtime.Version(), b.experiment, classicGC)
	}
	t.Setenv("GOEXPERIMENT", "") // the caller's setting is not the build's
	out := filepath.Join(t.TempDir(), "hello")
	if err := b.goBuild(context.Background(), Platform{runtime.GOOS, runtime.GOARCH}, ".", out); err != nil {
		t.Fatal(err)
	}
	bi, err := buildinfo.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, s := range bi.Settings {
		if s.Key == "GOEXPERIMENT" {
			got = s.Value
		}
	}
	if got != b.experiment {
		t.Errorf("built with GOEXPERIMENT=%q, want %q", got, b.experiment)
	}

	// A toolchain that does not know the setting: its go env fails.
	fake := filepath.Join(t.TempDir(), "go")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'go: unknown GOEXPERIMENT greenteagc' >&2\nexit 2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := &builder{cfg: &Config{Root: root, Go: fake}}
	if got := old.goExperiment(context.Background()); got != "" {
		t.Errorf("a toolchain that refuses %s: goExperiment = %q, want \"\"", classicGC, got)
	}
}
