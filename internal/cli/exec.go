package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync/atomic"

	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/ecsexec"
	"github.com/ssmwire/ssmwire/shell"
)

// DefaultExecDocument is the document `ssmwire exec` starts unless --document says otherwise: a
// NonInteractiveCommands document with separateOutputStream, the only kind whose sessions report an exit code.
const DefaultExecDocument = "SSMWire-RunCommand"

// fallbackExecDocument is the document exec uses when the account has no DefaultExecDocument.
const fallbackExecDocument = "AWS-StartNonInteractiveCommand"

// ecsShellCommand is the command ECS ExecuteCommand runs for `ssmwire shell ecs:…`.
const ecsShellCommand = "/bin/sh"

func shellCommand() *command {
	return &command{
		name:    "shell",
		args:    "TARGET",
		summary: "Start an interactive shell on TARGET",
		help: `
On a terminal, the terminal is put in raw mode and window size changes are sent to the
remote side. After a newline, ~. ends the session, ~? lists the escapes and ~~ sends one ~.
Standard input may also be a pipe: the remote shell reads it as typed input, so end a script
with "exit". For ecs:CLUSTER/TASK[/CONTAINER] targets the shell is ` + ecsShellCommand + ` started
with ECS ExecuteCommand. Without TARGET, on a terminal, a picker lists the online nodes; so
does a TARGET several nodes match.

Examples:
  ssmwire shell
  ssmwire shell web
  ssmwire shell ecs:prod/0123456789abcdef/app`,
		run: runShell,
	}
}

func execCommand() *command {
	return &command{
		name:    "exec",
		args:    "TARGET [--] COMMAND...",
		summary: "Run a command on TARGET and exit with its exit code",
		help: `
The command's words are joined with spaces and run by sh -c on the target, as ssh does:
quote for the remote shell. Flags anywhere before -- are ssmwire's; put the command after --
when it has flags of its own. (The agent runs no shell: it splits the command line into words
and executes them, so ssmwire sends sh -c '<command>'. --raw sends the command as it is: for
Windows targets, where the agent hands the words to PowerShell, and containers without sh.)
Standard output and standard error arrive separately. The command gets no standard input:
the agent gives these sessions none (ssmwire says so when input was waiting); to feed a
script, pipe it to 'ssmwire shell'.

The agent reports an exit code only for documents of session type NonInteractiveCommands
with "separateOutputStream": true, such as the default ` + DefaultExecDocument + `, which
'ssmwire setup' creates. Without it in the account, exec says so and uses
` + fallbackExecDocument + `. With that document, AWS-StartInteractiveCommand and on ECS
targets the output arrives on standard output only, and --exit-code=wrap (the default there)
gets the exit code anyway: a wrapper sh prints a random per-run sentinel line with the exit
code at the end, which ssmwire removes from the output and exits with. A command that never
gets there (killed, or the session was lost) makes ssmwire exit 255 with a message.
--exit-code=agent uses only the agent's code (exit 0 when there is none); --exit-code=none
always exits 0 after a clean end.

Examples:
  ssmwire exec web -- uptime
  ssmwire exec i-0123456789abcdef0 -- 'journalctl -u nginx | tail -n 50'
  ssmwire exec --document AWS-StartNonInteractiveCommand 10.0.3.7 -- df -h`,
		flags: func(fs *flag.FlagSet, o *cmdOptions) {
			fs.StringVar(&o.document, "document", DefaultExecDocument, "Session Manager `document`, whose \"command\" gets COMMAND")
			fs.BoolVar(&o.raw, "raw", false, "send COMMAND as it is, without sh -c (Windows targets; the agent's own word splitting)")
			fs.StringVar(&o.exitCode, "exit-code", "auto", "`mode` of the exit code: wrap, agent, none, or auto (wrap without one)")
		},
		flagTip: "\n(flags anywhere before -- are ssmwire's; the command's own go after it: " +
			"ssmwire exec TARGET -- ls -la)",
		run: runExec,
	}
}

func runShell(ctx context.Context, a *app, _ *cmdOptions, args []string) error {
	var c *clients
	var t ssmwire.Target
	var err error
	switch len(args) {
	case 0:
		c, t, err = a.pickTarget(ctx, "shell")
	case 1:
		c, t, err = a.target(ctx, args[0])
	default:
		return usagef("shell: want one TARGET, not %d arguments (to run a command, use exec)", len(args))
	}
	if err != nil {
		return err
	}
	a.starting(t)
	// On a terminal, package shell owns it: raw mode, window sizes, the escapes ~. ~? ~~.
	cfg := &shell.Config{Stdin: a.stdin, Stdout: a.stdout, Stderr: a.stderr, Terminal: true, Logger: a.log}
	if t.Kind == ssmwire.TargetECS {
		err = a.ecsRun(ctx, c, t, ecsShellCommand, cfg)
	} else {
		err = c.wire.Shell(ctx, t.ID, cfg)
	}
	return a.sessionResult(ctx, c, err)
}

