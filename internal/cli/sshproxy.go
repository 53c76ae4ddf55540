package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/ecsexec"
	"github.com/ssmwire/ssmwire/instanceconnect"
	"github.com/ssmwire/ssmwire/internal/relay"
)

// SSHDocument is the document `ssmwire ssh-proxy` starts.
const SSHDocument = "AWS-StartSSHSession"

func sshProxyCommand() *command {
	return &command{
		name:    "ssh-proxy",
		args:    "[--send-key[=PUBKEY] --user USER] TARGET PORT",
		summary: "Connect standard input and output to PORT on TARGET, for ssh's ProxyCommand",
		help: `
In ~/.ssh/config:

  Host i-* mi-*
      ProxyCommand ssmwire ssh-proxy %h %p

The session uses the ` + SSHDocument + ` document. Nothing but the connection's bytes is written
to standard output; errors go to standard error, where ssh shows them: a port the agent cannot
connect to ends ssh-proxy with a message and exit status 255. The session ends when either
side closes.

--send-key pushes your public key for --user (ssh's %r) with EC2 Instance Connect first, so
that no key need be in the instance's authorized_keys (it is usable for 60 seconds):

  Host i-*
      ProxyCommand ssmwire ssh-proxy --send-key --user %r %h %p

The key is ~/.ssh/id_ed25519.pub, else ~/.ssh/id_rsa.pub, or the file given as
--send-key=PUBKEY; 'ssmwire ssh-config' prints such a block. This needs the IAM permission
ec2-instance-connect:SendSSHPublicKey besides ssm:StartSession.

Examples:
  ssh -o ProxyCommand='ssmwire ssh-proxy %h %p' ec2-user@i-0123456789abcdef0
  ssh -o ProxyCommand='ssmwire ssh-proxy --send-key --user %r %h %p' ec2-user@web`,
		flags: func(fs *flag.FlagSet, o *cmdOptions) {
			fs.Var(&o.ssh.sendKey, "send-key", "push a public key `file` with Instance Connect first (alone: ~/.ssh/id_ed25519.pub)")
			fs.StringVar(&o.ssh.user, "user", "", "OS `user` the key is pushed for (ssh's %r)")
			fs.StringVar(&o.ssh.accessRequest, "access-request", "", "start the session with the credentials of the approved just-in-time access request `id`")
		},
		run: runSSHProxy,
	}
}

func runSSHProxy(ctx context.Context, a *app, o *cmdOptions, args []string) error {
	if len(args) != 2 {
		return usagef("ssh-proxy: want TARGET and PORT")
	}
	port, err := parsePort(args[1], false)
	if err != nil {
		return usagef("ssh-proxy: %v", err)
	}
	if o.ssh.sendKey.on && o.ssh.user == "" {
		return usagef("ssh-proxy: --send-key needs --user (in ProxyCommand: --user %%r)")
	}
	if o.ssh.accessRequest != "" && a.g.reason != "" {
		return usagef("ssh-proxy: --access-request and --reason exclude each other")
	}
	var key []byte
	if o.ssh.sendKey.on {
		if key, err = readPublicKey(a.env, o.ssh.sendKey.path); err != nil {
			return fmt.Errorf("ssh-proxy: %w", err)
		}
	}
	c, t, err := a.resolveTarget(ctx, args[0]) // the key is pushed with the user's own credentials
	if err != nil {
		return err
	}
	if key != nil {
		if err := a.pushKey(ctx, c, t, o.ssh.user, key); err != nil {
			return err
		}
	}
	if o.ssh.accessRequest != "" {
		p, err := ssmwire.AccessCredentials(ctx, c.ssm, o.ssh.accessRequest)
		var ae *ssmwire.AccessError
		if errors.As(err, &ae) {
			return accessFailure(ae, t.ID)
		}
		if err != nil {
			return c.explain(err)
		}
		if c, err = a.accessClients(ctx, c, p); err != nil {
			return err
		}
	} else if c, err = a.withAccess(ctx, c, t); err != nil {
		return err
	}
	if t, err = ecsexec.SessionTarget(ctx, c.ecs, t); err != nil {
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
	// In stream mode the agent reports a destination it cannot reach by ending the session with a
	// message, before any byte of the server's (ssh alone would only say the connection was closed).
	refused := func() error {
		select {
		case <-s.Done():
			if out, ok := s.ChannelClosedOutput(); ok && strings.TrimSpace(out) != "" {
				return fmt.Errorf("ssh-proxy: %s port %d: the agent could not connect: %s", t.Raw, port, strings.TrimSpace(out))
			}
		default:
		}
		return nil
	}
	conn, err := f.Dial(ctx)
	if err != nil {
		if rerr := refused(); rerr != nil {
			return rerr
		}
		return fmt.Errorf("ssh-proxy: %w", err)
	}
	defer conn.Close()
	got, err := proxy(ctx, conn, a.stdin, a.stdout)
	if err == nil && got == 0 && ctx.Err() == nil {
		if rerr := refused(); rerr != nil {
			return rerr
		}
	}
	if err != nil {
		return fmt.Errorf("ssh-proxy: %s port %d: %w", t.Raw, port, err)
	}
	return nil
}

// proxy copies stdin to conn and conn to stdout (package relay, with stdin and stdout as one side) until
// either ends or ctx is done. A read of stdin in progress may stay blocked after proxy returns (a pipe's Read
// cannot be interrupted); what it reads is dropped.
func proxy(ctx context.Context, conn net.Conn, stdin io.Reader, stdout io.Writer) (received int64, err error) {
	res := relay.Pipe(ctx, relay.NewStdio(stdin, stdout), conn, nil)
	err = res.DownErr // the remote side ended
	if res.LocalFirst {
		err = res.UpErr // the local side ended (ssh exited)
	}
	if ctx.Err() != nil || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		return res.Down, nil
	}
	var cpe *ssmwire.ConnectToPortError
	if errors.As(err, &cpe) {
		return res.Down, errors.New("the agent could not connect to the port (connection refused, or " +
			"unreachable from the target; the SSM Agent's log says which)")
	}
	return res.Down, err
}

// readPublicKey reads the public key to push: path, else ~/.ssh/id_ed25519.pub, else ~/.ssh/id_rsa.pub
// (HOME from env). The key is checked here, so that a type EC2 Instance Connect refuses is named before
// any call.
func readPublicKey(env Env, path string) ([]byte, error) {
	paths := []string{path}
	if path == "" {
		home := env.Get("HOME")
		if home == "" {
			return nil, errors.New("--send-key: HOME is not set; name the key: --send-key=PUBKEY")
		}
		paths = []string{filepath.Join(home, ".ssh", "id_ed25519.pub"), filepath.Join(home, ".ssh", "id_rsa.pub")}
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) && path == "" {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("--send-key: %w", err)
		}
		if _, err := instanceconnect.CheckKey(b); err != nil {
			return nil, fmt.Errorf("--send-key: %s: %w", p, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("--send-key: neither %s nor %s exists; make a key with ssh-keygen -t ed25519, or name one: --send-key=PUBKEY", paths[0], paths[1])
}
