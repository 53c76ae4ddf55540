package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/ssmwire/ssmwire/internal/version"
)

// Env is a process environment as a list of "KEY=value" entries, as os.Environ returns it.
type Env []string

// Get returns the value of key, the last one when it appears more than once, or "".
func (e Env) Get(key string) string {
	v, _ := e.Lookup(key)
	return v
}

// Lookup is [Env.Get] that also says whether key is set, as os.LookupEnv does for the process's environment.
func (e Env) Lookup(key string) (string, bool) {
	for i := len(e) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(e[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// Exit codes of Main besides a remote command's own. As ssh keeps 255 for its own failures, ssmwire exits
// 255 when it fails itself (a bad command line, a target it cannot resolve, a session it cannot start or
// lost), so that any other status is the remote command's.
const (
	ExitOK    = 0
	ExitError = 255 // ssmwire failed: AWS error, lost session, expired SSO login...
	ExitUsage = 255 // bad command line or configuration file
)

// usageError marks command-line mistakes (exit code ExitUsage).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// exitCodeError carries the exit code of a remote command.
type exitCodeError struct{ code int }

func (e *exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// app is one invocation of the command.
type app struct {
	cmd    string // the command being run, for usage errors
	env    Env
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	g      globals
	log    *slog.Logger
}

// globals are the flags every command takes.
type globals struct {
	aws    awsSettings
	json   bool
	quiet  bool
	debug  bool
	config string
	reason string // --reason: request just-in-time node access first (access.go)
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.aws.Profile, "profile", g.aws.Profile, "AWS profile `name` (default: AWS_PROFILE, else the default profile)")
	fs.StringVar(&g.aws.Region, "region", g.aws.Region, "AWS `region` (default: AWS_REGION, else the profile's)")
	fs.StringVar(&g.aws.EndpointURL, "endpoint-url", g.aws.EndpointURL, "`URL` of the SSM, EC2, ECS and KMS endpoint (default: AWS_ENDPOINT_URL*, else AWS's)")
	fs.BoolVar(&g.json, "json", g.json, "print machine-readable JSON, one object per line")
	fs.BoolVar(&g.quiet, "quiet", g.quiet, "print nothing but errors")
	fs.BoolVar(&g.debug, "debug", g.debug, "log protocol details to standard error")
	g.aws.Pacing.register(fs)
	fs.StringVar(&g.reason, "reason", g.reason, "request just-in-time node access with this `reason`; wait for approval first")
	fs.StringVar(&g.config, "config", g.config, "tunnel configuration `file` (default $XDG_CONFIG_HOME or ~/.config, ssmwire/config.toml)")
}

// command is one subcommand.
type command struct {
	name    string
	args    string // synopsis of the positional arguments
	summary string
	help    string // further paragraphs for `ssmwire help NAME`
	flags   func(fs *flag.FlagSet, o *cmdOptions)
	stopAt  int    // positional arguments after which parsing stops (0: never), for exec's command
	flagTip string // added to flag errors, e.g. where a remote command's flags go
	run     func(ctx context.Context, a *app, o *cmdOptions, args []string) error
}

// cmdOptions holds the values of subcommand-specific flags.
type cmdOptions struct {
	document string
	sessions string     // forward --sessions
	raw      bool       // exec: send the command as it is, without the sh -c wrapper
	exitCode string     // exec --exit-code: auto, wrap, agent, none
	wait     bool       // up --wait
	ssh      sshOptions // ssh, ssh-proxy, ssh-config (ssh.go)
	dryRun   bool       // setup --dry-run
}

func commands() []*command {
	return []*command{
		shellCommand(), execCommand(), forwardCommand(), proxyCommand(), sshCommand(), sshProxyCommand(), sshConfigCommand(), upCommand(), runCommand(), listCommand(), targetsCommand(),
		setupCommand(), doctorCommand(),
		cpCommand(), completionCommand(),
	}
}

// Main runs the ssmwire command with args (without the program name) and returns its exit code. env is the
// environment (os.Environ()); the standard streams are passed in. Cancelling ctx (the caller does it on
// SIGINT/SIGTERM) ends every session properly (ssmwire.Session.Terminate) before Main returns.
func Main(ctx context.Context, args []string, env []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{env: Env(env), stdin: stdin, stdout: stdout, stderr: stderr}
	err := a.main(ctx, args)
	var ue *usageError
	var ec *exitCodeError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &ec):
		return ec.code
	case errors.As(err, &ue):
		help := "ssmwire help"
		if a.cmd != "" {
			help += " " + a.cmd
		}
		a.fail("usage", ue.msg, fmt.Sprintf("Run '%s' for usage.", help), ExitUsage)
		return ExitUsage
	default:
		a.fail("error", err.Error(), "", ExitError)
		return ExitError
	}
}

// fail reports the error that ends the command on standard error: a line (and a hint) for people, one JSON
// object with --json.
func (a *app) fail(kind, msg, hint string, code int) {
	if a.g.json {
		b, _ := json.Marshal(struct {
			Event    string `json:"event"`
			Kind     string `json:"kind"`
			Error    string `json:"error"`
			Hint     string `json:"hint,omitempty"`
			ExitCode int    `json:"exit_code"`
		}{"error", kind, strings.TrimPrefix(msg, "ssmwire: "), hint, code})
		fmt.Fprintf(a.stderr, "%s\n", b)
		return
	}
	fmt.Fprintf(a.stderr, "ssmwire: %s\n", strings.TrimPrefix(msg, "ssmwire: "))
	if hint != "" {
		fmt.Fprintln(a.stderr, hint)
	}
}

func (a *app) main(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == completeCommand {
		return a.runComplete(args[1:])
	}
	top := flag.NewFlagSet("ssmwire", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	a.g.register(top)
	showVersion := top.Bool("version", false, "print the version")
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.usage(a.stdout)
			return err
		}
		return usagef("%s", flagError(top, err))
	}
	if *showVersion {
		fmt.Fprintf(a.stdout, "ssmwire %s\n", version.String())
		return nil
	}
	rest := top.Args()
	if len(rest) == 0 {
		a.usage(a.stderr)
		return &usageError{"no command given"}
	}
	name, rest := rest[0], rest[1:]
	if name == "help" {
		return a.help(rest)
	}
	if name == "version" {
		fmt.Fprintf(a.stdout, "ssmwire %s\n", version.String())
		return nil
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == name {
			cmd = c
		}
	}
	if cmd == nil {
		return unknownCommand(name)
	}
	a.cmd = cmd.name
	fs := flag.NewFlagSet("ssmwire "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.g.register(fs)
	var o cmdOptions
	if cmd.flags != nil {
		cmd.flags(fs, &o)
	}
	pos, err := parseInterleaved(fs, rest, cmd.stopAt)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.commandHelp(a.stdout, cmd)
			return err
		}
		return usagef("%s: %s%s", cmd.name, flagError(fs, err), cmd.flagTip)
	}
	if a.g.json && a.g.quiet {
		return usagef("--json and --quiet exclude each other")
	}
	a.log = slog.New(slog.DiscardHandler)
	if a.g.debug {
		a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return cmd.run(ctx, a, &o, pos)
}

