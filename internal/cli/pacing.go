package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"github.com/ssmwire/ssmwire"
)

// pacing is the opt-in to data messages or a bound on unacknowledged bytes larger than the defaults the
// service is known to accept (1 KiB and 256 KiB: ssmwire.DefaultMaxPayload, ssmwire.DefaultWindow): the
// global flags --max-payload and --window and a tunnel's max_payload and window keys. Zero keeps a default.
type pacing struct {
	MaxPayload int
	Window     int
}

func (p *pacing) register(fs *flag.FlagSet) {
	fs.Var((*byteFlag)(&p.MaxPayload), "max-payload", "largest data message payload in `bytes` (default 1024, as AWS's; more is an unproven opt-in)")
	fs.Var((*byteFlag)(&p.Window), "window", "initial bound on unacknowledged `bytes` (default 262144; larger is an unproven opt-in)")
}

// over returns p with the non-zero fields of q replacing its own.
func (p pacing) over(q pacing) pacing {
	if q.MaxPayload != 0 {
		p.MaxPayload = q.MaxPayload
	}
	if q.Window != 0 {
		p.Window = q.Window
	}
	return p
}

// session returns the session configuration p asks for, or nil for all defaults.
func (p pacing) session() *ssmwire.ChannelConfig {
	if p == (pacing{}) {
		return nil
	}
	return &ssmwire.ChannelConfig{MaxPayload: p.MaxPayload, Window: p.Window}
}

// check reports values the session would refuse (too small a payload, a window below the payload).
func (p pacing) check() error {
	if c := p.session(); c != nil {
		return c.Validate()
	}
	return nil
}

// byteFlag is a flag value: a positive whole number of bytes.
type byteFlag int

func (b *byteFlag) String() string {
	if b == nil || *b == 0 {
		return ""
	}
	return strconv.Itoa(int(*b))
}

func (b *byteFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return fmt.Errorf("want a positive number of bytes")
	}
	*b = byteFlag(n)
	return nil
}

// tunnelClients is app.clients for a tunnel: its profile, region and pacing (the command line's flags win
// over the tunnel's keys).
func (a *app) tunnelClients(ctx context.Context, tn Tunnel) (*clients, error) {
	s := a.g.aws
	s.Pacing = tn.Pacing.over(s.Pacing)
	if tn.Profile != "" {
		s.Profile = tn.Profile
	}
	if tn.Region != "" {
		s.Region = tn.Region
	}
	return loadClients(ctx, a.env, s, a.log)
}

// tunnelKey is what decides whether two tunnels can share AWS clients.
type tunnelKey struct {
	profile, region string
	pacing          pacing
}
