package plugincli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/version"
)

// Env is the part of the process environment Main uses.
type Env struct {
	// Lookup reads a variable (os.LookupEnv).
	Lookup func(string) (string, bool)
	// Unset removes one (os.Unsetenv); nil leaves the environment alone.
	Unset func(string) error
}

// OSEnv returns the process environment.
func OSEnv() Env { return Env{Lookup: os.LookupEnv, Unset: os.Unsetenv} }

// Console messages of the official plugin (docs/protocol.md §6.6, §7.1).
const (
	msgInstalled = "\nThe Session Manager plugin was installed successfully. Use the AWS CLI to start a session.\n\n"
	msgUnknown   = "\nUnknown operation %s. \nUse session-manager-plugin --version to check the version.\n\n"
	msgStarting  = "\nStarting session with SessionId: %s\n"
	msgExiting   = "\n\nExiting session with sessionId: %s.\n\n"
	msgClosedOut = "\n\nSessionId: %s : %s\n\n"
	msgTimedOut  = "Session: %s timed out.\n"
	msgCannot    = "Cannot perform start session: %v\n"
)

// Main runs the session-manager-plugin command with args (without the program name) and returns the process
// exit status. It never exits the process itself; cmd/session-manager-plugin does.
//
// Exit status: 0 after a clean end (and for the no-argument and --version forms), the remote command's exit
// code when the agent reported one, 1 for errors and refused command lines. The official plugin exits 0 in
// every case (docs/protocol.md §7.3).
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env Env) int {
	return newRunner(stdin, stdout, stderr, env).main(ctx, args)
}

// runner holds one invocation's streams and the seams tests replace.
type runner struct {
	stdin  io.Reader
	stdout *lockedWriter
	stderr io.Writer
	env    Env
	log    *slog.Logger
	// profile is the AWS profile of the command line, for advice such as "aws sso login --profile P".
	profile string

	// notify and stop are signal.Notify and signal.Stop; tests deliver signals through them.
	notify func(c chan<- os.Signal, sig ...os.Signal)
	stop   func(c chan<- os.Signal)

	// sessionConfig, if set, adjusts the session configuration (tests).
	sessionConfig func(*ssmwire.ChannelConfig)

	// settle runs once a port session's local port is open and announced: debug.FreeOSMemory, which gives
	// back to the OS the pages start-up used and let go (the AWS configuration, the handshake, JSON). A port
	// session may then run for hours on what it keeps. It collects garbage once, taking about a millisecond
	// of CPU, after the "Port N opened" line so as not to delay it. Tests count the calls.
	settle func()
}

func newRunner(stdin io.Reader, stdout, stderr io.Writer, env Env) *runner {
	if env.Lookup == nil {
		env.Lookup = func(string) (string, bool) { return "", false }
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	return &runner{
		stdin:  stdin,
		stdout: &lockedWriter{w: stdout},
		stderr: stderr,
		env:    env,
		notify: signal.Notify,
		stop:   signal.Stop,
		settle: debug.FreeOSMemory,
	}
}

func (r *runner) main(ctx context.Context, args []string) int {
	switch {
	case len(args) == 0:
		r.printf(msgInstalled)
		return 0
	case len(args) == 1 && args[0] == "--version":
		r.printf("%s\n", version.Version)
		return 0
	case len(args) < legacyArgs:
		r.printf(msgUnknown, args[0])
		return 1
	}

	var closeLog func()
	r.log, closeLog = newLogger(r.env, r.stderr)
	defer closeLog()

	inv, err := parseArgs(args, r.env)
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			r.printf("%s", ue.msg)
		} else {
			r.cannot(err)
		}
		return 1
	}
	r.profile = inv.profile
	return r.startSession(ctx, inv)
}

