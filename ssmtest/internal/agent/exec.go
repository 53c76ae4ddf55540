package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// Control bytes that the NonInteractiveCommands plugin turns into signals.
const (
	ctrlC         = 0x03
	ctrlBackslash = 0x1c
)

// Delays of the agent's failure paths (shell.go): a command it cannot even build is reported 2 s later, and
// every error text goes out 1 s after that (sendErrorToDataChannel sleeps first).
const (
	executorFailDelay = 2 * time.Second
	errorTextDelay    = time.Second
)

// commandArgv is what the agent executes for a commands property, without a shell: an empty command runs
// "sh"; anything else is split into words by the agent's shlex rules (splitCommand) and executed directly.
// The error is the agent's "Failed to parse commands input" (or, for a command of no words, which crashes
// the real agent, a failure as well).
func commandArgv(commands string) ([]string, error) {
	if isBlank(commands) {
		return []string{"sh"}, nil
	}
	argv, err := splitCommand(commands)
	if err != nil {
		return nil, fmt.Errorf("Failed to parse commands input: %s\n", err)
	}
	if len(argv) == 0 {
		return nil, errors.New("Failed to parse commands input: no command\n")
	}
	return argv, nil
}

func isBlank(s string) bool {
	for _, r := range s {
		switch r {
		case ' ', '\t', '\r', '\n', '\v', '\f':
		default:
			return false
		}
	}
	return true
}

// execPlugin runs NonInteractiveCommands as the agent does: the commands are split with shlex rules and
// executed directly, with no shell and no standard input (/dev/null). Client Output payloads are only
// searched for 0x03 and 0x1C, which send SIGINT and SIGQUIT to the command (not its group) and then hold
// the agent's reader until the command has exited; any other input is dropped.
//
// With separateOutputStream, stdout (Output) and stderr (StdErr) are read by two independent pumps, so
// stderr can overtake stdout, and "EXIT_CODE: n" (ExitCode) follows once both reached EOF and the command
// was reaped (-1 for a command killed by a signal, like Go's ExitCode). Those pumps stop for good when they
// find publication paused (a client away from the session), and the exit code is not sent while paused:
// the real agent's output then never resumes. Without it, stdout and stderr go to a
// file and the file is sent only after the command exited, as the agent does.
//
// A command that cannot start: with separated streams EXIT_CODE: 1 at once; in both modes, 1 s later, the
// start error's text as one StdErr message without a newline; then the session fails.
type execPlugin struct {
	a        *Agent
	argv     []string
	argvErr  error
	separate bool

	cmd      *exec.Cmd
	exited   chan struct{} // closed once the command was reaped (never, if it did not start)
	finished chan struct{} // closed when the plugin's work is over
	exitErr  error         // why the session fails; read after finished
}

func newExecPlugin(a *Agent, commands string, separate bool) *execPlugin {
	argv, err := commandArgv(commands)
	return &execPlugin{a: a, argv: argv, argvErr: err, separate: separate,
		exited: make(chan struct{}), finished: make(chan struct{})}
}

func (p *execPlugin) start(ctx context.Context) error {
	if p.argvErr != nil {
		// getCommandExecutor failed: 2 s, then the error text (1 s later), then the session fails.
		msg := fmt.Sprintf("Unable to start command: %s\n", p.argvErr)
		go p.fail(executorFailDelay, msg, errors.New(msg))
		return nil
	}
	p.cmd = exec.Command(p.argv[0], p.argv[1:]...)
	p.cmd.Env = commandEnv()
	// Not the agent's: its own process group lets close kill whatever the command started.
	ownProcessGroup(p.cmd)
	if p.separate {
		return p.startSeparate()
	}
	return p.startCombined()
}

func commandEnv() []string {
	env := append(os.Environ(), "TERM=xterm-256color")
	if os.Getenv("LANG") == "" {
		env = append(env, "LANG=C.UTF-8")
	}
	return env
}

// cannotStart reports a command whose Start failed.
func (p *execPlugin) cannotStart(err error) error {
	if p.separate {
		_ = p.a.sendStream(wire.PTExitCode, wire.ExitCodePayload(1))
	}
	go p.fail(0, err.Error(), fmt.Errorf("Error occurred starting the command: %s", err))
	return nil
}

// fail sends text as StdErr after delay plus the agent's 1 s, then ends the plugin with err.
func (p *execPlugin) fail(delay time.Duration, text string, err error) {
	defer close(p.finished)
	p.exitErr = err
	if p.a.sleep(delay+errorTextDelay) != nil {
		return
	}
	_ = p.a.sendStream(wire.PTStdErr, []byte(text))
}

func (p *execPlugin) startSeparate() error {
	outR, outW, err := os.Pipe()
	if err != nil {
		return p.cannotStart(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return p.cannotStart(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = outW, errW
	err = p.cmd.Start()
	outW.Close() // the child has its copies
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return p.cannotStart(err)
	}
	var pumps sync.WaitGroup
	for _, s := range []struct {
		r  *os.File
		pt uint32
	}{{outR, wire.PTOutput}, {errR, wire.PTStdErr}} {
		pumps.Add(1)
		go func() {
			defer pumps.Done()
			defer s.r.Close()
			_ = p.a.pumpText(s.r, s.pt, 0, true)
		}()
	}
	go func() {
		defer close(p.finished)
		pumps.Wait()
		code := exitCode(p.cmd.Wait())
		close(p.exited)
		// The agent sends the exit code only while the data channel is active.
		if p.a.ctx.Err() == nil && !p.a.ch.paused.Load() {
			if serr := p.a.sendStream(wire.PTExitCode, wire.ExitCodePayload(code)); serr != nil {
				p.exitErr = serr
			}
		}
	}()
	return nil
}

func (p *execPlugin) startCombined() error {
	f, err := os.CreateTemp("", "ssmtest-exec-*")
	if err != nil {
		return p.cannotStart(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return p.cannotStart(err)
	}
	go func() {
		defer close(p.finished)
		defer os.Remove(f.Name())
		defer f.Close()
		_ = p.cmd.Wait()
		close(p.exited)
		if p.a.ctx.Err() != nil {
			return
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			p.exitErr = err
			return
		}
		_ = p.a.pumpText(f, wire.PTOutput, 0, false)
	}()
	return nil
}

// exitCode is the code the agent reports for cmd.Wait's result: the exit status, -1 for a command killed
// by a signal (exec.ExitError.ExitCode), 1 when there is no status at all.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return 1
}

func (p *execPlugin) input(payloadType uint32, payload []byte) error {
	if payloadType != wire.PTOutput || p.cmd == nil || p.cmd.Process == nil {
		return nil // Size is ignored without a terminal; a command that never started takes nothing
	}
	var sig syscall.Signal
	for _, b := range payload {
		if b == ctrlC {
			sig = syscall.SIGINT
			break
		}
		if b == ctrlBackslash {
			sig = syscall.SIGQUIT
			break
		}
	}
	if sig == 0 {
		return nil // no standard input: the agent drops the bytes
	}
	select {
	case <-p.exited:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return err
	}
	// The agent waits for the command on its reader goroutine: nothing more is processed meanwhile.
	select {
	case <-p.exited:
	case <-p.a.ctx.Done():
	}
	return nil
}

func (p *execPlugin) wait(ctx context.Context) error {
	select {
	case <-p.finished:
		return p.exitErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *execPlugin) close() {
	if p.cmd != nil && p.cmd.Process != nil {
		select {
		case <-p.exited:
		default:
			killGroup(p.cmd.Process)
		}
	}
	<-p.finished
}
