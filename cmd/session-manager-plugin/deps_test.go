package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestNoEC2Client: the plugin is a drop-in replacement and stays small; the EC2 client the ssmwire command
// uses to name instances must not be linked into it.
func TestNoEC2Client(t *testing.T) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/aws/aws-sdk-go-v2/service/ec2") {
			t.Errorf("session-manager-plugin links %s", p)
		}
	}
}
