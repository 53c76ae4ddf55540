//go:build unix

package agent

import (
	"os"
	"os/exec"
	"syscall"
)

// ownProcessGroup starts cmd in a process group of its own, so that killGroup reaches whatever it starts.
// (The real agent does not; the emulator must not leave processes behind a test.)
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills p's whole process group: p leads one (ownProcessGroup, or pty.Start's new session).
func killGroup(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
}
