//go:build unix

package e2e

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
)

// startTimeout bounds how long a server may take to become ready.
const startTimeout = 60 * time.Second

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. A
// program started on it may still lose a race with another listener; the
// Start helpers retry with a new port when their server fails to bind.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("e2e: pick a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// process is a started server process whose exit is observed by one
// goroutine: done is closed when it has exited, and err is then set.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *testkit.Buffer
	done chan struct{}
	err  error
}

// startProcess starts cmd in its own process group with stdout and stderr
// captured, and registers a cleanup that sends stop (then SIGKILL to the
// group after a grace period) and waits for the exit.
func startProcess(t testing.TB, name string, cmd *exec.Cmd, stop syscall.Signal) (*process, error) {
	t.Helper()
	p := &process{name: name, cmd: cmd, out: new(testkit.Buffer), done: make(chan struct{})}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = new(syscall.SysProcAttr)
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("e2e: start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(stop) })
	return p, nil
}

// stop signals the process and waits for it; after 10 s the whole process
// group is killed.
func (p *process) stop(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// errExited reports that a server exited before it became ready.
var errExited = errors.New("exited before it was ready")

// waitReady polls ready every 20 ms until it returns true, the process exits,
// or startTimeout passes. The process's output is included in the error.
func (p *process) waitReady(ready func() bool) error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if ready() {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("e2e: %s %w (%v); output:\n%s", p.name, errExited, p.err, p.out.String())
		case <-deadline.C:
			return fmt.Errorf("e2e: %s not ready after %v; output:\n%s", p.name, startTimeout, p.out.String())
		case <-tick.C:
		}
	}
}

// canDial reports whether something accepts TCP connections on port.
func canDial(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// startServer runs start with fresh ports until it succeeds, at most three
// times: a port picked by FreePort can be taken by someone else before the
// server binds it.
func startServer(t testing.TB, name string, start func(port int) error) int {
	t.Helper()
	var err error
	for range 3 {
		port := FreePort(t)
		if err = start(port); err == nil {
			return port
		}
		if !errors.Is(err, errExited) {
			break
		}
	}
	t.Fatalf("e2e: start %s: %v", name, err)
	return 0
}
