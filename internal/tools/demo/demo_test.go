package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestDemoRuns(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Run(context.Background(), &out, &errb); code != 0 {
		t.Fatalf("exit %d, stderr %s\nstdout:\n%s", code, errb.String(), out.String())
	}
	for _, want := range []string{
		`stdout: "hello from Linux on the emulated instance\n"`,
		`stderr: "this line went to stderr\n"`,
		"exit code: 7",
		`(sent to the agent as: sh -c 'echo "hello`,
		`the far side echoed "PING through Session Manager"`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
