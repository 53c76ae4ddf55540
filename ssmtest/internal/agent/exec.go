package agent

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// Control bytes that the NonInteractiveCommands plugin turns into signals.
const (
	ctrlC         = 0x03
	ctrlBackslash = 0x1c
)

// execPlugin runs NonInteractiveCommands: sh -c <commands> without a terminal.
type execPlugin struct {
	a        *Agent
	commands string
	separate bool

	cmd      *exec.Cmd
	stdin    io.WriteCloser
	startErr error
	pumps    sync.WaitGroup
	finished chan struct{} // closed after Wait and the exit code message
	exitErr  error
}

func newExecPlugin(a *Agent, commands string, separate bool) *execPlugin {
	return &execPlugin{a: a, commands: commands, separate: separate, finished: make(chan struct{})}
}

func (p *execPlugin) start(ctx context.Context) error {
	p.cmd = exec.Command("sh", "-c", p.commands)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var readers []io.ReadCloser
	var types []uint32
	var writers []*os.File
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return p.failStart(err)
	}
	if p.separate {
		outR, outW, err := os.Pipe()
		if err != nil {
			return p.failStart(err)
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			outR.Close()
			outW.Close()
			return p.failStart(err)
		}
		p.cmd.Stdout, p.cmd.Stderr = outW, errW
		readers, types, writers = []io.ReadCloser{outR, errR}, []uint32{wire.PTOutput, wire.PTStdErr}, []*os.File{outW, errW}
	} else {
		r, w, err := os.Pipe()
		if err != nil {
			return p.failStart(err)
		}
		p.cmd.Stdout, p.cmd.Stderr = w, w
		readers, types, writers = []io.ReadCloser{r}, []uint32{wire.PTOutput}, []*os.File{w}
	}
	err = p.cmd.Start()
	for _, w := range writers {
		w.Close() // the child has its copies
	}
	if err != nil {
		for _, r := range readers {
			r.Close()
		}
		return p.failStart(err)
	}
	for i, r := range readers {
		p.pumps.Add(1)
		go func() {
			defer p.pumps.Done()
			defer r.Close()
			_ = p.a.pump(r, types[i])
		}()
	}
	go p.reap()
	return nil
}

// failStart handles a command that cannot start: with separated streams the client still gets an exit
// code (1), then the session ends.
func (p *execPlugin) failStart(err error) error {
	p.startErr = err
	if p.separate {
		_ = p.a.sendStream(wire.PTExitCode, wire.ExitCodePayload(1))
	}
	close(p.finished)
	p.exitErr = err
	return nil // wait reports it; input is harmless meanwhile
}

// reap waits for the output to drain and the command to exit, then sends the exit code.
func (p *execPlugin) reap() {
	defer close(p.finished)
	p.pumps.Wait()
	err := p.cmd.Wait()
	code := exitCode(p.cmd.ProcessState, err)
	if p.separate && p.a.ctx.Err() == nil {
		if serr := p.a.sendStream(wire.PTExitCode, wire.ExitCodePayload(code)); serr != nil {
			p.exitErr = serr
		}
	}
}

func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		return 1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if c := ps.ExitCode(); c >= 0 {
		return c
	}
	if err != nil {
		return 1
	}
	return 0
}

func (p *execPlugin) input(payloadType uint32, payload []byte) error {
	if payloadType != wire.PTOutput || p.startErr != nil {
		return nil // Size is ignored without a terminal
	}
	if len(payload) == 1 {
		switch payload[0] {
		case ctrlC:
			return syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT)
		case ctrlBackslash:
			return syscall.Kill(-p.cmd.Process.Pid, syscall.SIGQUIT)
		}
	}
	_, err := p.stdin.Write(payload)
	if errors.Is(err, os.ErrClosed) || errors.Is(err, syscall.EPIPE) {
		return nil // the command stopped reading; the agent drops the input
	}
	return err
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
	if p.startErr != nil || p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.finished:
	default:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	_ = p.stdin.Close()
	<-p.finished
}
