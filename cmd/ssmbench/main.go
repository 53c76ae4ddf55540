// Command ssmbench measures session-manager-plugin binaries through a forwarded TCP port against the
// ssmtest emulator, next to the emulator's own ceiling. See internal/tools/bench and BENCHMARKS.md.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/ssmwire/ssmwire/internal/tools/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := bench.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
