package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// evReady is the event `up --wait` prints once every tunnel listens and every first session is open.
const evReady = "ready"

// listening is one local endpoint of running tunnels: a forward's listener or a tunnel's proxy.
type listening struct {
	Tunnel string // the tunnel's name ("" for `ssmwire forward`)
	Addr   string // host:port, or a unix socket path
	Host   string // the forward's remote host ("" for a proxy)
	Port   int    // the forward's remote port (0 for a proxy)
	Proxy  bool
}

// listenings lists what the keepers and proxies listen on.
func listenings(keepers []*keeper, proxies []*proxyRunner) []listening {
	var ls []listening
	for _, k := range keepers {
		ls = append(ls, listening{Tunnel: k.tunnel, Addr: k.l.Addr().String(), Host: k.fw.Host, Port: k.fw.HostPort})
	}
	for _, p := range proxies {
		ls = append(ls, listening{Tunnel: p.tunnel, Addr: p.l.Addr().String(), Proxy: true})
	}
	return ls
}

func runCommand() *command {
	return &command{
		name:    "run",
		args:    "TUNNEL[,TUNNEL...] [--] COMMAND [ARGS...]",
		summary: "Run a command while named tunnels are up, with their addresses in its environment",
		help: `
Starts the named tunnels of the configuration file (see 'ssmwire help up'), waits until every
local port listens and every first session is open, then runs COMMAND with the tunnels'
addresses in its environment. When COMMAND exits, the sessions are ended properly
and ssmwire exits with COMMAND's status (128+N if a signal N killed it, as shells report).
SIGINT and SIGTERM received meanwhile are passed on to COMMAND, and the tunnels stay up until
it exits.

For every forward of tunnel NAME to remote HOST:PORT, COMMAND's environment gets

  SSMWIRE_<NAME>_<PORT>=127.0.0.1:15432        the local address (or unix socket path)
  SSMWIRE_<NAME>_<PORT>_HOST=127.0.0.1         its host (TCP only)
  SSMWIRE_<NAME>_<PORT>_PORT=15432             its port (TCP only)
  SSMWIRE_<NAME>_<HOST>_<PORT>=127.0.0.1:15432 the same, named with the remote host too

and for a tunnel's proxy SSMWIRE_<NAME>_PROXY=127.0.0.1:1080. <NAME> and <HOST> are
upper-cased and every character other than A-Z and 0-9 becomes '_' (tunnel "staging-db" is
STAGING_DB, host "redis.internal" is REDIS_INTERNAL). When two forwards of one tunnel reach
the same remote port on different hosts, only the names with <HOST> are set for them.

ssmwire's own messages go to standard error (--json: its events, as JSON lines), so that
standard output is COMMAND's.

Examples:
  ssmwire run staging-db -- sh -c 'psql "host=127.0.0.1 port=$SSMWIRE_STAGING_DB_5432_PORT"'
  ssmwire run staging-db,redis -- make integration-test`,
		stopAt: 1,
		run:    runRun,
	}
}

