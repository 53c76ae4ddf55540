//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

func TestSSHDRunsCommand(t *testing.T) {
	t.Parallel()
	port, user, args := StartSSHD(t)
	ssh := RequireProgram(t, "ssh")
	args = append(args, "-p", strconv.Itoa(port), user+"@127.0.0.1", "echo ok")
	out, err := exec.Command(ssh, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "ok" {
		t.Fatalf("ssh echo ok printed %q", got)
	}
}

func TestSSHDCopiesWithSCP(t *testing.T) {
	t.Parallel()
	port, user, args := StartSSHD(t)
	scp := RequireProgram(t, "scp")
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	want := strings.Repeat("ssmwire\n", 1000)
	if err := os.WriteFile(src, []byte(want), 0o600); err != nil {
		t.Fatal(err)
	}
	args = append(args, "-P", strconv.Itoa(port), src, user+"@127.0.0.1:"+dst)
	if out, err := exec.Command(scp, args...).CombinedOutput(); err != nil {
		t.Fatalf("scp: %v\n%s", err, out)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("scp copied %d bytes, want %d", len(got), len(want))
	}
}

func TestRedisAnswersPing(t *testing.T) {
	t.Parallel()
	port := StartRedis(t)
	cli := RequireProgram(t, "redis-cli")
	out, err := exec.Command(cli, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "PING").CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "PONG" {
		t.Fatalf("redis-cli PING printed %q", got)
	}
}

func TestPostgresAnswersQuery(t *testing.T) {
	t.Parallel()
	port, conn := StartPostgres(t)
	psql := RequireProgram(t, "psql")
	args := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}, conn...)
	args = append(args, "-At", "-c", "select 40+2")
	out, err := exec.Command(psql, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "42" {
		t.Fatalf("psql select 40+2 printed %q", got)
	}
}

func TestTmuxRunsShell(t *testing.T) {
	t.Parallel()
	const prompt = "e2e$ "
	tm := StartTmux(t, TmuxOptions{Command: "env PS1='" + prompt + "' sh", Cols: 100, Rows: 30})
	prompts := func(s string) int { return strings.Count(s, prompt) }
	tm.WaitFor(prompt, 10*time.Second)
	// run types line and waits for its output and the next prompt, so that
	// nothing is typed before the shell reads it.
	run := func(line, want string) {
		t.Helper()
		n := prompts(tm.Capture())
		tm.SendKeys(line, "Enter")
		tm.WaitForFunc(fmt.Sprintf("output %q and a new prompt", want), 10*time.Second, func(s string) bool {
			return prompts(s) > n && strings.Contains(s, want)
		})
	}

	// The typed line shows h''i; only the output shows hi.
	run("echo h''i", "\nhi\n")
	run("stty size", "\n30 100\n")
	tm.Resize(90, 20)
	run("stty size", "\n20 90\n")

	// Ctrl-C only once the sleep is the terminal's foreground job: the
	// child shell prints "sleeping" after job control has handed it the
	// terminal, then execs sleep. (A Ctrl-C between the shell's fork and
	// that hand-over interrupts the shell itself and the sleep goes on.)
	n := prompts(tm.Capture())
	tm.SendKeys("sh -c 'echo slee''ping; exec sleep 100'", "Enter")
	tm.WaitFor("\nsleeping\n", 10*time.Second)
	tm.SendKeys("C-c")
	tm.WaitForFunc("a prompt after Ctrl-C", 10*time.Second, func(s string) bool { return prompts(s) > n })
	run("echo after-interrupt", "\nafter-interrupt\n")

	tm.SendKeys("exit 3", "Enter")
	if status := tm.WaitExit(10 * time.Second); status != 3 {
		t.Fatalf("sh exited %d, want 3", status)
	}
}

func TestAWSCLIEnvironment(t *testing.T) {
	t.Parallel()
	plugin := filepath.Join(t.TempDir(), "fake-plugin")
	if err := os.WriteFile(plugin, []byte("#!/bin/sh\necho fake-plugin \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	a := AWSCLI(t, "http://127.0.0.1:1", plugin)
	out, err := a.Command("--version").CombinedOutput()
	if err != nil {
		t.Fatalf("aws --version: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "aws-cli/2.") {
		t.Fatalf("aws --version = %q, want the AWS CLI v2 (Debian's awscli)", out)
	}
	// The plugin is found on aws's PATH under its real name.
	sh := exec.Command("sh", "-c", "session-manager-plugin a b")
	sh.Env = a.Env
	out, err = sh.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "fake-plugin a b" {
		t.Fatalf("session-manager-plugin on PATH: %v %q", err, out)
	}
	line := a.CommandLine("ssm", "start-session", "--target", "%h", "--parameters", "portNumber=%p")
	if !strings.HasSuffix(line, "ssm start-session --target %h --parameters portNumber=%p --endpoint-url http://127.0.0.1:1") {
		t.Fatalf("CommandLine = %q", line)
	}
}

// TestCheckInstalled: the plugin found on aws's PATH passes as the installed
// one only when it resolves to that file.
func TestCheckInstalled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	installed := filepath.Join(dir, "opt", "session-manager-plugin")
	other := filepath.Join(dir, "other", "session-manager-plugin")
	for _, p := range []string{installed, other} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "bin", "session-manager-plugin")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(installed, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{filepath.Dir(link), true},                                         // a symbolic link to it, as /usr/local/bin's
		{filepath.Dir(installed), true},                                    // the file itself
		{filepath.Dir(other) + ":" + filepath.Dir(link), false},            // another one first on PATH
		{filepath.Join(dir, "none"), false},                                // none at all
		{filepath.Join(dir, "none") + ":" + filepath.Dir(installed), true}, // after a directory without one
	} {
		a := &AWS{Env: []string{"HOME=" + dir, "PATH=" + tc.path}}
		if err := a.CheckInstalled(installed); (err == nil) != tc.ok {
			t.Errorf("PATH=%s: CheckInstalled = %v, want ok=%v", tc.path, err, tc.ok)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":         "plain",
		"":              "''",
		"echo hello":    "'echo hello'",
		"it's":          `'it'\''s'`,
		`{"a":1}`:       `'{"a":1}'`,
		"$((6*7))":      "'$((6*7))'",
		"portNumber=%p": "portNumber=%p",
	} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
		if out, err := exec.Command("sh", "-c", "printf %s "+ShellQuote(in)).Output(); err != nil || string(out) != in {
			t.Errorf("sh printf %s = %q, %v; want %q", ShellQuote(in), out, err, in)
		}
	}
}

func TestBuildBinaryOnce(t *testing.T) {
	t.Parallel()
	// Any main package of the module will do; build a tiny one from testdata.
	p1 := BuildBinary(t, "./internal/tools/e2e/testdata/hello")
	p2 := BuildBinary(t, "github.com/ssmwire/ssmwire/internal/tools/e2e/testdata/hello")
	out, err := exec.Command(p1).Output()
	if err != nil || string(out) != "hello\n" {
		t.Fatalf("built hello printed %q, %v", out, err)
	}
	if filepath.Base(p1) != "hello" || filepath.Base(p2) != "hello" {
		t.Fatalf("binaries named %s, %s; want hello", p1, p2)
	}
	if p3 := BuildBinary(t, "./internal/tools/e2e/testdata/hello"); p3 != p1 {
		t.Fatalf("second build of the same package gave %s, want cached %s", p3, p1)
	}
}
