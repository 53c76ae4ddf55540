package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// Session types.
const (
	StandardStream         = "Standard_Stream"
	InteractiveCommands    = "InteractiveCommands"
	NonInteractiveCommands = "NonInteractiveCommands"
	Port                   = "Port"
)

// Config describes one emulated agent session.
type Config struct {
	SessionID, TargetID string
	SessionType         string         // "Standard_Stream", "InteractiveCommands", "NonInteractiveCommands", "Port"
	Properties          map[string]any // document properties after parameter substitution (nil for plain shells)
	Version             string         // agent version reported in HandshakeRequest, e.g. "3.3.987.0"
	ClientVersion       string         // from the client's OpenDataChannel frame; version gates (§9) use it
	Pacing              bool           // real agent pacing: read ≤1024 bytes per message and sleep 1 ms after each send
	KMSKeyID            string         // non-empty: KMS encryption required (never for Port, as the real agent)
	KMS                 Decrypter
	Shell               string // program for Standard_Stream sessions; default "/bin/sh"
	// ContainerMode is the agent inside an ECS task (ECS Exec): InteractiveCommands run without a shell,
	// split into words like NonInteractiveCommands.
	ContainerMode bool
	// Hosts maps remote hosts a Port session may name (names or addresses of the emulated VPC) to the
	// address actually dialled. They count as permitted destinations; any other host is checked against
	// the agent's denylist (loopback, metadata and credential endpoints) and dialled as named.
	Hosts      map[string]string
	Send       func(frame []byte) // agent → MGS → client; agent does not reuse frame after the call
	StopAcking *atomic.Bool       // fault switch: when true the agent sends no acknowledgements (nil = never)
	Logger     *slog.Logger

	// handshakeTimeout replaces the agent's 15 s handshake waits (tests only).
	handshakeTimeout time.Duration
	// beforePluginStart, when set, runs after the handshake and before the plugin starts (tests only).
	beforePluginStart func()
	// testPlugin, when set, replaces the session type's plugin (tests only).
	testPlugin func(*Agent) plugin
}

// Decrypter is the KMS Decrypt call the agent makes for encrypted sessions.
type Decrypter interface {
	Decrypt(ctx context.Context, ciphertext []byte, encryptionContext map[string]string) ([]byte, error)
}

// Stats counts the traffic of one session. Data counters cover stream-data messages and their payload bytes.
type Stats struct {
	MessagesIn, BytesIn, DuplicatesIn, AcksIn uint64
	MessagesOut, BytesOut, AcksOut, Resends   uint64
}

type counters struct {
	messagesIn, bytesIn, duplicatesIn, acksIn atomic.Uint64
	messagesOut, bytesOut, acksOut, resends   atomic.Uint64
}

const (
	defaultHandshakeTimeout = 15 * time.Second
	drainTimeout            = 2 * time.Second // PrepareToCloseChannel
	inQueueLen              = 1024
)

var (
	errNotReady   = errors.New("agent: plugin not ready")
	errTerminated = errors.New("agent: session terminated")
	errInactive   = errors.New("Data Channel not in active status")
)

// Agent is one running emulated agent session.
type Agent struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context // cancelled when the session ends, for whatever reason
	cancel context.CancelCauseFunc
	parent context.Context

	quit chan struct{} // closed when the processor and resender must stop
	done chan struct{}
	err  error // set before done is closed
	wg   sync.WaitGroup

	ch    channel
	stats counters

	in chan *wire.Message // input_stream_data messages for the processor (decoded once, by Deliver)

	handshakeDone atomic.Bool
	hsResponse    chan *wire.HandshakeResponse
	hsChallenge   chan []byte
	clientVersion atomic.Pointer[string]

	crypt atomic.Pointer[cipherPair] // non-nil once KMS encryption is on

	drainTwice atomic.Bool // the plugin ended by itself: its own PrepareToCloseChannel before the session's

	plugin    atomic.Pointer[pluginBox] // non-nil once the plugin accepts input
	readyKick chan struct{}
}

type pluginBox struct{ p plugin }

// plugin is one session type's implementation.
type plugin interface {
	// start brings up the plugin's resources (pty, process, connection). Input is accepted after it returns.
	start(ctx context.Context) error
	// input handles one in-order client payload on the processor goroutine.
	input(payloadType uint32, payload []byte) error
	// wait blocks until the plugin's session is over; the error is why (nil for a normal end).
	wait(ctx context.Context) error
	// close releases everything; it must unblock input, wait and all pumps.
	close()
}