func runRun(ctx context.Context, a *app, _ *cmdOptions, args []string) error {
	if len(args) < 2 {
		return usagef("run: want TUNNEL[,TUNNEL...] and a COMMAND")
	}
	f, err := a.loadConfig()
	if err != nil {
		return err
	}
	var ts []Tunnel
	for _, n := range strings.Split(args[0], ",") {
		t, ok := f.Lookup(strings.TrimSpace(n))
		if !ok {
			return usagef("no tunnel %q in %s", n, f.Path)
		}
		ts = append(ts, t)
	}
	argv := args[1:]
	// ssmwire's reports must not mix with COMMAND's standard output, nor redraw status lines over it.
	ra := *a
	ra.stdout = a.stderr
	if !ra.g.json {
		ra.g.quiet = true
	}
	code := 0
	err = ra.runTunnelsThen(ctx, ts, func(ctx context.Context, _ *reporter, ls []listening) error {
		var err error
		code, err = a.runChild(ctx, argv, append(append([]string(nil), a.env...), tunnelEnv(ls)...))
		return err
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return &exitCodeError{code}
	}
	return nil
}

// signalGrace is how long run waits, after its context ended, for the signal that ended it.
const signalGrace = 200 * time.Millisecond

// signalNotify is signal.Notify; tests deliver signals through it.
var signalNotify = signal.Notify

// Exit statuses of run when COMMAND cannot be run, as shells use them.
const (
	exitCannotExecute = 126
	exitNotFound      = 127
)

// runChild runs argv with env and the app's standard streams, passing SIGINT and SIGTERM on to it, and
// returns its exit status. When ctx ends without such a signal the command gets SIGTERM.
func (a *app) runChild(ctx context.Context, argv []string, env []string) (int, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = a.stdin, a.stdout, a.stderr
	sigs := make(chan os.Signal, 4)
	signalNotify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(a.stderr, "ssmwire: run: %v\n", err)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return exitNotFound, nil
		}
		return exitCannotExecute, nil
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	ctxDone := ctx.Done()
	forwarded := false
	for {
		select {
		case sig := <-sigs:
			cmd.Process.Signal(sig)
			forwarded = true
			continue
		case <-ctxDone:
			ctxDone = nil
			if forwarded {
				continue // the signal that ended ctx has been passed on
			}
			// When a signal ended ctx (the program's NotifyContext), the same signal reaches sigs too, maybe a
			// moment later (the signal package serves its channels in no particular order): pass that one on.
			// Only without one does the command get SIGTERM.
			t := time.NewTimer(signalGrace)
			select {
			case sig := <-sigs:
				cmd.Process.Signal(sig)
			case <-t.C:
				cmd.Process.Signal(syscall.SIGTERM)
			case err := <-waited:
				t.Stop()
				return exitStatus(cmd, err)
			}
			t.Stop()
			continue
		case err := <-waited:
			return exitStatus(cmd, err)
		}
	}
}

// exitStatus is the status a shell would report for a finished command.
func exitStatus(cmd *exec.Cmd, err error) (int, error) {
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 0, fmt.Errorf("run: %w", err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return cmd.ProcessState.ExitCode(), nil
}

// envName turns a tunnel name or host into its part of a variable name: upper case, and '_' for every
// character other than A-Z and 0-9.
func envName(s string) string {
	b := []byte(strings.ToUpper(s))
	for i, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// tunnelEnv returns the variables run gives COMMAND (see runCommand's help).
func tunnelEnv(ls []listening) []string {
	ports := make(map[string]int) // "<NAME>_<PORT>" → forwards with that remote port
	for _, l := range ls {
		if !l.Proxy {
			ports[envName(l.Tunnel)+"_"+strconv.Itoa(l.Port)]++
		}
	}
	var env []string
	for _, l := range ls {
		name := "SSMWIRE_" + envName(l.Tunnel)
		if l.Proxy {
			env = append(env, name+"_PROXY="+l.Addr)
			continue
		}
		short := envName(l.Tunnel) + "_" + strconv.Itoa(l.Port)
		if ports[short] == 1 {
			env = append(env, "SSMWIRE_"+short+"="+l.Addr)
			if h, p, err := net.SplitHostPort(l.Addr); err == nil {
				env = append(env, "SSMWIRE_"+short+"_HOST="+h, "SSMWIRE_"+short+"_PORT="+p)
			}
		}
		env = append(env, name+"_"+envName(l.Host)+"_"+strconv.Itoa(l.Port)+"="+l.Addr)
	}
	return env
}

// readyEvent reports that everything listens: the one line `up --wait` prints.
func readyEvent(rep *reporter, ls []listening) {
	addrs := make([]string, len(ls))
	for i, l := range ls {
		addrs[i] = l.Addr
	}
	rep.emit(event{Event: evReady, Listeners: addrs}, nil)
}
