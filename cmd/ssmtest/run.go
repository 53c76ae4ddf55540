package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"text/tabwriter"

	"github.com/ssmwire/ssmwire/ssmtest"
)

// printWelcome tells a person what the server serves and how to reach it.
func printWelcome(w io.Writer, srv *ssmtest.Server) {
	fmt.Fprintf(w, "ssmtest: listening on %s; managed nodes:\n", srv.URL)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, in := range srv.Instances() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", in.ID, in.Name, in.PingStatus, in.IPAddress, in.PrivateDNSName)
	}
	tw.Flush()
	name := ssmtest.DefaultInstanceName
	fmt.Fprintf(w, `Try it from another terminal (any key works):
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=%s
  ssmwire --endpoint-url %s shell %s
  aws --endpoint-url %s ssm start-session --target %s
`, ssmtest.DefaultRegion, srv.URL, name, srv.URL, ssmtest.DefaultInstanceID)
}

// run runs the server until ctx ends and returns the process exit code. Once it is
// listening it prints SSMTEST_ENDPOINT=<url> to stdout, after SSMTEST_CA_BUNDLE=<file> with -tls.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ssmtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen `address`")
	agentVersion := fs.String("agent-version", ssmtest.DefaultAgentVersion, "agent `version` reported in handshakes")
	noPacing := fs.Bool("no-pacing", false, "turn off the real agent's pacing (1 KiB reads, 1 ms sleep per message)")
	kmsKey := fs.String("kms-key", "", "require KMS encryption with this `key` for non-port sessions")
	maxMsg := fs.Int("max-message-size", ssmtest.DefaultMaxMessageSize, "largest client message payload in `bytes`")
	shell := fs.String("shell", "/bin/sh", "`program` for shell sessions")
	verbose := fs.Bool("v", false, "log to stderr")
	allowUnsigned := fs.Bool("allow-unsigned", false, "let data-channel upgrades without a SigV4 signature in (plugins before 1.2.764.0)")
	presigned := fs.Bool("presigned", false, "hand out presigned stream URLs")
	useTLS := fs.Bool("tls", false, "serve https and wss with a certificate from a CA made at start; prints SSMTEST_CA_BUNDLE=<file> for AWS_CA_BUNDLE")
	hostname := fs.String("hostname", "", "host `name` in the endpoint and stream URLs instead of the listen address (it must resolve to it)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: ssmtest [flags]\n\nRuns an emulated AWS Session Manager endpoint (SSM, ECS, KMS, MGS) until interrupted.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ssmtest: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "ssmtest: %v\n", err)
		return 1
	}
	srv := ssmtest.NewUnstartedServer(&ssmtest.Options{
		AgentVersion:   *agentVersion,
		NoPacing:       *noPacing,
		KMSKeyID:       *kmsKey,
		MaxMessageSize: *maxMsg,
		Shell:          *shell,
		Logger:         logger,

		AllowUnsignedUpgrade: *allowUnsigned,
		PresignedStreamURLs:  *presigned,
		Hostname:             *hostname,
	})
	srv.Listener.Close()
	srv.Listener = ln
	if *useTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	defer srv.Close()
	if *useTLS {
		fmt.Fprintf(stdout, "SSMTEST_CA_BUNDLE=%s\n", srv.CAFile())
	}
	fmt.Fprintf(stdout, "SSMTEST_ENDPOINT=%s\n", srv.URL)
	printWelcome(stderr, srv)
	<-ctx.Done()
	return 0
}
