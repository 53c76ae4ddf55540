// Command ssmtest runs the Session Manager emulator (package ssmtest) as a standalone
// endpoint for the AWS CLI, session-manager-plugin or a benchmark in another process.
// It prints SSMTEST_ENDPOINT=<url> (with -tls, SSMTEST_CA_BUNDLE=<file> first) once listening and runs until SIGINT or SIGTERM.
//
//	ssmtest [-addr 127.0.0.1:0] [-agent-version V] [-no-pacing] [-kms-key K] [-max-message-size N] [-shell P] [-v]
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
