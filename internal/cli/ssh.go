package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/instanceconnect"
)

// DefaultSSHUser is the OS user `ssmwire ssh` logs in as without USER@: the default user of Amazon Linux,
// as in `aws ec2-instance-connect ssh`. Ubuntu's is ubuntu, Debian's admin: write it as USER@TARGET.
const DefaultSSHUser = "ec2-user"

// sshOptions are the flags of ssh, ssh-proxy and ssh-config.
type sshOptions struct {
	sendKey       keyFlag // ssh-proxy, ssh-config --send-key[=PUBKEY]
	user          string  // ssh-proxy --user: the OS user the key is pushed for (ssh's %r)
	accessRequest string  // ssh-proxy --access-request: the id of an approved just-in-time request
}

// keyFlag is --send-key[=PUBKEY]: on alone means the default public key.
type keyFlag struct {
	on   bool
	path string
}

func (k *keyFlag) String() string {
	if k == nil || !k.on {
		return ""
	}
	return k.path
}

func (k *keyFlag) Set(s string) error {
	switch s {
	case "true":
		k.on, k.path = true, ""
	case "false":
		k.on, k.path = false, ""
	case "":
		return errors.New("empty key file name")
	default:
		k.on, k.path = true, s
	}
	return nil
}

// IsBoolFlag lets --send-key stand alone.
func (k *keyFlag) IsBoolFlag() bool { return true }

func sshCommand() *command {
	return &command{
		name:    "ssh",
		args:    "[USER@]TARGET [SSH-ARGS...]",
		summary: "Log in with ssh through Session Manager, with a fresh key pushed by Instance Connect",
		help: `
ssmwire makes a new ed25519 key pair in memory, pushes its public half to TARGET for USER with
EC2 Instance Connect (SendSSHPublicKey; the key is usable for 60 seconds), then runs your ssh:

  ssh -i KEY -o IdentitiesOnly=yes -o HostKeyAlias=INSTANCE-ID \
      -o ProxyCommand='ssmwire ssh-proxy %h %p' [SSH-ARGS...] USER@INSTANCE-ID

The private key is written only for that ssh, in a private directory that is removed when ssh
exits; the exit status is ssh's. USER defaults to ` + DefaultSSHUser + `. TARGET is an EC2 instance id or
a Name tag value (managed instances mi-… and ECS containers have no Instance Connect). The host
key is remembered under the instance id in your known_hosts. With --reason, the just-in-time
access request is made and approved before the key is pushed.

Needs IAM permissions ec2-instance-connect:SendSSHPublicKey on the instance and
ssm:StartSession on the instance and the AWS-StartSSHSession document; the instance needs
EC2 Instance Connect (the ec2-instance-connect package: Amazon Linux 2 and 2023, Ubuntu).

Examples:
  ssmwire ssh web
  ssmwire ssh ubuntu@i-0123456789abcdef0 -L 8080:localhost:80
  ssmwire ssh --profile prod ec2-user@bastion -v`,
		stopAt: 1,
		run:    runSSH,
	}
}

func sshConfigCommand() *command {
	return &command{
		name:    "ssh-config",
		args:    "[HOST-PATTERN...]",
		summary: "Print an ssh_config block that pushes your key and connects through Session Manager",
		help: `
Appended to ~/.ssh/config, the block lets every OpenSSH tool (ssh, scp, sftp, rsync, git,
ansible) reach EC2 instances by id: the ProxyCommand pushes your own public key with EC2
Instance Connect, then connects through an AWS-StartSSHSession session. HOST-PATTERN defaults
to i-*. --send-key=PUBKEY names the public key (default ~/.ssh/id_ed25519.pub, then
~/.ssh/id_rsa.pub; EC2 Instance Connect takes ed25519 and RSA keys); --user sets the User line
(default ` + DefaultSSHUser + `).

Examples:
  ssmwire ssh-config >> ~/.ssh/config
  ssmwire ssh-config --user ubuntu --send-key=~/.ssh/work.pub 'i-*' web`,
		flags: func(fs *flag.FlagSet, o *cmdOptions) {
			fs.Var(&o.ssh.sendKey, "send-key", "public key `file` to push (default ~/.ssh/id_ed25519.pub, then ~/.ssh/id_rsa.pub)")
			fs.StringVar(&o.ssh.user, "user", DefaultSSHUser, "OS `user` of the User line")
		},
		run: runSSHConfig,
	}
}

// sshTarget splits [USER@]TARGET.
func sshTarget(arg string) (user, target string) {
	if i := strings.LastIndex(arg, "@"); i >= 0 {
		return arg[:i], arg[i+1:]
	}
	return DefaultSSHUser, arg
}

