// Command ssmrelease builds an ssmwire release; scripts/release runs it. See package
// github.com/ssmwire/ssmwire/internal/tools/release.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/ssmwire/ssmwire/internal/tools/release"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := release.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