// parseInterleaved parses flags anywhere among the positional arguments, which it returns. "--" ends the
// flags. After stopAt positional arguments (when stopAt > 0) everything that follows is positional.
func parseInterleaved(fs *flag.FlagSet, args []string, stopAt int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
		if stopAt > 0 && len(pos) == stopAt {
			if len(args) > 0 && args[0] == "--" {
				args = args[1:]
			}
			return append(pos, args...), nil
		}
	}
}

func (a *app) usage(w io.Writer) {
	fmt.Fprintf(w, "ssmwire %s: AWS Session Manager sessions without the plugin.\n\nUsage: ssmwire [flags] COMMAND [flags] [ARGS]\n\nCommands:\n", version.Version)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `
TARGET is an instance id (i-…), a managed node id (mi-…), a Name tag, a private IP address or
private DNS name ('ssmwire targets' lists them), or ecs:CLUSTER/TASK[/CONTAINER] (shell and exec
through ECS ExecuteCommand; forward, proxy, up and ssh-proxy through the container's Session
Manager target). On a terminal, shell without TARGET, or a TARGET several nodes match, opens a
picker.

Exit status: that of the remote command (exec), 0 on success, 130 when interrupted, and 255
when ssmwire itself fails (usage, target, AWS, session), as ssh does. With --json, that error
is one JSON object on standard error.

Global flags (before or after the command):
`)
	fs := flag.NewFlagSet("ssmwire", flag.ContinueOnError)
	var g globals
	g.register(fs)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintf(w, "\nRun 'ssmwire help COMMAND' for more about a command.\n")
}

func (a *app) help(args []string) error {
	if len(args) == 0 {
		a.usage(a.stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			a.commandHelp(a.stdout, c)
			return nil
		}
	}
	return unknownCommand(args[0])
}

func (a *app) commandHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "Usage: ssmwire %s [flags] %s\n\n%s.\n", c.name, c.args, c.summary)
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	// The command's own flags, then the global ones by name only: 'ssmwire help' describes those.
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	var o cmdOptions
	if c.flags != nil {
		c.flags(fs, &o)
	}
	own := 0
	fs.VisitAll(func(*flag.Flag) { own++ })
	if own > 0 {
		fmt.Fprintf(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	var names []string
	gs := flag.NewFlagSet("ssmwire", flag.ContinueOnError)
	var g globals
	g.register(gs)
	gs.VisitAll(func(f *flag.Flag) { names = append(names, "--"+f.Name) })
	fmt.Fprintf(w, "\nGlobal flags (see 'ssmwire help'):\n%s\n", wrapWords(names, 100, "  "))
}

// wrapWords joins words with spaces into lines of at most width columns, each starting with indent.
func wrapWords(words []string, width int, indent string) string {
	var b strings.Builder
	line := indent
	for _, w := range words {
		if len(line) > len(indent) && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	b.WriteString(line)
	return b.String()
}

// clients loads AWS clients for the global flags, with profile and region overridden when non-empty.
func (a *app) clients(ctx context.Context, profile, region string) (*clients, error) {
	s := a.g.aws
	if profile != "" {
		s.Profile = profile
	}
	if region != "" {
		s.Region = region
	}
	return loadClients(ctx, a.env, s, a.log)
}

// errorf prints an error line unless it is to be swallowed; used for failures that do not end the command.
func (a *app) errorf(format string, args ...any) {
	fmt.Fprintf(a.stderr, "ssmwire: "+format+"\n", args...)
}

// warnf prints a warning line on standard error (a JSON object with --json); --quiet silences it.
func (a *app) warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	switch {
	case a.g.quiet:
	case a.g.json:
		b, _ := json.Marshal(struct {
			Event   string `json:"event"`
			Warning string `json:"warning"`
		}{"warning", msg})
		fmt.Fprintf(a.stderr, "%s\n", b)
	default:
		fmt.Fprintf(a.stderr, "ssmwire: warning: %s\n", msg)
	}
}
