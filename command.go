package ssmwire

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"sync"

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

// ExitCodeMode says where [Client.Run] takes the remote command's exit code from.
type ExitCodeMode int

const (
	// ExitCodeAgent relies on the agent, which reports an exit code only for NonInteractiveCommands
	// documents with separateOutputStream set; with any other document Run returns nil when the session
	// ends normally, whatever the command's status.
	ExitCodeAgent ExitCodeMode = iota
	// ExitCodeWrap gets the exit code on any document and target where sh exists (AWS's own documents, ECS
	// tasks): see [WrapExitCode]. It cannot be combined with Command.Raw.
	ExitCodeWrap
)

// ErrNoExitCode reports that a command run with [ExitCodeWrap] ended without reporting its exit code: it was
// killed (the agent sends Ctrl-C to the wrapper shell, not to the command), or the session ended or was lost
// before the command finished.
var ErrNoExitCode = errors.New("ssmwire: the command ended without reporting its exit code (killed, or the session ended first)")

// ExitCodeWrapper runs a command so that its exit code comes back where the agent reports none: the command
// is run by sh -c inside a wrapper shell that then prints one line, a newline and a random sentinel
// (different for every run) followed by the exit code, and exits with that code. The wrapper's Stdout
// filter removes that line from the output as it streams (holding back at most a sentinel line's worth of
// bytes), and Result turns it into the exit code. On a pseudo-terminal (InteractiveCommands, ECS Exec) the
// line ends in "\r\n"; that is removed too.
//
// What changes on the target: the agent executes "sh -c '<wrapper>' sh '<command>'"; the command itself
// runs in a child sh -c, as with [ShellCommand]. Use it like this:
//
//	w := ssmwire.WrapExitCode(command)
//	// start a session whose "command" is w.Command(), write its output to w.Stdout(os.Stdout)
//	err = w.Result(err) // nil, *ExitError or an error wrapping ErrNoExitCode
type ExitCodeWrapper struct {
	command string
	f       sentinelFilter
}

// WrapExitCode returns a wrapper for command with a fresh random sentinel.
func WrapExitCode(command string) *ExitCodeWrapper {
	var b [12]byte
	_, _ = rand.Read(b[:])
	w := &ExitCodeWrapper{command: command}
	w.f.sentinel = []byte("__ssmwire_exit_" + hex.EncodeToString(b[:]) + "__")
	return w
}

// Command returns the command line to send as the document's command: sh -c '<wrapper>' sh '<command>',
// quoted for the agent's word splitting and for a POSIX shell alike.
func (w *ExitCodeWrapper) Command() string {
	script := `sh -c "$1"; c=$?; printf '\n%s %d\n' ` + string(w.f.sentinel) + ` "$c"; exit "$c"`
	return "sh -c " + shellQuote(script) + " sh " + shellQuote(w.command)
}

// Stdout returns the writer for the session's standard output: it passes everything to dst (nil discards)
// except the sentinel line. Call it once per wrapper.
func (w *ExitCodeWrapper) Stdout(dst io.Writer) io.Writer {
	if dst == nil {
		dst = io.Discard
	}
	w.f.dst = dst
	return &w.f
}

// Result writes out what the Stdout filter still holds and turns the session's result into the command's:
// nil for exit code 0, an [*ExitError] for another code, err itself when it is a context's error, and
// otherwise, when the sentinel never came, an error wrapping [ErrNoExitCode] (and err, if any).
func (w *ExitCodeWrapper) Result(err error) error {
	w.f.flush()
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	code, ok := w.f.exitCode()
	switch {
	case !ok && err != nil:
		return fmt.Errorf("%w: %w", ErrNoExitCode, err)
	case !ok:
		return ErrNoExitCode
	case code != 0:
		return &ExitError{Code: code}
	}
	return nil
}

// maxCodeLine bounds what may follow the sentinel on its line: " -2147483648\r\n".
const maxCodeLine = 16

// sentinelFilter passes output through to dst, minus the line "\n<sentinel> <code>\n" (or with "\r\n").
type sentinelFilter struct {
	mu       sync.Mutex
	dst      io.Writer
	sentinel []byte
	held     []byte // a possible start of the sentinel line, not yet written
	found    bool
	code     int
}

func (f *sentinelFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.found {
		return f.pass(p, len(p))
	}
	buf := append(f.held, p...)
	f.held = nil
	if i := bytes.Index(buf, f.sentinel); i >= 0 {
		rest := buf[i+len(f.sentinel):]
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 && len(rest) <= maxCodeLine {
			f.held = buf[f.lineStart(buf, i):]
			return f.pass(buf[:f.lineStart(buf, i)], len(p))
		}
		if code, ok := parseCodeLine(rest[:max(nl, 0)]); ok && nl >= 0 {
			f.found, f.code = true, code
			if _, err := f.dst.Write(buf[:f.lineStart(buf, i)]); err != nil {
				return 0, err
			}
			return f.pass(rest[nl+1:], len(p))
		}
		// The sentinel followed by something else: not our line (it cannot be, but lose nothing).
	}
	keep := f.possibleStart(buf)
	f.held = append([]byte(nil), buf[len(buf)-keep:]...)
	return f.pass(buf[:len(buf)-keep], len(p))
}

// pass writes b to dst and reports n bytes consumed.
func (f *sentinelFilter) pass(b []byte, n int) (int, error) {
	if len(b) > 0 {
		if _, err := f.dst.Write(b); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// lineStart is where the sentinel line starting at i begins: the newline the wrapper prints before it.
func (f *sentinelFilter) lineStart(buf []byte, i int) int {
	if i > 0 && buf[i-1] == '\n' {
		i--
		if i > 0 && buf[i-1] == '\r' {
			i--
		}
	}
	return i
}

// possibleStart returns the length of the longest suffix of buf that may begin the sentinel line
// ("\r\n" or "\n" then the sentinel, or the sentinel itself).
func (f *sentinelFilter) possibleStart(buf []byte) int {
	for _, lead := range []string{"\r\n", "\n", ""} {
		marker := append([]byte(lead), f.sentinel...)
		for k := min(len(buf), len(marker)-1); k > 0; k-- {
			if bytes.HasPrefix(marker, buf[len(buf)-k:]) {
				return k
			}
		}
	}
	return 0
}

// parseCodeLine reads " <code>" with an optional trailing '\r'.
func parseCodeLine(b []byte) (int, bool) {
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) < 2 || b[0] != ' ' {
		return 0, false
	}
	n, err := strconv.Atoi(string(b[1:]))
	return n, err == nil
}

// flush writes out what is held back: at the end of the output it cannot become the sentinel line.
func (f *sentinelFilter) flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.held) > 0 && f.dst != nil {
		_, _ = f.dst.Write(f.held)
	}
	f.held = nil
}

func (f *sentinelFilter) exitCode() (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.code, f.found
}
