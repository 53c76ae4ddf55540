//go:build e2e

package realtest

import (
	"strings"
	"testing"
	"time"
)

// TestAWSECSExecuteCommand runs `aws ecs execute-command`, which calls ECS
// ExecuteCommand and DescribeTasks (for the container's runtimeId) and then
// runs the plugin with the ECS session (AWSCLI.md).
func TestAWSECSExecuteCommand(t *testing.T) {
	t.Parallel()
	_, a := newAWS(t)
	out := runAWS(t, a, 60*time.Second, "ecs", "execute-command",
		"--cluster", "c", "--task", "t", "--container", "app",
		"--interactive", "--command", "echo hi")
	// The command runs on a pty, so its output line ends in \r\n. Before
	// the session, the CLI's presence check prints whatever our plugin
	// prints with no arguments.
	if !strings.Contains(out, "hi\r\n") && !strings.Contains(out, "hi\n") {
		t.Fatalf("aws ecs execute-command echo hi printed:\n%s", out)
	}
}
