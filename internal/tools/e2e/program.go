//go:build unix

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// RequireProgram returns the absolute path of the named program, looked up
// on PATH. A missing program fails the test: end-to-end tests are never
// skipped, and scripts/test installs everything they need.
func RequireProgram(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("e2e: %s is not installed (%v): run scripts/test to install it", name, err)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatalf("e2e: %s: %v", name, err)
	}
	return abs
}

// requireFile is RequireProgram for programs outside PATH (sshd, initdb).
func requireFile(t testing.TB, name string, candidates ...string) string {
	t.Helper()
	for _, pattern := range candidates {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return m
			}
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	t.Fatalf("e2e: %s is not installed (looked in %s and PATH): run scripts/test to install it",
		name, strings.Join(candidates, ", "))
	return ""
}

// builds caches the binaries built by BuildBinary for the life of the test
// binary.
var builds struct {
	mu   sync.Mutex
	dir  string // created on first use, removed by Run
	pkgs map[string]*build
}

type build struct {
	once sync.Once
	path string
	err  error
}

// BuildBinary builds the main package pkg of this module (an import path such
// as "github.com/ssmwire/ssmwire/cmd/ssmtest" or a module-relative path such
// as "./cmd/ssmtest") and returns the path of the executable, named after the
// package's last element. Each package is built once per test binary; when the
// test binary has the race detector on, so does the build.
func BuildBinary(t testing.TB, pkg string) string {
	t.Helper()
	builds.mu.Lock()
	if builds.pkgs == nil {
		builds.pkgs = make(map[string]*build)
	}
	b := builds.pkgs[pkg]
	if b == nil {
		b = new(build)
		builds.pkgs[pkg] = b
	}
	builds.mu.Unlock()

	b.once.Do(func() { b.path, b.err = buildBinary(pkg) })
	if b.err != nil {
		t.Fatalf("e2e: %v", b.err)
	}
	return b.path
}

func buildBinary(pkg string) (string, error) {
	builds.mu.Lock()
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "ssmwire-e2e-bin-")
		if err != nil {
			builds.mu.Unlock()
			return "", fmt.Errorf("build %s: %w", pkg, err)
		}
		builds.dir = dir
	}
	base := builds.dir
	builds.mu.Unlock()

	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	// One directory per package, so two packages ending in the same name
	// do not overwrite each other.
	dir, err := os.MkdirTemp(base, "pkg-")
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	out := filepath.Join(dir, path.Base(strings.TrimSuffix(pkg, "/")))
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, pkg)
	cmd := exec.Command(goTool(), args...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return out, nil
}

// moduleRoot is the directory holding this module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command(goTool(), "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}

// goTool is the go command that runs this test: $GOROOT/bin/go when the test
// was started by `go test`, else whatever is on PATH.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// Run runs the tests and then removes what BuildBinary built. TestMain calls it
// and exits the test process with the status it returns.
func Run(m *testing.M) int {
	code := m.Run()
	builds.mu.Lock()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
		builds.dir = ""
	}
	builds.mu.Unlock()
	return code
}
