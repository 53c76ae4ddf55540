//go:build !unix

package agent

import (
	"os"
	"os/exec"
)

// ownProcessGroup does nothing where there are no Unix process groups; killGroup then kills p alone.
func ownProcessGroup(*exec.Cmd) {}

// killGroup kills p (Windows has no process groups to signal; the emulator's commands run there only in a
// developer's cross-check).
func killGroup(p *os.Process) { _ = p.Kill() }
