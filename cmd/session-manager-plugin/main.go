// Command session-manager-plugin is a drop-in replacement for AWS's Session Manager plugin: the AWS CLI runs
// it for `aws ssm start-session` and `aws ecs execute-command`. All logic lives in internal/plugincli.
package main

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/ssmwire/ssmwire/internal/plugincli"
)

// gcPercent is the plugin's GOGC unless the environment sets one. Its live heap is small (about 4 MiB, most
// of it the AWS SDK's tables, built by package initialisers) and it allocates little per message, so
// collecting at 25 % growth instead of 100 % keeps 2 MiB off its resident set in a 64 MiB upload for no
// measurable CPU (BENCHMARKS.md, "Memory").
const gcPercent = 25

// maxProcs is the plugin's GOMAXPROCS unless the environment sets one. A session's work is a chain of
// hand-offs between goroutines (local socket, smux, packer, the session's writer, the websocket, and back),
// each too short to be worth another core: with more than one P nearly every hand-off wakes another thread
// (a futex call, a spinning M looking for work) instead of running next on the same one. One P cost upload
// CPU 0.0069 -> 0.0058 s/MiB and echo p50 289 -> 188 µs in one run, at the same throughput (BENCHMARKS.md,
// "Issue 18"); a single core moves well over 100 MiB/s, more than the service carries.
const maxProcs = 1

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(maxProcs)
	}
	stop := startProfiles()
	code := plugincli.Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, plugincli.OSEnv())
	stop()
	os.Exit(code)
}