func runSSH(ctx context.Context, a *app, _ *cmdOptions, args []string) error {
	if len(args) == 0 {
		return usagef("ssh: want [USER@]TARGET")
	}
	user, target := sshTarget(args[0])
	if user == "" || target == "" {
		return usagef("ssh: %q: want [USER@]TARGET", args[0])
	}
	if t, err := ssmwire.ParseTarget(target); err == nil && (t.Kind == ssmwire.TargetECS || t.Kind == ssmwire.TargetSSMString) {
		return fmt.Errorf("ssh: %s is an ECS container, which has no EC2 Instance Connect: use ssmwire shell or exec", target)
	}
	sshPath, err := exec.LookPath("ssh")
	if err != nil {
		return fmt.Errorf("ssh: OpenSSH's ssh is not on PATH: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("ssh: the path of this program: %w", err)
	}
	c, t, err := a.resolveTarget(ctx, target) // the access request comes below, its id handed to ssh-proxy
	if err != nil {
		return err
	}
	var requestID string
	if a.g.reason != "" {
		if requestID, _, err = a.requestAccess(ctx, c, t); err != nil {
			return err
		}
	}

	keys, err := instanceconnect.NewKeyPair("ssmwire-" + t.ID)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ssmwire-ssh-")
	if err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, keys.PrivateKeyPEM, 0o600); err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	if err := a.pushKey(ctx, c, t, user, keys.PublicKey); err != nil {
		return err
	}

	argv := sshArgv(keyFile, t.ID, a.proxyCommandLine(exe, requestID), user, args[1:])
	cmd := exec.CommandContext(ctx, sshPath, argv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr, cmd.Env = a.stdin, a.stdout, a.stderr, a.env
	// An interrupt reaches ssh from the terminal itself; a signal to ssmwire alone is passed on, and ssh
	// gets time to end its session.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		if ee.ExitCode() == 255 && !a.g.quiet {
			a.errorf("ssh failed (exit status 255); if the login was refused, check that %s runs EC2 Instance Connect "+
				"(the ec2-instance-connect package) and has a user %s", t.ID, user)
		}
		return &exitCodeError{ee.ExitCode()}
	case err != nil:
		return fmt.Errorf("ssh: %w", err)
	}
	return nil
}

// sshArgv is the argument list of ssh for `ssmwire ssh`: our options first (ssh keeps the first value of
// an option), then the destination, then the user's arguments (options or a command).
func sshArgv(keyFile, instanceID, proxyCommand, user string, extra []string) []string {
	argv := []string{
		"-i", keyFile,
		"-o", "IdentitiesOnly=yes",
		"-o", "HostKeyAlias=" + instanceID,
		"-o", "ProxyCommand=" + proxyCommand,
		user + "@" + instanceID,
	}
	return append(argv, extra...)
}

// proxyCommandLine is the ProxyCommand that runs exe's ssh-proxy with the global flags that choose the
// AWS account and endpoint, quoted for the shell ssh runs it with, and '%' doubled where ssh must not
// expand it.
func (a *app) proxyCommandLine(exe, accessRequest string) string {
	words := []string{exe}
	s := a.g.aws
	if s.Profile != "" {
		words = append(words, "--profile", s.Profile)
	}
	if s.Region != "" {
		words = append(words, "--region", s.Region)
	}
	if s.EndpointURL != "" {
		words = append(words, "--endpoint-url", s.EndpointURL)
	}
	if a.g.debug {
		words = append(words, "--debug")
	}
	words = append(words, "ssh-proxy")
	if accessRequest != "" {
		words = append(words, "--access-request", accessRequest)
	}
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strings.ReplaceAll(shQuote(w), "%", "%%"))
	}
	b.WriteString(" %h %p")
	return b.String()
}

// shQuote quotes s for sh when it holds anything but plain characters.
func shQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// pushKey pushes publicKey for user to t with EC2 Instance Connect, errors told as advice.
func (a *app) pushKey(ctx context.Context, c *clients, t ssmwire.Target, user string, publicKey []byte) error {
	if t.Kind == ssmwire.TargetECS || t.Kind == ssmwire.TargetSSMString {
		return fmt.Errorf("%s is an ECS container, which has no EC2 Instance Connect: use ssmwire shell or exec", t.Raw)
	}
	eic := ec2instanceconnect.NewFromConfig(c.cfg, func(o *ec2instanceconnect.Options) {
		o.BaseEndpoint = endpoint(a.env, c.settings, "EC2_INSTANCE_CONNECT", o.BaseEndpoint)
	})
	err := instanceconnect.SendKey(ctx, eic, t.ID, user, publicKey)
	if errors.Is(err, instanceconnect.ErrNotEC2) {
		return fmt.Errorf("%s is a managed instance (not EC2), which has no EC2 Instance Connect: put your key in its authorized_keys, or use ssmwire shell", t.ID)
	}
	return c.explain(err)
}

func runSSHConfig(_ context.Context, a *app, o *cmdOptions, args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("ssh-config: the path of this program: %w", err)
	}
	patterns := args
	if len(patterns) == 0 {
		patterns = []string{"i-*"}
	}
	if err := instanceconnect.CheckUser(o.ssh.user); err != nil {
		return usagef("ssh-config: --user: %v", err)
	}
	send := "--send-key"
	identity := ""
	if p := o.ssh.sendKey.path; p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return fmt.Errorf("ssh-config: %w", err)
		}
		if _, err := readPublicKey(a.env, abs); err != nil {
			return fmt.Errorf("ssh-config: %w", err)
		}
		send = "--send-key=" + abs
		identity = strings.TrimSuffix(abs, ".pub")
	}
	proxy := strings.TrimSuffix(a.proxyCommandLine(exe, ""), " %h %p") + " " + shQuote(send) + " --user %r %h %p"
	fmt.Fprintf(a.stdout, "# ssmwire: EC2 instances by id through Session Manager; your public key is pushed with\n")
	fmt.Fprintf(a.stdout, "# EC2 Instance Connect (usable for 60 s) before each connection.\n")
	fmt.Fprintf(a.stdout, "Host %s\n", strings.Join(patterns, " "))
	fmt.Fprintf(a.stdout, "    User %s\n", o.ssh.user)
	fmt.Fprintf(a.stdout, "    ProxyCommand %s\n", proxy)
	if identity != "" {
		fmt.Fprintf(a.stdout, "    IdentityFile %s\n    IdentitiesOnly yes\n", strings.ReplaceAll(identity, "%", "%%"))
	}
	return nil
}
