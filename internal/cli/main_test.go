package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
)

func TestUsage(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct {
		args []string
		code int
		out  string // in stdout (code 0) or stderr
	}{
		{[]string{"nope"}, ExitUsage, `unknown command "nope"`},
		{[]string{"exec", "i-0123456789abcdef0"}, ExitUsage, "want TARGET and a COMMAND"},
		{[]string{"forward", "i-0123456789abcdef0", "5432"}, ExitUsage, `forward "5432"`},
		{[]string{"ssh-proxy", "i-0123456789abcdef0", "x"}, ExitUsage, "not a port number"},
		{[]string{"--json", "--quiet", "targets"}, ExitUsage, "exclude each other"},
		{[]string{"help", "exec"}, 0, "agent reports an exit code only for documents"},
		{[]string{"exec", "--help"}, 0, "-document document"},
		{[]string{"help"}, 0, "\n  forward "},
		{[]string{"--version"}, 0, "ssmwire "},
	} {
		r := h.run(t, nil, tc.args...)
		text := r.stderr
		if tc.code == 0 {
			text = r.stdout
		}
		if r.code != tc.code || !strings.Contains(text, tc.out) {
			t.Errorf("%v: code %d, stdout %q, stderr %q; want %d and %q", tc.args, r.code, r.stdout, r.stderr, tc.code, tc.out)
		}
	}
}

func TestExecDocumentFlag(t *testing.T) {
	h := newHarness(t, nil)
	// AWS's document merges the streams and reports no exit code: --exit-code=wrap (the default there) gets it.
	r := h.run(t, nil, "exec", "--document", "AWS-StartNonInteractiveCommand", "i-0123456789abcdef0", "--", "echo out; echo err >&2; exit 3")
	if r.code != 3 || !strings.Contains(r.stdout, "out") || !strings.Contains(r.stdout, "err") {
		t.Errorf("code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestExecECS(t *testing.T) {
	h := newHarness(t, nil)
	r := h.run(t, nil, "exec", "ecs:prod/0123456789abcdef/app", "--", "echo from-container")
	if r.code != 0 || !strings.Contains(r.stdout, "from-container") {
		t.Fatalf("code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	ids := h.srv.SessionIDs()
	if len(ids) != 1 || !strings.HasPrefix(h.srv.Session(ids[0]).Target, "ecs:prod_0123456789abcdef_") {
		t.Errorf("sessions %v", ids)
	}
	r = h.run(t, nil, "forward", "ecs:prod/0123456789abcdef/sidecar", "1:localhost:2")
	if r.code != ExitError || !strings.Contains(r.stderr, "no container sidecar (it has: app)") {
		t.Errorf("forward to a missing ECS container: code %d stderr %q", r.code, r.stderr)
	}
}

func TestForwardPlainAndQuiet(t *testing.T) {
	h := newHarness(t, nil)
	a := echoServer(t, "a")
	for _, quiet := range []bool{false, true} {
		args := []string{"forward", "i-0123456789abcdef0", fmt.Sprintf("127.0.0.1:0:localhost:%d", a)}
		if quiet {
			args = append(args, "--quiet", "--debug") // --debug logs to stderr, which tells when the tunnel is up
		}
		r := h.start(t, nil, args...)
		if quiet {
			r.stderr.WaitFor(t, "tunnel ready")
		} else {
			r.stdout.WaitFor(t, "listening on 127.0.0.1:")
		}
		if code := r.stop(t); code != 0 {
			t.Fatalf("quiet=%v: code %d stderr %q", quiet, code, r.stderr.String())
		}
		out := r.stdout.String()
		if quiet && out != "" {
			t.Errorf("--quiet printed %q", out)
		}
		if !quiet && (!strings.Contains(out, "session ") || !strings.Contains(out, "started")) {
			t.Errorf("plain output %q", out)
		}
		for _, id := range h.srv.SessionIDs() {
			if !h.srv.Session(id).Ended {
				t.Errorf("session %s not ended", id)
			}
		}
	}
}

func TestStatusLine(t *testing.T) {
	fw, _ := ParseForward("5432:db.internal:5432")
	k := &keeper{tunnel: "staging-db", fw: fw}
	k.sessionID.Store("alice-0123")
	k.conns.Store(3)
	k.open.Store(1)
	k.bytesUp.Store(1200)
	k.bytesDn.Store(45_000_000)
	got := statusLine(k)
	for _, want := range []string{"staging-db", "127.0.0.1:5432 → db.internal:5432", "session alice-0123", "conns 3 (1 open)", "↑1.2 kB", "↓45.0 MB"} {
		if !strings.Contains(got, want) {
			t.Errorf("status line %q lacks %q", got, want)
		}
	}
	var out testkit.Buffer
	r := &reporter{mode: reportTerminal, out: &out, errw: &out, now: time.Now}
	r.add(k)
	r.emit(event{Event: evSessionEnded, SessionID: "alice-0123", Reason: "closed by the service"}, k)
	r.emit(event{Event: evError, Error: "boom"}, k)
	s := out.String()
	if !strings.Contains(s, "session alice-0123 ended") || !strings.Contains(s, "\x1b[1A\x1b[J") || strings.Count(s, "conns 3") != 2 {
		t.Errorf("terminal output %q", s)
	}
}
