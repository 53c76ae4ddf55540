package cli

import (
	"encoding/json"
	"fmt"
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
	if r.code != ExitError || !strings.Contains(r.stderr, `no managed node has the Name tag, private address or DNS name "nope"`) {
		t.Fatalf("code %d stderr %q", r.code, r.stderr)
	}
}

func TestNameTagAmbiguous(t *testing.T) {
	h := newHarness(t, namedInstances())
	r := h.run(t, nil, "shell", "web")
	if r.code != ExitError {
		t.Fatalf("code %d, want 255", r.code)
	}
	for _, want := range []string{`2 managed nodes match "web"`, "i-0aaaaaaaaaaaaaaa1  web   Online", "i-0aaaaaaaaaaaaaaa2  web   ConnectionLost"} {
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

// ec2Nodes are EC2 instances and a hybrid node as AWS shows them: the Name tags of i-… come from EC2 only.
func ec2Nodes(deny ...string) *ssmtest.Options {
	return &ssmtest.Options{DenyActions: deny, Instances: []ssmtest.Instance{
		{ID: "i-0aaaaaaaaaaaaaaa1", Name: "api", IPAddress: "10.0.3.7"},
		{ID: "i-0aaaaaaaaaaaaaaa2", Name: "batch", IPAddress: "10.0.3.8", PrivateDNSName: "ip-10-0-3-8.eu-west-1.compute.internal"},
		{ID: "mi-0bbbbbbbbbbbbbbb1", Name: "rack", IPAddress: "192.168.1.4"},
	}}
}

func TestTargetsShowEC2Names(t *testing.T) {
	h := newHarness(t, ec2Nodes())
	r := h.run(t, nil, "targets")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("code %d stderr %q", r.code, r.stderr)
	}
	rows := map[string]string{}
	for _, l := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			rows[f[0]] = strings.Join(f, " ")
		}
	}
	for id, want := range map[string]string{
		"i-0aaaaaaaaaaaaaaa1":  "api Online Amazon Linux 2023 10.0.3.7 ip-10-0-3-7.ec2.internal",
		"i-0aaaaaaaaaaaaaaa2":  "batch Online Amazon Linux 2023 10.0.3.8 ip-10-0-3-8.eu-west-1.compute.internal",
		"mi-0bbbbbbbbbbbbbbb1": "rack Online Amazon Linux 2023 192.168.1.4 -",
		"i-0123456789abcdef0":  "ssmtest Online",
	} {
		if !strings.HasPrefix(rows[id], id+" "+want) {
			t.Errorf("row %q, want it to start with %q", rows[id], id+" "+want)
		}
	}
	// --quiet silences chatter, not the requested list.
	if q := h.run(t, nil, "--quiet", "targets"); q.code != 0 || q.stdout != r.stdout {
		t.Errorf("--quiet targets: code %d stdout %q", q.code, q.stdout)
	}
}

func TestTargetsWithoutEC2Permission(t *testing.T) {
	h := newHarness(t, ec2Nodes("ec2:DescribeInstances"))
	r := h.run(t, nil, "targets")
	if r.code != 0 || !strings.Contains(r.stderr, "need ec2:DescribeInstances") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("code %d stderr %q", r.code, r.stderr)
	}
	// The hybrid node keeps its SSM name; the EC2 instances have none.
	if !strings.Contains(r.stdout, "mi-0bbbbbbbbbbbbbbb1  rack") || strings.Contains(r.stdout, "api") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	// A Name tag still resolves through SSM's tag filter.
	if r := h.run(t, nil, "exec", "api", "--", "echo ok"); r.code != 0 || r.stdout != "ok\n" {
		t.Errorf("exec api: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	// A DNS name cannot be found without EC2: the error says why.
	r = h.run(t, nil, "exec", "ip-10-0-3-7.ec2.internal", "--", "true")
	if r.code != ExitError || !strings.Contains(r.stderr, "need ec2:DescribeInstances") {
		t.Errorf("exec by address: code %d stderr %q", r.code, r.stderr)
	}
}

func TestTargetByAddressAndDNSName(t *testing.T) {
	h := newHarness(t, ec2Nodes())
	for word, id := range map[string]string{
		"api":                                    "i-0aaaaaaaaaaaaaaa1",
		"10.0.3.7":                               "i-0aaaaaaaaaaaaaaa1",
		"ip-10-0-3-7.ec2.internal":               "i-0aaaaaaaaaaaaaaa1",
		"ip-10-0-3-8":                            "i-0aaaaaaaaaaaaaaa2",
		"ip-10-0-3-8.eu-west-1.compute.internal": "i-0aaaaaaaaaaaaaaa2",
		"rack":                                   "mi-0bbbbbbbbbbbbbbb1",
	} {
		before := len(h.srv.SessionIDs())
		r := h.run(t, nil, "exec", word, "--", "true")
		ids := h.srv.SessionIDs()
		if r.code != 0 || len(ids) != before+1 || h.srv.Session(ids[len(ids)-1]).Target != id {
			t.Errorf("%s: code %d stderr %q, want a session on %s", word, r.code, r.stderr, id)
		}
	}
	r := h.run(t, nil, "exec", "i-bad", "--", "true")
	if r.code != ExitError || !strings.Contains(r.stderr, "an instance id is i- and 8 or 17 hex digits") {
		t.Errorf("i-bad: code %d stderr %q", r.code, r.stderr)
	}
}

// TestTargetsManyInstances: more instances than one DescribeInstances call may name (EC2 takes 200 filter
// values) are asked about in batches, and every name arrives.
func TestTargetsManyInstances(t *testing.T) {
	var insts []ssmtest.Instance
	for i := range 450 {
		insts = append(insts, ssmtest.Instance{ID: fmt.Sprintf("i-0%016x", i+1), Name: fmt.Sprintf("node-%03d", i)})
	}
	h := newHarness(t, &ssmtest.Options{Instances: insts})
	r := h.run(t, nil, "targets", "--json")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("code %d stderr %q", r.code, r.stderr)
	}
	named := 0
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var m map[string]string
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(m["name"], "node-") {
			named++
		}
	}
	if named != 450 {
		t.Errorf("%d of 450 instances named", named)
	}
}
