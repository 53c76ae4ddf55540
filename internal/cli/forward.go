package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync"
	"time"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/ecsexec"
)

// statusInterval is how often status lines are redrawn on a terminal.
const statusInterval = 500 * time.Millisecond

func forwardCommand() *command {
	return &command{
		name:    "forward",
		args:    "TARGET SPEC...",
		summary: "Forward local ports to TARGET or through it, until interrupted",
		help: `
Each SPEC is an OpenSSH -L forward:

  [bind_address:]port:host:hostport    listen on bind_address (default 127.0.0.1):port
  socket_path:host:hostport            listen on a unix socket (a path with a '/')

host "localhost" is TARGET itself (document AWS-StartPortForwardingSession); any other host
is dialled by TARGET (AWS-StartPortForwardingSessionToRemoteHost). Port 0 picks a free port.
IPv6 addresses go in brackets: [::1]:8080:[fd00::5]:80.

Each forward keeps its local listener while sessions come and go: when a session ends (idle
timeout, the session ended elsewhere, an agent restart) the connections it carried are closed
and the next connection starts a new session. On a terminal a status line per forward shows
its session, connections and bytes each way; --json prints one event per line instead
(tunnel_up, session_started, connection, session_ended, error); --quiet only errors.
Interrupting ssmwire ends every session properly.

--sessions N spreads each forward's connections over up to N sessions (auto: up to 8, as
many as there are concurrent connections): the agent paces every session to about
0.8 MiB/s, so parallel transfers go faster on sessions of their own. A new session starts
only when every open one carries a connection, at most 2 per second (4 at once), retried
with backoff when AWS throttles StartSession; extra sessions idle for a minute end.

A forward on an address beyond loopback is warned about: anyone who can reach the port
reaches the remote one with your AWS identity.

Examples:
  ssmwire forward web 5432:db.internal:5432
  ssmwire forward i-0123456789abcdef0 8080:localhost:80 9090:localhost:9090
  ssmwire forward --sessions auto bastion 6379:redis.internal:6379`,
		flags: func(fs *flag.FlagSet, o *cmdOptions) {
			fs.StringVar(&o.sessions, "sessions", "1", "sessions per forward: `N` (1-64) or auto; connections are spread over them")
		},
		run: runForward,
	}
}

func upCommand() *command {
	return &command{
		name:    "up",
		args:    "[NAME...]",
		summary: "Start named tunnels from the configuration file (all without NAME)",
		help: `
The configuration file (--config, default $XDG_CONFIG_HOME/ssmwire/config.toml or
~/.config/ssmwire/config.toml) names tunnels:

  [tunnels.staging-db]
  profile  = "staging"          # optional: AWS profile
  region   = "eu-west-1"        # optional: AWS region
  target   = "bastion"          # instance id, mi- id or Name tag value
  forwards = ["5432:localhost:5432", "6379:redis.internal:6379"]
  sessions = 4                  # optional: sessions per forward, a number or "auto" (see forward)
  proxy    = "127.0.0.1:1080"   # optional: SOCKS5 and HTTP CONNECT proxy via target (see proxy)
  max_payload = 32768           # optional opt-in: data message size in bytes (default 1024)
  window      = 524288          # optional opt-in: bound on unacknowledged bytes (default 262144)

Forwards take the syntax of 'ssmwire forward' and behave the same way. Every tunnel named
runs in this one process.

--wait prints one more line once every forward listens and every first session is open
("ready: listening on ADDR, ..."; with --json a "ready" event with "listeners"), so that a
script can start 'ssmwire up --wait NAME &' and wait for that line. To run one command with
tunnels up, 'ssmwire run' does all of it.

Examples:
  ssmwire up
  ssmwire up --wait staging-db &
  ssmwire up --config ./tunnels.toml staging-db redis`,
		flags: func(fs *flag.FlagSet, o *cmdOptions) {
			fs.BoolVar(&o.wait, "wait", false, "print a ready line once everything listens")
		},
		run: runUp,
	}
}

func runForward(ctx context.Context, a *app, o *cmdOptions, args []string) error {
	if len(args) < 2 {
		return usagef("forward: want TARGET and at least one SPEC")
	}
	t, err := ssmwire.ParseTarget(args[0])
	if err != nil {
		return &usageError{err.Error()}
	}
	var fws []Forward
	for _, s := range args[1:] {
		fw, err := ParseForward(s)
		if err != nil {
			return &usageError{err.Error()}
		}
		fws = append(fws, fw)
	}
	sessions, err := ParseSessions(o.sessions)
	if err != nil {
		return &usageError{err.Error()}
	}
	return a.runTunnels(ctx, []Tunnel{{Target: t.Raw, Forwards: fws, Sessions: sessions}})
}

