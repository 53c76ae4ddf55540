package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/relay"
)

// SSHDocument is the document `ssmwire ssh-proxy` starts.
const SSHDocument = "AWS-StartSSHSession"

func sshProxyCommand() *command {
	return &command{
		name:    "ssh-proxy",
		args:    "TARGET PORT",
		summary: "Connect standard input and output to PORT on TARGET, for ssh's ProxyCommand",
		help: `
In ~/.ssh/config:

  Host i-* mi-*
      ProxyCommand ssmwire ssh-proxy %h %p

The session uses the ` + SSHDocument + ` document. Nothing but the connection's bytes is written
to standard output; errors go to standard error. The session ends when either side closes.`,
		run: runSSHProxy,
	}
}

func runSSHProxy(ctx context.Context, a *app, _ *cmdOptions, args []string) error {
	if len(args) != 2 {
		return usagef("ssh-proxy: want TARGET and PORT")
	}
	port, err := parsePort(args[1], false)
	if err != nil {
		return usagef("ssh-proxy: %v", err)
	}
	c, t, err := a.target(ctx, args[0])
	if err != nil {
		return err
	}
	if t, err = ssmwire.ECSSessionTarget(ctx, c.ecs, t); err != nil {
		return c.explain(err)
	}
	s, err := c.wire.StartSession(ctx, &ssm.StartSessionInput{
		Target:       aws.String(t.ID),
		DocumentName: aws.String(SSHDocument),
		Parameters:   map[string][]string{"portNumber": {strconv.Itoa(port)}},
	})
	if err != nil {
		return c.explain(err)
	}
	defer s.Close()
	f, err := s.Forwarder(ctx, nil)
	if err != nil {
		return fmt.Errorf("ssh-proxy: %w", err)
	}
	conn, err := f.Dial(ctx)
	if err != nil {
		return fmt.Errorf("ssh-proxy: %w", err)
	}
	defer conn.Close()
	return proxy(ctx, conn, a.stdin, a.stdout)
}

// proxy copies stdin to conn and conn to stdout (package relay, with stdin and stdout as one side) until
// either ends or ctx is done. A read of stdin in progress may stay blocked after proxy returns (a pipe's Read
// cannot be interrupted); what it reads is dropped.
func proxy(ctx context.Context, conn net.Conn, stdin io.Reader, stdout io.Writer) error {
	res := relay.Pipe(ctx, relay.NewStdio(stdin, stdout), conn, nil)
	err := res.DownErr // the remote side ended
	if res.LocalFirst {
		err = res.UpErr // the local side ended (ssh exited)
	}
	if ctx.Err() != nil || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		return nil
	}
	var cpe *ssmwire.ConnectToPortError
	if errors.As(err, &cpe) {
		return errors.New("ssh-proxy: the agent could not connect to the port (check the SSM Agent's log)")
	}
	return err
}
