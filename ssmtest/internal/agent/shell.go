package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/creack/pty"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// ptyOutputDelay is how long the agent waits after starting a pty before it reads the first output
// (writePump's initialWaitSecond: "wait for all input commands to run").
const ptyOutputDelay = time.Second

// ptyPlugin runs a program on a pseudo-terminal: Standard_Stream (the shell) and InteractiveCommands.
type ptyPlugin struct {
	a       *Agent
	argv    []string
	argvErr error

	cmd  *exec.Cmd
	ptmx *os.File
	// ptyMu orders Setsize (which uses the raw descriptor, unsynchronised with Close) with close.
	ptyMu     sync.Mutex
	ptyClosed bool
	pumpDone  chan struct{}
	exited    chan struct{}
}

func newPtyPlugin(a *Agent, argv []string, argvErr error) *ptyPlugin {
	return &ptyPlugin{a: a, argv: argv, argvErr: argvErr, pumpDone: make(chan struct{}), exited: make(chan struct{})}
}

func (p *ptyPlugin) start(ctx context.Context) error {
	if p.argvErr != nil {
		close(p.pumpDone)
		close(p.exited)
		// getCommandExecutor failed: the agent gives up 2 s later.
		if err := p.a.sleep(executorFailDelay); err != nil {
			return err
		}
		return fmt.Errorf("Unable to start command: %s", p.argvErr)
	}
	p.cmd = exec.Command(p.argv[0], p.argv[1:]...)
	p.cmd.Env = commandEnv()
	ptmx, err := pty.Start(p.cmd)
	if err == nil {
		if ptmx, err = pollable(ptmx); err != nil {
			killGroup(p.cmd.Process)
			_ = p.cmd.Wait()
		}
	}
	if err != nil {
		close(p.pumpDone)
		close(p.exited)
		return err
	}
	p.ptmx = ptmx
	go func() {
		defer close(p.pumpDone)
		err := p.a.pumpText(ptmx, wire.PTOutput, ptyOutputDelay, false)
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
		return setWinsize(p.ptmx, uint16(sz.Rows), uint16(sz.Cols))
	}
	return nil
}

// wait returns when the output pump has ended (the pty reports EOF or EIO once every process holding the
// terminal has let go of it): like the agent, the program's own exit is not what ends the session.
func (p *ptyPlugin) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.pumpDone:
		return nil
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
		killGroup(p.cmd.Process)
	}
	p.ptyMu.Lock()
	p.ptyClosed = true
	_ = p.ptmx.Close()
	p.ptyMu.Unlock()
	<-p.exited
	<-p.pumpDone
}
