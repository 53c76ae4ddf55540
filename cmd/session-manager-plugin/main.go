// Command session-manager-plugin is a drop-in replacement for AWS's Session Manager plugin: the AWS CLI runs
// it for `aws ssm start-session` and `aws ecs execute-command`. All logic lives in internal/plugincli.
package main

import (
	"context"
	"os"

	"github.com/ssmwire/ssmwire/internal/plugincli"
)

func main() {
	stop := startProfiles()
	code := plugincli.Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, plugincli.OSEnv())
	stop()
	os.Exit(code)
}
