package cli

import (
	"io"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// TestExecFlagsAfterTarget: flags after TARGET are ssmwire's until --, never sent to the remote shell; a
// flag of the command's own without -- is refused with a message saying where it goes.
func TestExecFlagsAfterTarget(t *testing.T) {
	h := newHarness(t, nil)
	r := h.run(t, nil, "exec", "i-0123456789abcdef0", "echo", "hi", "--exit-code", "none")
	if r.code != 0 || r.stdout != "hi\n" {
		t.Errorf("our flag after the command: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = h.run(t, nil, "exec", "i-0123456789abcdef0", "ls", "-la")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "unknown flag --la") ||
		!strings.Contains(r.stderr, "ssmwire exec TARGET -- ls -la") {
		t.Errorf("remote flag without --: code %d stderr %q", r.code, r.stderr)
	}
	if n := len(h.srv.SessionIDs()); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
	r = h.run(t, nil, "exec", "i-0123456789abcdef0", "--", "echo", "--document", "-n")
	if r.code != 0 || r.stdout != "--document -n\n" {
		t.Errorf("after --: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestExecStdinWarning: input that the command cannot get is reported once, not dropped in silence.
func TestExecStdinWarning(t *testing.T) {
	h := newHarness(t, nil)
	r := h.run(t, strings.NewReader("data for the command\n"), "exec", "i-0123456789abcdef0", "--", "true")
	if r.code != 0 || strings.Count(r.stderr, "standard input had data that did not reach the command") != 1 {
		t.Errorf("code %d stderr %q", r.code, r.stderr)
	}
	r = h.run(t, nil, "exec", "i-0123456789abcdef0", "--", "true")
	if r.code != 0 || strings.Contains(r.stderr, "standard input") {
		t.Errorf("no input: code %d stderr %q", r.code, r.stderr)
	}
}

// TestStartingLine: on a terminal, standard error says which session is starting; not with --quiet, and
// never into a pipe.
func TestStartingLine(t *testing.T) {
	h := newHarness(t, nil)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	seen := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(ptmx)
		seen <- string(b)
	}()
	var out testkit.Buffer
	ctx := testkit.Context(t)
	for _, args := range [][]string{{"exec", "ssmtest", "--", "true"}, {"--quiet", "exec", "i-0123456789abcdef0", "--", "true"}} {
		code := Main(ctx, append([]string{"--endpoint-url", h.srv.URL}, args...), h.env, strings.NewReader(""), &out, tty)
		if code != 0 {
			t.Fatalf("%v: code %d", args, code)
		}
	}
	tty.Close()
	got := <-seen
	if strings.Count(got, "starting session") != 1 || !strings.Contains(got, "ssmwire: starting session on ssmtest (i-0123456789abcdef0)") {
		t.Errorf("terminal got %q", got)
	}
	if r := h.run(t, nil, "exec", "ssmtest", "--", "true"); strings.Contains(r.stderr, "starting") {
		t.Errorf("a pipe got %q", r.stderr)
	}
}

// TestExecFreshAccount: without SSMWire-RunCommand, exec says so once and runs with AWS's document and the
// wrapper; 'ssmwire setup' shows and creates the document, after which exec uses it.
func TestExecFreshAccount(t *testing.T) {
	h := newHarness(t, &ssmtest.Options{NoRunCommandDocument: true})
	r := h.run(t, nil, "exec", "i-0123456789abcdef0", "--", "echo out; exit 3")
	if r.code != 3 || r.stdout != "out\n" || strings.Count(r.stderr, "SSMWire-RunCommand does not exist") != 1 ||
		!strings.Contains(r.stderr, "ssmwire setup") {
		t.Fatalf("fallback: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	ids := h.srv.SessionIDs()
	if got := h.srv.Session(ids[len(ids)-1]).DocumentName; got != "AWS-StartNonInteractiveCommand" {
		t.Errorf("document %s", got)
	}

	r = h.run(t, nil, "setup", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "Would create the Session document SSMWire-RunCommand") ||
		!strings.Contains(r.stdout, `"separateOutputStream": true`) {
		t.Fatalf("dry run: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = h.run(t, nil, "setup")
	if r.code != 0 || !strings.Contains(r.stdout, "Creating the Session document SSMWire-RunCommand") || !strings.Contains(r.stdout, "Created.") {
		t.Fatalf("setup: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = h.run(t, nil, "setup")
	if r.code != 0 || !strings.Contains(r.stdout, "already exists") {
		t.Errorf("setup again: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = h.run(t, nil, "setup", "--json")
	if r.code != 0 || !strings.HasPrefix(r.stdout, `{"document":"SSMWire-RunCommand","region":"us-east-1","state":"exists"`) {
		t.Errorf("setup --json: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}

	// Now the document reports the exit code and keeps the streams apart.
	r = h.run(t, nil, "exec", "i-0123456789abcdef0", "--", "echo out; echo err >&2; exit 4")
	if r.code != 4 || r.stdout != "out\n" || !strings.Contains(r.stderr, "err\n") || strings.Contains(r.stderr, "does not exist") {
		t.Errorf("after setup: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	ids = h.srv.SessionIDs()
	if got := h.srv.Session(ids[len(ids)-1]).DocumentName; got != "SSMWire-RunCommand" {
		t.Errorf("document %s", got)
	}
}

func TestSetupDenied(t *testing.T) {
	h := newHarness(t, &ssmtest.Options{NoRunCommandDocument: true, DenyActions: []string{"ssm:CreateDocument"}})
	r := h.run(t, nil, "setup")
	if r.code != ExitError || !strings.Contains(r.stderr, "ssm:CreateDocument") || strings.Contains(r.stderr, "operation error") {
		t.Errorf("code %d stderr %q", r.code, r.stderr)
	}
}
