package agent

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// exitGrace is how long a pty session waits for the last output after its program exited (a background
// child may hold the terminal open).
const exitGrace = time.Second

// ptyPlugin runs a program on a pseudo-terminal: Standard_Stream (the shell) and InteractiveCommands.
type ptyPlugin struct {
	a    *Agent
	argv []string

	cmd  *exec.Cmd
	ptmx *os.File
	// ptyMu orders Setsize (which uses the raw descriptor, unsynchronised with Close) with close.
	ptyMu     sync.Mutex
	ptyClosed bool
	pumpDone  chan struct{}
	exited    chan struct{}
}

func newPtyPlugin(a *Agent, argv []string) *ptyPlugin {
	return &ptyPlugin{a: a, argv: argv, pumpDone: make(chan struct{}), exited: make(chan struct{})}
}

func (p *ptyPlugin) start(ctx context.Context) error {
	p.cmd = exec.Command(p.argv[0], p.argv[1:]...)
	p.cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	ptmx, err := pty.Start(p.cmd)
	if err != nil {
		close(p.pumpDone)
		close(p.exited)
		return err
	}
	p.ptmx = ptmx
	go func() {
		defer close(p.pumpDone)
		err := p.a.pump(ptmx, wire.PTOutput)
		p.a.log.Debug("pty pump ended", "err", err)
	}()
	go func() {
		defer close(p.exited)
		_ = p.cmd.Wait()
	}()
	return nil
}

func (p *ptyPlugin) input(payloadType uint32, payload []byte) error {
	switch payloadType {
	case wire.PTOutput:
		_, err := p.ptmx.Write(payload)
		return err
	case wire.PTSize:
		var sz wire.SizeData
		if err := json.Unmarshal(payload, &sz); err != nil {
			return err
		}
		p.ptyMu.Lock()
		defer p.ptyMu.Unlock()
		if p.ptyClosed {
			return nil
		}
		return pty.Setsize(p.ptmx, &pty.Winsize{Rows: uint16(sz.Rows), Cols: uint16(sz.Cols)})
	}
	return nil
}

func (p *ptyPlugin) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.exited:
		t := time.NewTimer(exitGrace)
		defer t.Stop()
		select {
		case <-p.pumpDone:
		case <-t.C:
		case <-ctx.Done():
		}
		return nil
	case <-p.pumpDone:
		select {
		case <-p.exited:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *ptyPlugin) close() {
	if p.ptmx == nil {
		return
	}
	select {
	case <-p.exited:
	default:
		// pty.Start made the program a session leader: kill its whole process group.
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	p.ptyMu.Lock()
	p.ptyClosed = true
	_ = p.ptmx.Close()
	p.ptyMu.Unlock()
	<-p.exited
	<-p.pumpDone
}