func runExec(ctx context.Context, a *app, o *cmdOptions, args []string) error {
	if len(args) < 2 {
		return usagef("exec: want TARGET and a COMMAND")
	}
	command := strings.Join(args[1:], " ")
	wrap, err := execWraps(o, strings.HasPrefix(args[0], "ecs:"))
	if err != nil {
		return err
	}
	c, t, err := a.target(ctx, args[0])
	if err != nil {
		return err
	}
	a.starting(t)
	defer a.watchStdin()()
	if t.Kind == ssmwire.TargetECS {
		cfg := &shell.Config{Stdout: a.stdout, Stderr: a.stderr, Logger: a.log}
		line := command
		switch {
		case wrap:
			w := ssmwire.WrapExitCode(command)
			line, cfg.Stdout = w.Command(), w.Stdout(a.stdout)
			err = w.Result(a.ecsRun(ctx, c, t, line, cfg))
		case !o.raw:
			line = ssmwire.ShellCommand(command) // ECS Exec runs no shell either
			fallthrough
		default:
			err = a.ecsRun(ctx, c, t, line, cfg)
		}
	} else {
		mode := ssmwire.ExitCodeAgent
		if wrap {
			mode = ssmwire.ExitCodeWrap
		}
		cmd := ssmwire.Command{
			Document: o.document,
			Command:  command,
			Raw:      o.raw,
			ExitCode: mode,
			Stdout:   a.stdout,
			Stderr:   a.stderr,
		}
		err = c.wire.Run(ctx, t.ID, cmd)
		var invalid *ssmtypes.InvalidDocument
		if errors.As(err, &invalid) && o.document == DefaultExecDocument {
			// A fresh account: nothing ran (StartSession refused the document). AWS's own
			// NonInteractiveCommands document merges the streams and reports no exit code; the wrapper gets it.
			cmd.Document = fallbackExecDocument
			if !o.raw && (o.exitCode == "auto" || o.exitCode == "") {
				cmd.ExitCode = ssmwire.ExitCodeWrap
			}
			a.warnf("%s does not exist in %s; running with %s (output and errors merged, exit code by "+
				"--exit-code=wrap); 'ssmwire setup' creates it", DefaultExecDocument, c.cfg.Region, fallbackExecDocument)
			err = c.wire.Run(ctx, t.ID, cmd)
		}
	}
	var ee *ssmwire.ExitError
	if o.exitCode == "none" && errors.As(err, &ee) {
		err = nil
	}
	return a.sessionResult(ctx, c, err)
}

// execWraps decides exec's --exit-code: whether the command runs in the exit-code wrapper
// (ssmwire.ExitCodeWrap). auto wraps unless the command is raw or the document is the default one, which
// reports exit codes itself.
func execWraps(o *cmdOptions, ecs bool) (bool, error) {
	switch o.exitCode {
	case "wrap":
		if o.raw {
			return false, usagef("exec: --exit-code=wrap needs sh on the target; it cannot be combined with --raw")
		}
		return true, nil
	case "agent", "none":
		return false, nil
	case "auto", "":
		return !o.raw && (ecs || o.document != DefaultExecDocument), nil
	}
	return false, usagef("exec: --exit-code must be auto, wrap, agent or none, not %q", o.exitCode)
}

// sessionResult maps the end of a shell or command session to Main's result: a remote exit code becomes
// the exit code, a cancelled context exits 130 like an interrupted shell command.
func (a *app) sessionResult(ctx context.Context, c *clients, err error) error {
	var ee *ssmwire.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return &exitCodeError{code: ee.Code}
	case ctx.Err() != nil:
		return &exitCodeError{code: 130}
	default:
		return c.explain(err)
	}
}

// ecsRun runs command in an ECS container with ECS Exec and carries the session with cfg.
func (a *app) ecsRun(ctx context.Context, c *clients, t ssmwire.Target, command string, cfg *shell.Config) error {
	s, err := ecsexec.Start(ctx, c.wire, c.ecs, t, command)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Shell(ctx, cfg)
}

// target parses and resolves a TARGET argument with the global flags' clients; with --reason, the clients
// returned are signed with the credentials of an approved just-in-time access request (access.go).
func (a *app) target(ctx context.Context, arg string) (*clients, ssmwire.Target, error) {
	c, t, err := a.resolveTarget(ctx, arg)
	if err != nil {
		return c, t, err
	}
	if c, err = a.withAccess(ctx, c, t); err != nil {
		return nil, t, err
	}
	return c, t, nil
}

// resolveTarget is target without the access request.
func (a *app) resolveTarget(ctx context.Context, arg string) (*clients, ssmwire.Target, error) {
	t, err := ssmwire.ParseTarget(arg)
	if err != nil {
		return nil, t, &usageError{err.Error()}
	}
	c, err := a.clients(ctx, "", "")
	if err != nil {
		return nil, t, err
	}
	t, err = a.resolve(ctx, c, t)
	return c, t, c.explain(err)
}

// starting says on standard error which session is starting, for a person waiting at a terminal (not with
// --quiet or --json, and not into a script's capture of standard error).
func (a *app) starting(t ssmwire.Target) {
	if a.g.quiet || a.g.json || !shell.IsTerminal(a.stderr) {
		return
	}
	what := t.Raw
	if t.ID != "" && t.ID != t.Raw {
		what = fmt.Sprintf("%s (%s)", t.Raw, t.ID)
	}
	fmt.Fprintf(a.stderr, "ssmwire: starting session on %s…\n", what)
}

// watchStdin reads standard input, unless it is a terminal, for the byte that shows input nobody will read:
// the agent gives NonInteractiveCommands sessions (and ECS Exec commands run this way) no input. The
// returned func, called when the command has ended, says so once when input came. The reading goroutine
// may stay blocked on a pipe that never ends; it writes nothing.
func (a *app) watchStdin() (report func()) {
	if a.stdin == nil || shell.IsTerminal(a.stdin) {
		return func() {}
	}
	var got atomic.Bool
	go func() {
		var b [1]byte
		if n, _ := a.stdin.Read(b[:]); n > 0 {
			got.Store(true)
		}
	}()
	return func() {
		if got.Load() {
			a.warnf("standard input had data that did not reach the command: the agent gives such " +
				"commands no input (to feed a script, pipe it to 'ssmwire shell TARGET')")
		}
	}
}
