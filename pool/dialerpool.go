package pool

import (
	"context"

	"github.com/ssmwire/ssmwire"
)

// poolConduit is a [*Pool] as a Dialer's conduit. It never ends by itself (the pool replaces its sessions
// as they end), so its Done closes only when the pool is closed.
type poolConduit struct{ *Pool }

func (p poolConduit) Done() <-chan struct{} { return p.Pool.done }

// poolOpener returns the Open function of a Dialer whose destinations each get a [Pool] configured by pc:
// pools whose last session also closes when idle, and whose sessions are reported as the Dialer's
// SessionEvents.
func (d *Dialer) poolOpener(c *ssmwire.Client, pc Config) func(ctx context.Context, target string, r ssmwire.Remote) (Tunnel, error) {
	pc.CloseLastWhenIdle = true
	return func(ctx context.Context, target string, r ssmwire.Remote) (Tunnel, error) {
		cfg := pc
		start, end := pc.OnSessionStart, pc.OnSessionEnd
		cfg.OnSessionStart = func(id string) {
			d.report(SessionEvent{Remote: r, SessionID: id})
			if start != nil {
				start(id)
			}
		}
		cfg.OnSessionEnd = func(id string, err error) {
			reason := "idle or closed"
			if err != nil {
				reason = err.Error()
			}
			d.report(SessionEvent{Remote: r, SessionID: id, Ended: true, Reason: reason})
			if end != nil {
				end(id, err)
			}
		}
		p, err := New(c, target, r, &cfg)
		if err != nil {
			return nil, err
		}
		return poolConduit{p}, nil
	}
}
