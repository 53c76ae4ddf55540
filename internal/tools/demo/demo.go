// Package demo is the tour that `go run ./cmd/ssmdemo` prints: ssmwire's library against ssmtest, the
// in-process emulator of the AWS side, so a new user sees a real session work without an AWS account.
package demo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// Run runs the tour, writing to stdout and stderr, and returns the process exit code.
func Run(ctx context.Context, stdout, stderr io.Writer) int {
	if err := run(ctx, stdout); err != nil {
		fmt.Fprintf(stderr, "ssmdemo: %v\n", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	srv := ssmtest.NewServer(nil) // the agent paces itself like the real one: 1 KiB per message, 1 ms apart
	defer srv.Close()
	fmt.Fprintf(out, "ssmtest: emulated SSM, KMS, ECS and ssmmessages at %s (agent %s)\n\n", srv.URL, ssmtest.DefaultAgentVersion)

	api := ssm.New(ssm.Options{
		Region:       ssmtest.DefaultRegion,
		BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDDEMO", SecretAccessKey: "demo"}, nil
		}),
	})
	client, err := ssmwire.New(&ssmwire.Config{SSM: api})
	if err != nil {
		return err
	}
	target := ssmtest.DefaultInstanceID

	// 1. A command with separate stdout and stderr, whose exit code comes back.
	script := `echo "hello from $(uname -s) on the emulated instance"; echo "this line went to stderr" >&2; exit 7`
	fmt.Fprintf(out, "1. ssmwire.Client.Run on %s, document SSMWire-RunCommand:\n   $ %s\n", target, script)
	// The agent runs no shell for commands: it splits them into words and executes them. Run therefore
	// sends the command wrapped in sh -c, which is what a real instance then executes.
	fmt.Fprintf(out, "   (sent to the agent as: %s)\n", ssmwire.ShellCommand(script))
	var stdoutBuf, stderrBuf strings.Builder
	err = client.Run(ctx, target, ssmwire.Command{Document: "SSMWire-RunCommand", Command: script, Stdout: &stdoutBuf, Stderr: &stderrBuf})
	var exit *ssmwire.ExitError
	if !errors.As(err, &exit) {
		return fmt.Errorf("run: want the remote exit status, got %v", err)
	}
	fmt.Fprintf(out, "   stdout: %q\n   stderr: %q\n   exit code: %d (the agent reports it for documents with separate output streams)\n\n",
		stdoutBuf.String(), stderrBuf.String(), exit.Code)

	// 2. A port forward to a "database" on the instance's side: an echo server on 127.0.0.1.
	db, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer db.Close()
	go serveEcho(db)
	dbPort := db.Addr().(*net.TCPAddr).Port
	tunnel, err := client.Forward(ctx, target, ssmwire.Remote{Port: dbPort})
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	defer tunnel.Close()
	local, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go tunnel.Serve(ctx, local)
	fmt.Fprintf(out, "2. Port forward (session %s, %s mode): localhost:%d → instance port %d\n",
		tunnel.SessionID(), tunnel.Forwarder().Mode(), local.Addr().(*net.TCPAddr).Port, dbPort)
	conn, err := net.Dial("tcp", local.Addr().String())
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	msg := "PING through Session Manager"
	fmt.Fprintf(conn, "%s\n", msg)
	reply, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read through the tunnel: %w", err)
	}
	fmt.Fprintf(out, "   sent %q, the far side echoed %q\n\n", msg, strings.TrimSpace(reply))

	info := srv.Session(tunnel.SessionID())
	fmt.Fprintf(out, "ssmtest counted %d frames to the agent and %d to the client, %d duplicates at the agent.\n",
		info.Stats.FramesToAgent, info.Stats.FramesToClient, info.Stats.DuplicatesAtAgent)
	fmt.Fprintln(out, "Next: `go run ./cmd/ssmtest` serves the same emulator for the AWS CLI and our session-manager-plugin (see README.md).")
	return nil
}

func serveEcho(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}