func runUp(ctx context.Context, a *app, o *cmdOptions, names []string) error {
	f, err := a.loadConfig()
	if err != nil {
		return err
	}
	var ts []Tunnel
	if len(names) == 0 {
		ts = f.Tunnels
		if len(ts) == 0 {
			return fmt.Errorf("%s defines no tunnels", f.Path)
		}
	}
	for _, n := range names {
		t, ok := f.Lookup(n)
		if !ok {
			return usagef("no tunnel %q in %s", n, f.Path)
		}
		ts = append(ts, t)
	}
	if o.wait {
		return a.runTunnelsThen(ctx, ts, func(ctx context.Context, rep *reporter, ls []listening) error {
			readyEvent(rep, ls)
			<-ctx.Done()
			return nil
		})
	}
	return a.runTunnels(ctx, ts)
}

// runTunnels starts every forward of ts and serves them until ctx is done. Setting up is all or nothing: if a
// target cannot be resolved, a listener cannot be opened or a first session cannot be started, whatever was
// started is stopped (sessions terminated) and the error returned.
func (a *app) runTunnels(ctx context.Context, ts []Tunnel) error {
	return a.runTunnelsThen(ctx, ts, nil)
}

// runTunnelsThen is runTunnels with a hook: when ready is not nil it is called once everything listens and
// every first session is open, with what listens where; the tunnels then run until ready returns (not until
// ctx is done: ready decides), and its error is returned after they are stopped (run.go).
func (a *app) runTunnelsThen(ctx context.Context, ts []Tunnel, ready func(ctx context.Context, rep *reporter, ls []listening) error) error {
	rep := newReporter(a)
	serveCtx := ctx
	if ready != nil {
		serveCtx = context.WithoutCancel(ctx)
	}
	runCtx, cancel := context.WithCancel(serveCtx)
	defer cancel()

	var keepers []*keeper
	var proxies []*proxyRunner
	var wg sync.WaitGroup
	stopAll := func() {
		cancel()
		wg.Wait()
		for _, p := range proxies {
			p.l.Close() // a proxy that never served; a served one has closed its listener and sessions
		}
		for _, k := range keepers {
			if k.l != nil {
				k.l.Close()
			}
			k.stopPool() // terminates every session of the keeper
		}
	}
	cache := make(map[tunnelKey]*clients)
	for _, tn := range ts {
		key := tunnelKey{tn.Profile, tn.Region, tn.Pacing}
		c := cache[key]
		if c == nil {
			var err error
			if c, err = a.tunnelClients(ctx, tn); err != nil {
				stopAll()
				return tunnelErr(tn, err)
			}
			cache[key] = c
		}
		target, err := ssmwire.ParseTarget(tn.Target)
		if err == nil {
			target, err = a.resolve(ctx, c, target)
		}
		if err == nil {
			target, err = ecsexec.SessionTarget(ctx, c.ecs, target)
		}
		if err != nil {
			stopAll()
			return tunnelErr(tn, c.explain(err))
		}
		c, err = a.withAccess(ctx, c, target) // the tunnel's own clients with --reason, not shared
		if err != nil {
			stopAll()
			return tunnelErr(tn, err)
		}
		for _, fw := range tn.Forwards {
			k := &keeper{tunnel: tn.Name, fw: fw, target: target.ID, rep: rep, sessions: tn.Sessions}
			a.forwardWarning(fw, target.Raw, c.profile)
			if err := k.listen(); err != nil {
				stopAll()
				return tunnelErr(tn, busyHint(err, fw))
			}
			keepers = append(keepers, k)
			if err := k.start(runCtx, c.wire); err != nil {
				stopAll()
				return tunnelErr(tn, c.explain(fmt.Errorf("forward %s: %w", fw.Spec, err)))
			}
			rep.add(k)
			rep.emit(event{Event: evTunnelUp}, k)
		}
		if tn.Proxy != nil {
			p := &proxyRunner{tunnel: tn.Name, pl: *tn.Proxy, target: target.ID, sessions: tn.Sessions, c: c, rep: rep, log: a.log}
			if err := p.listen(a); err != nil {
				stopAll()
				return tunnelErr(tn, err)
			}
			proxies = append(proxies, p)
			rep.addLine(p.statusLine)
			p.emit(event{Event: evTunnelUp, Remote: proxyRemote}, "")
		}
	}
	for _, p := range proxies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.serve(runCtx)
		}()
	}
	for _, k := range keepers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k.serve(runCtx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		rep.run(runCtx, statusInterval)
	}()
	if ready != nil {
		err := ready(ctx, rep, listenings(keepers, proxies))
		stopAll()
		return err
	}
	<-ctx.Done()
	stopAll()
	return nil
}

// tunnelErr names the tunnel of a setup error, when it has a name.
func tunnelErr(t Tunnel, err error) error {
	if errors.Is(err, context.Canceled) {
		return nil // interrupted while setting up: everything started has been stopped
	}
	if t.Name == "" || errors.Is(err, ssmwire.ErrNoCredentials) || errors.Is(err, ssmwire.ErrSSOExpired) {
		return err
	}
	return fmt.Errorf("tunnel %s: %w", t.Name, err)
}
