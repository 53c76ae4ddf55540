package ssmwire

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"

	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/shell"
)

// DefaultCommandDocument is the document [Client.Run] uses when Command.Document is empty: AWS's
// non-interactive command document, which runs Command.Command with its output on one stream and reports no
// exit code.
const DefaultCommandDocument = "AWS-StartNonInteractiveCommand"

// Command describes a command for [Client.Run].
type Command struct {
	// Document is the Session Manager document to start. Default [DefaultCommandDocument].
	Document string
	// Command is the command line, run with POSIX shell semantics as ssh runs one: it is sent as
	// [ShellCommand](Command), "sh -c '<Command>'", because the agent itself runs no shell for
	// NonInteractiveCommands (nor for any command in an ECS task). It is passed as the document's "command"
	// parameter when non-empty.
	Command string
	// Raw sends Command as it is: the agent then splits it into words and executes them without a shell
	// (on Linux and macOS), or hands them to PowerShell (on Windows). Set it for Windows targets, for
	// targets without sh, and to get the agent's own semantics.
	Raw bool
	// ExitCode says where the exit code comes from: the agent (ExitCodeAgent, the default: only
	// NonInteractiveCommands documents with separateOutputStream report one) or a wrapper shell that prints
	// it (ExitCodeWrap: any document, ECS too; see [ExitCodeWrapper]). ExitCodeWrap needs Command and
	// cannot be combined with Raw.
	ExitCode ExitCodeMode
	// Parameters are further document parameters. A "command" entry here wins over Command.
	Parameters map[string][]string

	// Stdin is sent to the remote side as it arrives. For NonInteractiveCommands documents the agent only
	// looks in it for Ctrl-C (0x03) and Ctrl-\ (0x1C), which signal the command; leave it nil for a pipe.
	Stdin io.Reader
	// Stdout and Stderr receive the command's output streams. Documents without separate streams send
	// everything to Stdout. Nil discards.
	Stdout, Stderr io.Writer
}

// Run starts cmd on target and waits until it has finished and its output is written. It returns nil when the
// command succeeded (or its document reports no exit status and cmd.ExitCode is ExitCodeAgent), an
// [*ExitError] for a non-zero exit code, an error wrapping [ErrNoExitCode] when ExitCodeWrap got none, a
// [*session.ChannelClosedError] when the service ended the session with a message, or another error. When ctx ends first the session is terminated and ctx's error returned.
func (c *Client) Run(ctx context.Context, target string, cmd Command) error {
	doc := cmd.Document
	if doc == "" {
		doc = DefaultCommandDocument
	}
	params := maps.Clone(cmd.Parameters)
	var wrap *ExitCodeWrapper
	if cmd.ExitCode == ExitCodeWrap {
		if cmd.Raw || cmd.Command == "" || len(params["command"]) > 0 {
			return errors.New("ssmwire: Run: ExitCodeWrap needs Command, without Raw or a \"command\" parameter")
		}
		wrap = WrapExitCode(cmd.Command)
		cmd.Stdout = wrap.Stdout(cmd.Stdout)
	}
	if cmd.Command != "" {
		if params == nil {
			params = make(map[string][]string, 1)
		}
		if _, ok := params["command"]; !ok {
			line := cmd.Command
			switch {
			case wrap != nil:
				line = wrap.Command()
			case !cmd.Raw:
				line = ShellCommand(line)
			}
			params["command"] = []string{line}
		}
	}
	s, err := c.StartSession(ctx, &ssm.StartSessionInput{Target: &target, DocumentName: &doc, Parameters: params})
	if err != nil {
		return err
	}
	defer s.Close()
	err = s.Shell(ctx, &shell.Config{Stdin: cmd.Stdin, Stdout: cmd.Stdout, Stderr: cmd.Stderr})
	if wrap != nil {
		return wrap.Result(err)
	}
	return err
}

// Output runs cmd as [Client.Run] does and returns what it wrote to standard output (cmd.Stdout is ignored),
// like x/crypto/ssh's Session.Output.
func (c *Client) Output(ctx context.Context, target string, cmd Command) ([]byte, error) {
	var out bytes.Buffer
	cmd.Stdout = &out
	err := c.Run(ctx, target, cmd)
	return out.Bytes(), err
}

// Shell starts an interactive shell on target with the account's default shell document
// (SSM-SessionManagerRunShell) and runs it with cfg until the remote shell exits or ctx ends (the session is
// then terminated). With cfg.Terminal, package shell owns the local terminal (raw mode, window size, the
// escapes ~. ~? ~~). A nil cfg runs the shell with no input and discarded output.
func (c *Client) Shell(ctx context.Context, target string, cfg *shell.Config) error {
	s, err := c.StartSession(ctx, &ssm.StartSessionInput{Target: &target})
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Shell(ctx, cfg)
}
