package plugincli

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ssmwire/ssmwire/internal/version"
)

// TestBinary builds cmd/session-manager-plugin and runs the forms the AWS CLI uses to find it and pick its
// command line: no arguments (presence check) and --version.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "session-manager-plugin")
	build := exec.Command("go", "build", "-o", bin, "github.com/ssmwire/ssmwire/cmd/session-manager-plugin")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tests := []struct {
		args []string
		out  string
		code int
	}{
		{nil, "\nThe Session Manager plugin was installed successfully. Use the AWS CLI to start a session.\n\n", 0},
		{[]string{"--version"}, version.Version + "\n", 0},
		{[]string{"bogus"}, "\nUnknown operation bogus. \nUse session-manager-plugin --version to check the version.\n\n", 1},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, tt.args...)
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if string(out) != tt.out || code != tt.code {
			t.Errorf("%q: stdout %q, exit %d; want %q, %d", tt.args, out, code, tt.out, tt.code)
		}
	}
}
