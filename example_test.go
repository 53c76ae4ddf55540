package ssmwire_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/testkit/clientkit"
	"github.com/ssmwire/ssmwire/shell"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// The examples' emulated AWS side and database, shared with pool's (internal/testkit/clientkit).
var (
	exampleClient = clientkit.ExampleClient
	startDatabase = clientkit.StartDatabase
)

// Run a command on an instance and get its exit status. SSMWire-RunCommand is a customer document of session
// type NonInteractiveCommands with separateOutputStream set, the kind of document that reports separate
// stdout and stderr and an exit code (AWS's own AWS-StartNonInteractiveCommand reports neither).
func ExampleClient_Run() {
	c, srv := exampleClient()
	defer srv.Close()
	ctx := context.Background()

	err := c.Run(ctx, "i-0123456789abcdef0", ssmwire.Command{
		Document: "SSMWire-RunCommand",
		Command:  "echo hello from the instance; exit 3",
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
	})
	var exit *ssmwire.ExitError
	switch {
	case errors.As(err, &exit):
		fmt.Println("exit status", exit.Code)
	case err != nil:
		fmt.Println("error:", err)
	}
	// Output:
	// hello from the instance
	// exit status 3
}

// AWS's own command document reports no exit code; ExitCodeWrap gets it anyway, from a wrapper shell that
// prints it on a sentinel line Run removes from the output.
func ExampleClient_Run_exitCodeWrap() {
	c, srv := exampleClient()
	defer srv.Close()
	ctx := context.Background()

	err := c.Run(ctx, "i-0123456789abcdef0", ssmwire.Command{
		Document: "AWS-StartNonInteractiveCommand",
		Command:  "echo hello from the instance; exit 3",
		ExitCode: ssmwire.ExitCodeWrap,
		Stdout:   os.Stdout,
	})
	var exit *ssmwire.ExitError
	switch {
	case errors.As(err, &exit):
		fmt.Println("exit status", exit.Code)
	case err != nil:
		fmt.Println("error:", err)
	}
	// Output:
	// hello from the instance
	// exit status 3
}

// Dial a database port through an instance, as net.Dial would through a bastion host. The connection has its
// own session; closing it ends the session.
func ExampleClient_Dial() {
	c, srv := exampleClient()
	defer srv.Close()
	dbPort, stop := startDatabase()
	defer stop()
	ctx := context.Background()

	conn, err := c.Dial(ctx, "i-0123456789abcdef0", ssmwire.Remote{Host: "127.0.0.1", Port: dbPort})
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PING\n")
	reply, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		fmt.Println("read:", err)
		return
	}
	fmt.Print(reply)
	// Output: +PONG
}

// Forward a local port to a port on the instance, like `aws ssm start-session --document-name
// AWS-StartPortForwardingSession`: one session carries every connection made to the local listener.
func ExampleTunnel_Serve() {
	c, srv := exampleClient()
	defer srv.Close()
	dbPort, stop := startDatabase()
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	tun, err := c.Forward(ctx, "i-0123456789abcdef0", ssmwire.Remote{Port: dbPort})
	if err != nil {
		fmt.Println("forward:", err)
		return
	}
	defer tun.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0") // choose the port your tools expect, e.g. 127.0.0.1:5432
	if err != nil {
		fmt.Println("listen:", err)
		return
	}
	served := make(chan error, 1)
	go func() { served <- tun.Serve(ctx, l) }()

	// Any program can now connect to l; here two clients take turns.
	for range 2 {
		conn, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			fmt.Println("dial:", err)
			return
		}
		fmt.Fprintf(conn, "PING\n")
		reply, _ := bufio.NewReader(conn).ReadString('\n')
		fmt.Print(reply)
		conn.Close()
	}
	cancel()
	fmt.Println("serve:", <-served)
	// Output:
	// +PONG
	// +PONG
	// serve: context canceled
}

// diskUsage is code under test: it runs df on an instance and returns the use percentage of /.
func diskUsage(ctx context.Context, c *ssmwire.Client, instance string) (string, error) {
	var out strings.Builder
	err := c.Run(ctx, instance, ssmwire.Command{Command: "df -P / | tail -n 1", Stdout: &out})
	if err != nil {
		return "", err
	}
	f := strings.Fields(out.String())
	if len(f) < 5 || !strings.HasSuffix(f[4], "%") {
		return "", fmt.Errorf("unexpected df output %q", out.String())
	}
	return f[4], nil
}

// Test your own code with ssmtest: start an emulated AWS side (SSM, KMS and an agent that runs commands on
// this machine), aim the SDK configuration at it, and call your code. In a test, use t.Cleanup(srv.Close);
// Options add instances, documents, KMS encryption (KMSKeyID) and faults (srv.Faults()) to cover error paths.
func Example_testWithSsmtest() {
	srv := ssmtest.NewServer(&ssmtest.Options{
		NoPacing: true,                    // skip the real agent's 1 ms per message pacing, for speed
		KMSKeyID: "alias/session-manager", // and encrypt every shell and command session, as an account might
	})
	defer srv.Close()
	// srv.AWSConfig is what httptest's Server.Client is to net/http: credentials the server accepts, and SSM,
	// KMS and the data channel all at srv.URL on 127.0.0.1. Hand it to your code instead of the real one.
	c := ssmwire.NewFromAWSConfig(srv.AWSConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	use, err := diskUsage(ctx, c, ssmtest.DefaultInstanceID)
	fmt.Println(strings.HasSuffix(use, "%"), err)
	fmt.Println("data keys generated:", srv.Stats().DataKeys)
	// Output:
	// true <nil>
	// data keys generated: 1
}

// An interactive shell on this terminal: with Terminal set, package shell puts it in raw mode, keeps the
// remote window size in step, restores it on every way out, and ends the session on "~." after a newline.
func ExampleClient_Shell() {
	c := ssmwire.NewFromAWSConfig(aws.Config{}) // from config.LoadDefaultConfig(ctx) in a real program
	err := c.Shell(context.Background(), "i-0123456789abcdef0", &shell.Config{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Terminal: true,
	})
	if err != nil {
		fmt.Println(err)
	}
}

// Start a session yourself and wait for its end: Wait reports the remote exit status as an *ExitError, and
// Close (deferred) ends a session that is still running the one proper way.
func ExampleSession_Wait() {
	c, srv := exampleClient()
	defer srv.Close()
	ctx := context.Background()

	doc, target := "SSMWire-RunCommand", "i-0123456789abcdef0"
	s, err := c.StartSession(ctx, &ssm.StartSessionInput{Target: &target, DocumentName: &doc,
		Parameters: map[string][]string{"command": {"sh -c 'exit 5'"}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	var exit *ssmwire.ExitError
	if err := s.Wait(); errors.As(err, &exit) {
		fmt.Println("exit status", exit.Code)
	}
	// Output: exit status 5
}

// Errors a user can act on come back as an *APIError: print its advice, one line that says what to do.
func ExampleAPIError_Advice() {
	c, srv := exampleClient()
	defer srv.Close()

	err := c.Run(context.Background(), "i-00000000000000000", ssmwire.Command{Command: "true"})
	var ae *ssmwire.APIError
	if errors.As(err, &ae) {
		fmt.Println(ae.Advice("default"))
	}
	// Output: Target i-00000000000000000 is not connected to Session Manager: its SSM Agent is not running, or cannot reach the Systems Manager service (check the instance's role, network and agent)
}
