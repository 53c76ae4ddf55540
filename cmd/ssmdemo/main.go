// Command ssmdemo runs a short tour of ssmwire against the in-process emulator ssmtest: a remote command
// with its output and exit code, and bytes through a forwarded port. It needs no AWS account.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/ssmwire/ssmwire/internal/tools/demo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := demo.Run(ctx, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
