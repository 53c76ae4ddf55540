// Command session-manager-plugin is a drop-in replacement for AWS's Session Manager plugin: the AWS CLI runs
// it for `aws ssm start-session` and `aws ecs execute-command`. All logic lives in internal/plugincli.
package main

import (
	"context"
	"os"
	"runtime/debug"

	"github.com/ssmwire/ssmwire/internal/plugincli"
)

// gcPercent is the plugin's GOGC unless the environment sets one. Its live heap is small (about 4 MiB, most
// of it the AWS SDK's tables, built by package initialisers) and it allocates little per message, so
// collecting at 25 % growth instead of 100 % keeps 2 MiB off its resident set in a 64 MiB upload for no
// measurable CPU (BENCHMARKS.md, "Memory").
const gcPercent = 25

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	stop := startProfiles()
	code := plugincli.Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, plugincli.OSEnv())
	stop()
	os.Exit(code)
}
