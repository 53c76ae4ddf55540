package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ssmwire/ssmwire/ssmtest"
)

func namedInstances() *ssmtest.Options {
	return &ssmtest.Options{Instances: []ssmtest.Instance{
		{ID: "i-0aaaaaaaaaaaaaaa1", Name: "web"},
		{ID: "i-0aaaaaaaaaaaaaaa2", Name: "web", PingStatus: "ConnectionLost"},
		{ID: "mi-0bbbbbbbbbbbbbbb1", Name: "db"},
	}}
}

func TestNameTagUnique(t *testing.T) {
	h := newHarness(t, namedInstances())
	r := h.run(t, nil, "exec", "db", "--", "echo ok")
	if r.code != 0 || r.stdout != "ok\n" {
		t.Fatalf("code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if ids := h.srv.SessionIDs(); len(ids) != 1 || h.srv.Session(ids[0]).Target != "mi-0bbbbbbbbbbbbbbb1" {
		t.Errorf("sessions %v", ids)
	}
}

func TestNameTagMissing(t *testing.T) {
	h := newHarness(t, namedInstances())
	r := h.run(t, nil, "exec", "nope", "--", "true")
	if r.code != 1 || !strings.Contains(r.stderr, "no managed instance has Name tag nope") {
		t.Fatalf("code %d stderr %q", r.code, r.stderr)
	}
}

func TestNameTagAmbiguous(t *testing.T) {
	h := newHarness(t, namedInstances())
	r := h.run(t, nil, "shell", "web")
	if r.code != 1 {
		t.Fatalf("code %d, want 1", r.code)
	}
	for _, want := range []string{"2 managed instances have Name tag web", "i-0aaaaaaaaaaaaaaa1  Online", "i-0aaaaaaaaaaaaaaa2  ConnectionLost"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if n := len(h.srv.SessionIDs()); n != 0 {
		t.Errorf("%d sessions started", n)
	}
}

func TestTargets(t *testing.T) {
	h := newHarness(t, namedInstances())
	r := h.run(t, nil, "targets")
	if r.code != 0 {
		t.Fatalf("code %d stderr %q", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "ID ") {
		t.Fatalf("output:\n%s", r.stdout)
	}
	// Sorted by name, then id.
	for i, want := range []string{"mi-0bbbbbbbbbbbbbbb1 db", "i-0123456789abcdef0 ssmtest", "i-0aaaaaaaaaaaaaaa1 web", "i-0aaaaaaaaaaaaaaa2 web"} {
		if f := strings.Fields(lines[i+1]); len(f) < 2 || f[0]+" "+f[1] != want {
			t.Errorf("line %d %q, want it to start with %q", i+1, lines[i+1], want)
		}
	}
	if !strings.Contains(lines[4], "ConnectionLost") {
		t.Errorf("ping status missing: %q", lines[4])
	}

	r = h.run(t, nil, "targets", "--json")
	var got []map[string]string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var m map[string]string
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, m)
	}
	if len(got) != 4 || got[0]["name"] != "db" || got[0]["id"] != "mi-0bbbbbbbbbbbbbbb1" || got[3]["ping_status"] != "ConnectionLost" {
		t.Errorf("json: %v", got)
	}
}
