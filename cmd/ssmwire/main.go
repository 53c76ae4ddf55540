// Command ssmwire starts AWS Session Manager shells, commands and port forwards without the
// session-manager-plugin; see internal/cli for its commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ssmwire/ssmwire/internal/cli"
)

func main() {
	// SIGHUP too: ssh sends it to its ProxyCommand (ssmwire ssh-proxy) when it exits, and the session must
	// then be terminated, not left to the idle timeout.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := cli.Main(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