// startSession opens the data channel and runs the session type the agent announces.
func (r *runner) startSession(ctx context.Context, inv *invocation) int {
	id := inv.info.SessionID
	if inv.ecs {
		r.log.Debug("plugincli: ECS execute-command session; SSM calls use the region's default SSM endpoint, not the ECS endpoint argument",
			"ecsEndpoint", inv.ecsEndpoint, "region", inv.region)
	}
	clients := &awsClients{region: inv.region, profile: inv.profile, ssmEndpoint: inv.endpoint, lookup: r.env.Lookup}
	if err := clients.checkCABundle(ctx); err != nil {
		r.cannot(err)
		return 1
	}
	km := clients.kms()
	if inv.legacy {
		km = refuseKMS{}
	}
	base := &ssmwire.ChannelConfig{Credentials: clients.credentials(), Region: inv.region, TrustedEndpoints: r.trustedEndpoints(inv),
		Dial: ssmwire.LazyDial(clients.config)}
	if err := pacing(r.env, base); err != nil {
		r.cannot(err)
		return 1
	}
	if r.sessionConfig != nil {
		r.sessionConfig(base)
	}
	c, err := ssmwire.New(&ssmwire.Config{SSM: clients.ssm(), KMS: km, Logger: r.log, Session: base})
	if err != nil {
		r.cannot(err)
		return 1
	}

	r.printf(msgStarting, id)
	s, err := c.Attach(ctx, inv.info, inv.target)
	if err != nil {
		r.cannot(err)
		return 1
	}
	defer s.Close()

	hs, err := s.Ready(ctx)
	if err != nil {
		return r.ended(s, err)
	}
	if hs.CustomerMessage != "" {
		r.printf("%s\n", hs.CustomerMessage)
	}
	r.log.Debug("plugincli: session ready", "session", id, "type", hs.SessionType, "agent", hs.AgentVersion,
		"encrypted", hs.Encrypted)
	if hs.SessionType == ssmwire.SessionTypePort {
		return r.runPort(ctx, s, hs)
	}
	return r.runShell(ctx, s, hs)
}

// ended reports how a session ended and returns the exit status: the channel_closed line when the service
// closed the channel, the timeout line when the service said, on resuming, that the session timed out, else the error.
func (r *runner) ended(s *ssmwire.Session, err error) int {
	if out, ok := s.ChannelClosedOutput(); ok {
		r.printClosed(s.ID(), out)
		if err == nil {
			return 0
		}
		var cce *ssmwire.ChannelClosedError
		if errors.As(err, &cce) {
			return 1
		}
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ssmwire.ErrChannelTimedOut):
		r.printf(msgTimedOut, s.ID())
	default:
		r.cannot(err)
	}
	return 1
}

// cannot prints the official "Cannot perform start session" line for err on stderr. The first-run failures
// the library recognises (no credentials, expired SSO login, access denied, throttling) are told as one line
// of advice instead of the SDK's chain of messages.
func (r *runner) cannot(err error) {
	// A certificate or proxy problem is told by itself: host, reason and what to set.
	if ne := ssmwire.NetworkError(err); ne != nil {
		err = ne
	}
	var ae *ssmwire.APIError
	if errors.As(ssmwire.Classify(err), &ae) {
		fmt.Fprintf(r.stderr, msgCannot, ae.Advice(r.profile))
		return
	}
	fmt.Fprintf(r.stderr, msgCannot, err)
}

func (r *runner) printClosed(id, output string) {
	if output == "" {
		r.printf(msgExiting, id)
	} else {
		r.printf(msgClosedOut, id, output)
	}
}

func (r *runner) printf(format string, a ...any) { fmt.Fprintf(r.stdout, format, a...) }

// lockedWriter serializes the status lines written from several goroutines with the data written to stdout.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// newLogger returns the logger the environment asks for: SSMWIRE_LOG=debug|info|warn|error enables text
// records, written to the file SSMWIRE_LOG_FILE when set, else to stderr. By default nothing is logged, as the
// official plugin's default configuration logs nothing.
func newLogger(env Env, stderr io.Writer) (*slog.Logger, func()) {
	lvl, _ := env.Lookup("SSMWIRE_LOG")
	var level slog.Level
	if lvl == "" || level.UnmarshalText([]byte(lvl)) != nil {
		return slog.New(slog.DiscardHandler), func() {}
	}
	w, closer := stderr, func() {}
	if path, ok := env.Lookup("SSMWIRE_LOG_FILE"); ok && path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err == nil {
			w, closer = f, func() { f.Close() }
		}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), closer
}

// trustedEndpoints are the endpoints the user named on purpose, whose hosts a stream URL may name besides
// AWS's Session Manager endpoints (docs/protocol.md §3.5): the endpoint argument (the SSM endpoint, or the ECS
// endpoint for aws ecs execute-command), AWS_ENDPOINT_URL_SSM and AWS_ENDPOINT_URL.
func (r *runner) trustedEndpoints(inv *invocation) []string {
	var t []string
	for _, e := range []string{inv.endpoint, inv.ecsEndpoint} {
		if e != "" {
			t = append(t, e)
		}
	}
	for _, k := range []string{"AWS_ENDPOINT_URL_SSM", "AWS_ENDPOINT_URL"} {
		if v, ok := r.env.Lookup(k); ok && v != "" {
			t = append(t, v)
		}
	}
	return t
}
