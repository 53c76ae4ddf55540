//go:build unix

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Fake static credentials AWSCLI gives the aws command. The emulator accepts
// any; they only have to look real to botocore.
const (
	FakeAccessKeyID     = "AKIAIOSFODNN7EXAMPLE"
	FakeSecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	FakeRegion          = "us-east-1"
)

// AWS runs the real AWS CLI against one endpoint, with a private HOME, fake
// static credentials, and our session-manager-plugin first on PATH.
type AWS struct {
	// Path is the aws executable.
	Path string
	// Endpoint is passed as --endpoint-url to every command.
	Endpoint string
	// Env is the complete environment of aws. Programs that run aws in turn
	// (ssh with a ProxyCommand, tmux) need it too.
	Env []string
	// Home is the temporary HOME directory.
	Home string
}

// AWSCLI prepares the aws command for a test against the emulator at
// endpoint (e.g. "http://127.0.0.1:34567"), with plugin (the path of a
// session-manager-plugin executable, under any name) reachable on PATH as
// session-manager-plugin; plugin "" leaves it off PATH.
//
// Debian's awscli at /usr/bin/aws is preferred to any other aws on PATH: it is
// the version the tests and AWSCLI.md are written against.
func AWSCLI(t testing.TB, endpoint, plugin string) *AWS {
	t.Helper()
	awsPath := "/usr/bin/aws"
	if _, err := os.Stat(awsPath); err != nil {
		awsPath = RequireProgram(t, "aws")
	}
	home := t.TempDir()
	binDir := filepath.Join(home, "bin")
	if err := os.Mkdir(binDir, 0o755); err != nil {
		t.Fatalf("e2e: aws: %v", err)
	}
	if plugin != "" {
		abs, err := filepath.Abs(plugin)
		if err != nil {
			t.Fatalf("e2e: aws: %v", err)
		}
		if err := os.Symlink(abs, filepath.Join(binDir, "session-manager-plugin")); err != nil {
			t.Fatalf("e2e: aws: %v", err)
		}
	}

	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") || name == "HOME" || name == "PATH" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"HOME="+home,
		"PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH")+string(os.PathListSeparator)+"/usr/local/bin:/usr/bin:/bin",
		"AWS_ACCESS_KEY_ID="+FakeAccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+FakeSecretAccessKey,
		"AWS_DEFAULT_REGION="+FakeRegion,
		"AWS_REGION="+FakeRegion,
		"AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CLI_AUTO_PROMPT=off",
		"AWS_CONFIG_FILE="+filepath.Join(home, ".aws", "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, ".aws", "credentials"),
	)
	return &AWS{Path: awsPath, Endpoint: endpoint, Env: env, Home: home}
}

// Command returns `aws <args...> --endpoint-url <Endpoint>` with Env set and
// the working directory in Home. Stdin, stdout and stderr are the caller's to
// set.
func (a *AWS) Command(args ...string) *exec.Cmd {
	cmd := exec.Command(a.Path, a.args(args)...)
	cmd.Env = a.Env
	cmd.Dir = a.Home
	return cmd
}

// CommandLine is Command as one shell command line, every word quoted, for
// an ssh ProxyCommand or a tmux window. ssh still expands %h and %p inside
// the quotes.
func (a *AWS) CommandLine(args ...string) string {
	words := append([]string{a.Path}, a.args(args)...)
	for i, w := range words {
		words[i] = ShellQuote(w)
	}
	return strings.Join(words, " ")
}

func (a *AWS) args(args []string) []string {
	return append(append([]string(nil), args...), "--endpoint-url", a.Endpoint)
}

// ShellQuote quotes s for a POSIX shell.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// AWSCLIInstalled is AWSCLI for a session-manager-plugin installed on the
// machine (by a package) rather than built by the test: none is added to
// PATH, and the test fails unless the session-manager-plugin the aws command
// finds on its PATH is installed, that is resolves (symbolic links followed)
// to the same file as installed.
func AWSCLIInstalled(t testing.TB, endpoint, installed string) *AWS {
	t.Helper()
	a := AWSCLI(t, endpoint, "")
	if err := a.CheckInstalled(installed); err != nil {
		t.Fatalf("e2e: %v", err)
	}
	return a
}

// CheckInstalled returns an error unless the session-manager-plugin on the
// PATH of Env resolves (symbolic links followed) to the file installed.
func (a *AWS) CheckInstalled(installed string) error {
	found, err := a.LookPath("session-manager-plugin")
	if err != nil {
		return fmt.Errorf("aws: no session-manager-plugin on PATH, want the installed %s: %w", installed, err)
	}
	got, err := filepath.EvalSymlinks(found)
	if err != nil {
		return fmt.Errorf("aws: %w", err)
	}
	want, err := filepath.EvalSymlinks(installed)
	if err != nil {
		return fmt.Errorf("aws: the installed plugin: %w", err)
	}
	if got != want {
		return fmt.Errorf("aws would run %s (%s), not the installed %s", found, got, want)
	}
	return nil
}

// LookPath finds the executable the aws command (and the programs it runs)
// would run for name: the first one on the PATH of Env.
func (a *AWS) LookPath(name string) (string, error) {
	var path string
	for _, kv := range a.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return filepath.Abs(p)
		}
	}
	return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
}
