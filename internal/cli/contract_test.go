package cli

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
)

// TestDidYouMean: a near miss of a command or a flag gets the closest name, and the usage hint names the
// command's own help.
func TestDidYouMean(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"shel"}, []string{`unknown command "shel"; did you mean "shell"?`, "Run 'ssmwire help' for usage."}},
		{[]string{"forwrad"}, []string{`did you mean "forward"?`}},
		{[]string{"targets", "--jsno"}, []string{"unknown flag --jsno; did you mean --json?", "Run 'ssmwire help targets' for usage."}},
		{[]string{"exec", "--documnet", "X", "i-0123456789abcdef0", "--", "true"}, []string{"did you mean --document?", "ssmwire help exec"}},
		{[]string{"help", "tragets"}, []string{`did you mean "targets"?`}},
		{[]string{"zzzzzz"}, []string{`unknown command "zzzzzz"` + "\n"}},
	} {
		r := h.run(t, nil, tc.args...)
		if r.code != ExitUsage {
			t.Errorf("%v: code %d", tc.args, r.code)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%v: stderr %q lacks %q", tc.args, r.stderr, w)
			}
		}
	}
}

// TestJSONErrors: with --json the error that ends the command is one JSON object on standard error.
func TestJSONErrors(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct {
		args []string
		kind string
	}{
		{[]string{"--json", "shel"}, "usage"},
		{[]string{"--json", "exec", "nope", "--", "true"}, "error"},
	} {
		r := h.run(t, nil, tc.args...)
		var e struct {
			Event    string `json:"event"`
			Kind     string `json:"kind"`
			Error    string `json:"error"`
			ExitCode int    `json:"exit_code"`
		}
		if err := json.Unmarshal([]byte(r.stderr), &e); err != nil || strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("%v: stderr %q is not one JSON object: %v", tc.args, r.stderr, err)
		}
		if r.code != 255 || e.Event != "error" || e.Kind != tc.kind || e.ExitCode != 255 || e.Error == "" {
			t.Errorf("%v: code %d, %+v", tc.args, r.code, e)
		}
	}
}

// TestOneLineErrors: failures the SDK reports as a chain of wrappers reach the user as one line saying what
// to do.
func TestOneLineErrors(t *testing.T) {
	h := newHarness(t, nil)
	r := h.run(t, nil, "exec", "--document", "Missing-Doc", "i-0123456789abcdef0", "--", "true")
	if r.code != ExitError || strings.Count(r.stderr, "\n") != 1 || strings.Contains(r.stderr, "operation error") ||
		!strings.Contains(r.stderr, "Missing-Doc does not exist") || !strings.Contains(r.stderr, "ssmwire setup") {
		t.Errorf("missing document: code %d stderr %q", r.code, r.stderr)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	r = h.run(t, nil, "--endpoint-url", dead, "targets")
	if r.code != ExitError || strings.Count(r.stderr, "\n") != 1 || strings.Contains(r.stderr, "operation error") ||
		!strings.Contains(r.stderr, "cannot reach "+strings.TrimPrefix(dead, "http://")+" for SSM DescribeInstanceInformation (connection refused)") {
		t.Errorf("unreachable endpoint: code %d stderr %q", r.code, r.stderr)
	}
}