// Start validates cfg and starts the session: handshake (if the session type needs one), plugin, pumps.
func Start(ctx context.Context, cfg Config) (*Agent, error) {
	if cfg.Send == nil {
		return nil, errors.New("agent: Config.Send is nil")
	}
	switch cfg.SessionType {
	case StandardStream, InteractiveCommands, NonInteractiveCommands, Port:
	default:
		return nil, fmt.Errorf("agent: unknown session type %q", cfg.SessionType)
	}
	if cfg.SessionType == Port {
		cfg.KMSKeyID = "" // port sessions are never encrypted
	}
	if cfg.KMSKeyID != "" && cfg.KMS == nil {
		return nil, errors.New("agent: KMSKeyID set without a Decrypter")
	}
	if cfg.Shell == "" {
		cfg.Shell = "/bin/sh"
	}
	if cfg.handshakeTimeout == 0 {
		cfg.handshakeTimeout = defaultHandshakeTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Agent{
		cfg:         cfg,
		log:         log.With("session", cfg.SessionID),
		parent:      ctx,
		quit:        make(chan struct{}),
		done:        make(chan struct{}),
		in:          make(chan *wire.Message, inQueueLen),
		hsResponse:  make(chan *wire.HandshakeResponse, 1),
		hsChallenge: make(chan []byte, 1),
		readyKick:   make(chan struct{}, 1),
	}
	cv := cfg.ClientVersion
	a.clientVersion.Store(&cv)
	a.ctx, a.cancel = context.WithCancelCause(ctx)
	a.ch.init()
	if !a.needsHandshake() {
		a.handshakeDone.Store(true)
	}
	a.wg.Add(2)
	go a.processLoop()
	go a.resendLoop()
	go a.run()
	return a, nil
}

func (a *Agent) needsHandshake() bool {
	return a.cfg.SessionType == Port || a.cfg.SessionType == NonInteractiveCommands || a.cfg.KMSKeyID != ""
}

// Terminate ends the session as TerminateSession does: the plugin is stopped and the session ends normally.
func (a *Agent) Terminate() { a.cancel(errTerminated) }

// Done is closed when the session has ended and its outgoing data drained (at most 2 s).
func (a *Agent) Done() <-chan struct{} { return a.done }

// Err reports why the session ended: nil for a normal end (plugin finished, TerminateSession, Flag
// TerminateSession). Valid once Done is closed.
func (a *Agent) Err() error {
	select {
	case <-a.done:
		return a.err
	default:
		return nil
	}
}

// ClientVersion is the client version in effect: the HandshakeResponse's if there was one.
func (a *Agent) ClientVersion() string { return *a.clientVersion.Load() }

// Stats returns a snapshot of the counters.
func (a *Agent) Stats() Stats {
	s := &a.stats
	return Stats{
		MessagesIn: s.messagesIn.Load(), BytesIn: s.bytesIn.Load(), DuplicatesIn: s.duplicatesIn.Load(),
		AcksIn: s.acksIn.Load(), MessagesOut: s.messagesOut.Load(), BytesOut: s.bytesOut.Load(),
		AcksOut: s.acksOut.Load(), Resends: s.resends.Load(),
	}
}

// end finishes the session with err (nil for a normal end); the first call wins.
func (a *Agent) end(err error) {
	if err == nil {
		err = errTerminated
	}
	a.cancel(err)
}

// run is the session's main goroutine: handshake, plugin, teardown.
func (a *Agent) run() {
	err := a.session()
	cause := context.Cause(a.ctx)
	if err == nil && cause != nil && !errors.Is(cause, errTerminated) {
		err = cause
	}
	if err != nil {
		a.log.Info("session failed", "err", err)
	}
	a.cancel(errTerminated)
	// PrepareToCloseChannel: give unacknowledged output up to 2 s, unless our caller is gone. A shell or
	// command plugin that finished by itself calls it too before reporting Terminating, and the session
	// plugin calls it again on the way out: up to 2 × 2 s.
	if a.parent.Err() == nil {
		if a.drainTwice.Load() {
			a.ch.drain(drainTimeout)
		}
		a.ch.drain(drainTimeout)
	}
	close(a.quit)
	a.wg.Wait()
	a.err = err
	close(a.done)
}

func (a *Agent) session() error {
	if !a.handshakeDone.Load() {
		if err := a.handshake(); err != nil {
			if a.ctx.Err() != nil {
				return nil // ended by Terminate or the caller while waiting
			}
			return fmt.Errorf("Encountered error while initiating handshake. %w", err)
		}
	}
	if a.cfg.beforePluginStart != nil {
		a.cfg.beforePluginStart()
	}
	p, err := a.newPlugin()
	if err != nil {
		return err
	}
	// Stop everything the plugin runs before releasing it: pumps blocked on a paused channel or a sleeping
	// pacer return on the session context.
	defer p.close()
	defer a.cancel(errTerminated)
	if err := p.start(a.ctx); err != nil {
		if a.ctx.Err() != nil {
			return nil
		}
		return err
	}
	a.plugin.Store(&pluginBox{p})
	select {
	case a.readyKick <- struct{}{}:
	default:
	}
	err = p.wait(a.ctx)
	if a.ctx.Err() == nil && a.cfg.SessionType != Port {
		if ep, ok := p.(*execPlugin); !ok || ep.argvErr == nil {
			a.drainTwice.Store(true)
		}
	}
	if a.ctx.Err() != nil {
		if cause := context.Cause(a.ctx); !errors.Is(cause, errTerminated) {
			return cause
		}
		if errors.Is(err, context.Canceled) {
			return nil
		}
	}
	return err
}

func (a *Agent) newPlugin() (plugin, error) {
	if a.cfg.testPlugin != nil {
		return a.cfg.testPlugin(a), nil
	}
	switch a.cfg.SessionType {
	case StandardStream:
		return newPtyPlugin(a, []string{a.cfg.Shell}, nil), nil
	case InteractiveCommands:
		cmd, _ := commandProps(a.cfg.Properties)
		if a.cfg.ContainerMode {
			// In a container the agent executes the command itself, split like NonInteractiveCommands.
			argv, err := commandArgv(cmd)
			return newPtyPlugin(a, argv, err), nil
		}
		return newPtyPlugin(a, []string{"sh", "-c", cmd}, nil), nil
	case NonInteractiveCommands:
		cmd, separate := commandProps(a.cfg.Properties)
		return newExecPlugin(a, cmd, separate), nil
	default:
		return newPortPlugin(a)
	}
}
