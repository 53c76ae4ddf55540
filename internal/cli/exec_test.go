package cli

import (
	"strings"
	"testing"
)

func TestExecExitCodeAndSeparateStderr(t *testing.T) {
	h := newHarness(t, nil)
	r := h.run(t, nil, "exec", "i-0123456789abcdef0", "--", "echo out; echo err >&2; exit 3")
	if r.code != 3 {
		t.Fatalf("exit code %d, want 3; stderr %q", r.code, r.stderr)
	}
	if r.stdout != "out\n" {
		t.Errorf("stdout %q, want %q", r.stdout, "out\n")
	}
	if r.stderr != "err\n" {
		t.Errorf("stderr %q, want %q", r.stderr, "err\n")
	}
}

func TestExecSuccessByName(t *testing.T) {
	h := newHarness(t, nil)
	r := h.run(t, nil, "exec", "ssmtest", "echo", "hello")
	if r.code != 0 || r.stdout != "hello\n" {
		t.Fatalf("code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestShellPipedStdin(t *testing.T) {
	h := newHarness(t, nil)
	r := h.run(t, strings.NewReader("echo shell-says-$((6*7))\nexit\n"), "shell", "i-0123456789abcdef0")
	if r.code != 0 {
		t.Fatalf("code %d stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "shell-says-42") {
		t.Errorf("stdout %q lacks the command's output", r.stdout)
	}
}

// TestExecRaw: --raw sends the command without the sh -c wrapper: the agent splits it into words itself.
func TestExecRaw(t *testing.T) {
	h := newHarness(t, nil)
	r := h.run(t, nil, "exec", "--raw", "i-0123456789abcdef0", "--", "echo a; exit 3")
	if r.code != 0 || r.stdout != "a; exit 3\n" {
		t.Fatalf("code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestExecECSShellSemantics: ECS Exec runs no shell either (the agent in the container splits the command),
// so exec wraps the command in sh -c for ECS targets as well. ECS sessions run on a pty.
func TestExecECSShellSemantics(t *testing.T) {
	h := newHarness(t, nil)
	r := h.run(t, nil, "exec", "ecs:prod/0123456789abcdef", "--", "echo a; echo $((6*7))")
	if r.code != 0 || !strings.Contains(r.stdout, "a\r\n42\r\n") {
		t.Fatalf("code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestExecExitCodeWrap: where the agent reports no exit code (ECS Exec, AWS-StartNonInteractiveCommand) exec
// wraps the command by default and exits with its code; the sentinel line never shows.
func TestExecExitCodeWrap(t *testing.T) {
	h := newHarness(t, nil)
	for _, args := range [][]string{
		{"exec", "ecs:prod/0123456789abcdef", "--", "echo a; exit 3"},
		{"exec", "--document", "AWS-StartNonInteractiveCommand", "i-0123456789abcdef0", "--", "echo a; exit 3"},
		{"exec", "--exit-code=wrap", "i-0123456789abcdef0", "--", "echo a; exit 3"},
	} {
		r := h.run(t, nil, args...)
		if r.code != 3 || strings.TrimRight(r.stdout, "\r\n") != "a" || strings.Contains(r.stdout+r.stderr, "ssmwire_exit") {
			t.Errorf("%q: code %d stdout %q stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestExecExitCodeModes: agent and none turn the wrapper off; wrap cannot go with --raw; a command that is
// killed before the sentinel makes exec fail with a message.
func TestExecExitCodeModes(t *testing.T) {
	h := newHarness(t, nil)
	r := h.run(t, nil, "exec", "--exit-code=agent", "--document", "AWS-StartNonInteractiveCommand", "i-0123456789abcdef0", "--", "exit 3")
	if r.code != 0 {
		t.Errorf("--exit-code=agent without an agent code: exit %d, stderr %q", r.code, r.stderr)
	}
	r = h.run(t, nil, "exec", "--exit-code=none", "i-0123456789abcdef0", "--", "exit 3")
	if r.code != 0 {
		t.Errorf("--exit-code=none: exit %d, stderr %q", r.code, r.stderr)
	}
	r = h.run(t, nil, "exec", "--exit-code=wrap", "--raw", "i-0123456789abcdef0", "--", "true")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "--raw") {
		t.Errorf("--exit-code=wrap --raw: exit %d, stderr %q", r.code, r.stderr)
	}
	r = h.run(t, nil, "exec", "--exit-code=sometimes", "i-0123456789abcdef0", "--", "true")
	if r.code != ExitUsage {
		t.Errorf("--exit-code=sometimes: exit %d, stderr %q", r.code, r.stderr)
	}
	r = h.run(t, nil, "exec", "ecs:prod/0123456789abcdef", "--", "echo before; kill -9 $PPID")
	if r.code != ExitError || !strings.Contains(r.stderr, "without reporting its exit code") {
		t.Errorf("killed wrapper: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
