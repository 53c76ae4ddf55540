package cli

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/ssmwire/ssmwire"
)

// forwardWarning warns, as the proxy does, when a forward listens beyond loopback: anyone who can reach
// that port reaches the remote port with the user's AWS identity.
func (a *app) forwardWarning(fw Forward, target, profile string) {
	if fw.Socket != "" || ssmwire.IsLoopbackHost(fw.BindAddress) {
		return
	}
	a.errorf("warning: forward %s listens on %s, not on loopback only: anyone who can reach that port "+
		"reaches %s via %s, with your AWS identity (profile %s)", fw.Spec, fw.ListenAddress(), fw.RemoteAddress(), target, profile)
}

// busyHint adds what to do to a listen error for a local port that is taken.
func busyHint(err error, fw Forward) error {
	if !errors.Is(err, syscall.EADDRINUSE) {
		return err
	}
	if fw.Socket != "" {
		return fmt.Errorf("%w (a program answers on %s; stop it or choose another path)", err, fw.Socket)
	}
	return fmt.Errorf("%w (another program listens on local port %d: 'ss -ltnp' shows which; choose another "+
		"local port, or 0 for any free one)", err, fw.Port)
}
