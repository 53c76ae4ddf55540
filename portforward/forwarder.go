package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/xtaci/smux"

	"github.com/ssmwire/ssmwire/internal/relay"
	"github.com/ssmwire/ssmwire/protocol"
	"github.com/ssmwire/ssmwire/session"
)

// Errors returned by a Forwarder. Calls wrap them with the operation's name.
var (
	// ErrNotPortSession is returned by New for a session whose type is not Port.
	ErrNotPortSession = errors.New("portforward: not a Port session")
	// ErrClosed is returned by calls on a Forwarder after Close.
	ErrClosed = errors.New("portforward: forwarder closed")
	// ErrSessionEnded is returned when the session ended while a connection was open (in mux mode, a stream
	// the agent never closed).
	ErrSessionEnded = errors.New("portforward: session ended")
)

// ConnectToPortError reports that the agent could not connect to the destination port for a new mux stream
// (Flag ConnectToPortError, docs/protocol.md §2.3). The agent closes that stream; its reader gets this error
// instead of io.EOF.
type ConnectToPortError struct {
	SessionID string
}

func (e *ConnectToPortError) Error() string {
	return "portforward: session " + e.SessionID + ": the agent could not connect to the destination port"
}

// KeepAlive chooses whether the smux client of mux mode sends keepalive frames.
type KeepAlive int

const (
	// KeepAliveAuto follows the official plugin: keepalive is off when the agent is newer than 3.1.1511.0,
	// because such agents turn theirs off too and an idle mux must not be torn down (docs/protocol.md §6.4).
	KeepAliveAuto KeepAlive = iota
	KeepAliveOn
	KeepAliveOff
)

// Config configures a Forwarder. A nil *Config means all defaults. New copies it.
type Config struct {
	// Logger receives debug records. Nil discards them.
	Logger *slog.Logger

	// MuxKeepAlive overrides the smux keepalive choice of mux mode. Default [KeepAliveAuto].
	MuxKeepAlive KeepAlive
	// MaxFrameSize is the largest smux frame payload. Data messages do not follow frames (the transport packs
	// the byte stream into full messages, and a frame may span several, as with AWS's plugin, whose 32 KiB
	// smux frames go out in 1 KiB messages, docs/protocol.md §6.4), so it only sets the write granularity
	// of a stream (each frame a header and a lock of the transport's buffer). Default 32 768, smux's own
	// default and so AWS's plugin's: a 32 KiB read from the local connection is one frame (32 760 made it
	// two, the second of 8 bytes); or the session's MaxPayload less 8 (the channel's MaxPayload is already
	// less the encryption overhead in KMS-encrypted sessions) if that is larger; at most 65 535, and at most
	// what the transport's buffer takes at once (64 KiB less 8 with the defaults).
	MaxFrameSize int
	// MuxReceiveBuffer and MuxStreamBuffer bound the mux's receive buffers. Defaults 64 KiB and 64 KiB.
	// As in smux protocol version 1 (the agent's), MuxReceiveBuffer bounds the bytes received for all streams
	// and not yet read by their Reads (written to their local connections); MuxStreamBuffer is a version 2
	// setting. The session's receive buffer (session.Config.RecvBuffer, 256 KiB) lies before it, so the two
	// add up, and a slow local connection holds back the agent through them and TCP. 64 KiB is two of the
	// agent's frames; 256 KiB moved no more bytes and cost the plugin 0.1-0.2 MiB of peak memory in a download
	// (BENCHMARKS.md, "Issue 18, eighth pass").
	MuxReceiveBuffer int
	MuxStreamBuffer  int

	// ListenHost is the host Listen binds TCP listeners to. Default "localhost", as the official plugin
	// (which lets the SSM_PLUGIN_LOCAL_HOST environment variable override it; the caller does that here).
	ListenHost string

	// FlagTimeout bounds sending Flag TerminateSession on Close and Flag DisconnectToPort when a basic-mode
	// connection closes. Default 5 s.
	FlagTimeout time.Duration

	// OnConnectToPortError is called when the agent reports Flag ConnectToPortError (the plugin prints
	// "\nConnection to destination port failed, check SSM Agent logs.\n"). It runs on the session's reader
	// goroutine and must not block.
	OnConnectToPortError func(*ConnectToPortError)
}

// withDefaults returns c with defaults filled in; maxPayload is the channel's MaxPayload (Output bytes per
// message, encryption overhead already taken off).
func (c *Config) withDefaults(maxPayload int) Config {
	var out Config
	if c != nil {
		out = *c
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	if out.MaxFrameSize <= 0 {
		out.MaxFrameSize = max(maxPayload-8, relay.BufferSize)
	}
	out.MaxFrameSize = min(out.MaxFrameSize, 65535)
	if out.MuxReceiveBuffer <= 0 {
		out.MuxReceiveBuffer = 64 << 10
	}
	if out.MuxStreamBuffer <= 0 {
		out.MuxStreamBuffer = 64 << 10
	}
	out.MuxStreamBuffer = min(out.MuxStreamBuffer, out.MuxReceiveBuffer)
	if out.ListenHost == "" {
		out.ListenHost = "localhost"
	}
	if out.FlagTimeout <= 0 {
		out.FlagTimeout = 5 * time.Second
	}
	return out
}

// Forwarder carries connections over one Port session in the mode the session's properties and agent
// version select. Its methods are safe for concurrent use.
type Forwarder struct {
	s     *session.Channel
	cfg   Config
	log   *slog.Logger
	hs    *session.Handshake
	props Properties
	mode  Mode

	ctx       context.Context // canceled by Close
	cancel    context.CancelCauseFunc
	closeOnce sync.Once

	// Mux mode.
	mux        *smux.Session
	transport  *muxTransport
	openMu     sync.Mutex // serializes OpenStream so that the next stream id is known in advance
	sids       streamIDs  // under openMu
	streamsMu  sync.Mutex
	streams    map[uint32]*streamState
	pendingErr int // ConnectToPortError flags not yet matched to a stream, under streamsMu

	// Basic and stream mode.
	slot     chan struct{} // holds a token while a connection is open
	unreadMu sync.Mutex
	unread   []byte // session output read for a connection that went away, for the next one
}

// New waits for the session's handshake, checks that it is a Port session, and picks the mode. In mux mode it
// starts an smux client over the session. The Forwarder installs the session's flag handler (replacing
// session.Config.OnFlag). It does not take ownership of the session: closing the session remains the
// caller's job.
func New(ctx context.Context, s *session.Channel, cfg *Config) (*Forwarder, error) {
	hs, err := s.Ready(ctx)
	if err != nil {
		return nil, fmt.Errorf("portforward: %w", err)
	}
	if hs.SessionType != protocol.SessionTypePort {
		return nil, fmt.Errorf("%w (session type %q)", ErrNotPortSession, hs.SessionType)
	}
	props, err := ParseProperties(hs.Properties)
	if err != nil {
		return nil, err
	}
	c := cfg.withDefaults(s.MaxPayload())
	f := &Forwarder{
		s:       s,
		cfg:     c,
		log:     c.Logger.With("session", s.ID()),
		hs:      hs,
		props:   props,
		mode:    SelectMode(props, hs.AgentVersion),
		sids:    newStreamIDs(),
		streams: make(map[uint32]*streamState),
		slot:    make(chan struct{}, 1),
	}
	f.ctx, f.cancel = context.WithCancelCause(context.Background())
	if f.mode == ModeMux {
		if err := f.startMux(); err != nil {
			f.cancel(ErrClosed)
			return nil, err
		}
	}
	s.SetFlagHandler(f.onFlag)
	f.log.Debug("port session", "mode", f.mode, "agentVersion", hs.AgentVersion, "type", props.Type,
		"portNumber", props.PortNumber)
	return f, nil
}

// Mode returns the mode in use.
func (f *Forwarder) Mode() Mode { return f.mode }

// Properties returns the session's properties.
func (f *Forwarder) Properties() Properties { return f.props }

// Session returns the session the Forwarder runs over.
func (f *Forwarder) Session() *session.Channel { return f.s }

// Dial opens a connection to the destination. In mux mode each call opens a new smux stream, and any number
// may be open at once. In basic and stream mode the session carries one connection: a second Dial waits
// until the first is closed (or ctx is done, or the session ends). Closing a basic-mode connection sends
// Flag DisconnectToPort, so the agent drops its destination connection and dials again for the next one.
func (f *Forwarder) Dial(ctx context.Context) (net.Conn, error) {
	if err := f.alive(); err != nil {
		return nil, fmt.Errorf("portforward: dial: %w", err)
	}
	if f.mode == ModeMux {
		return f.dialMux(ctx)
	}
	return f.dialSingle(ctx)
}

// Close sends Flag TerminateSession (always in mux mode; in basic and stream mode when the agent is newer
// than 2.3.722.0, as the official plugin does) and shuts the mux down. Open connections fail. It does not
// close the session: the agent ends it after the flag, and the caller closes it. Close is idempotent.
func (f *Forwarder) Close() error {
	var err error
	f.closeOnce.Do(func() {
		if f.transport != nil {
			// What connections wrote before Close goes out before the flag that ends the session.
			ctx, cancel := context.WithTimeout(f.ctx, f.cfg.FlagTimeout)
			f.transport.Flush(ctx)
			cancel()
		}
		if f.mode == ModeMux || AgentSupportsTerminateFlag(f.hs.AgentVersion) {
			err = f.sendFlag(protocol.FlagTerminateSession)
		}
		f.cancel(ErrClosed)
		f.s.SetFlagHandler(nil)
		if f.mux != nil {
			f.mux.Close()
			f.transport.Close()
		}
	})
	return err
}

// sendFlag sends a flag unless the session or the Forwarder has ended, within FlagTimeout.
func (f *Forwarder) sendFlag(flag protocol.PayloadFlag) error {
	if f.alive() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(f.ctx, f.cfg.FlagTimeout)
	defer cancel()
	if err := f.s.SendFlag(ctx, flag); err != nil {
		select {
		case <-f.s.Done():
			return nil // nobody left to tell
		default:
		}
		return fmt.Errorf("portforward: send %v: %w", flag, err)
	}
	return nil
}

// alive returns ErrClosed after Close, the session's end as an error once it ended, else nil.
func (f *Forwarder) alive() error {
	if f.ctx.Err() != nil {
		return f.closedErr()
	}
	select {
	case <-f.s.Done():
		return f.sessionErr()
	default:
		return nil
	}
}

// closedErr is ErrClosed, naming the session's failure as well when the session ended with one: a Forwarder
// is often closed because its session ended (the agent refused the destination, say), and a caller racing
// that Close deserves the reason, not only "closed".
func (f *Forwarder) closedErr() error {
	select {
	case <-f.s.Done():
		if err := f.s.Err(); err != nil {
			return fmt.Errorf("%w (%w: %w)", ErrClosed, ErrSessionEnded, err)
		}
	default:
	}
	return ErrClosed
}

// sessionErr describes the session's end.
func (f *Forwarder) sessionErr() error {
	if err := f.s.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrSessionEnded, err)
	}
	return ErrSessionEnded
}

// onFlag handles flags from the agent; it runs on the session's reader goroutine.
func (f *Forwarder) onFlag(flag protocol.PayloadFlag) {
	if flag != protocol.FlagConnectToPortError {
		f.log.Debug("ignoring flag", "flag", flag)
		return
	}
	f.log.Debug("agent could not connect to the destination port")
	if f.mode == ModeMux {
		f.streamsMu.Lock()
		f.pendingErr++
		f.streamsMu.Unlock()
	}
	if cb := f.cfg.OnConnectToPortError; cb != nil {
		cb(&ConnectToPortError{SessionID: f.s.ID()})
	}
}

// Listen opens the local listener the properties ask for: the unix socket LocalUnixSocket when
// LocalConnectionType is "unix", else TCP on Config.ListenHost (default "localhost") and LocalPortNumber
// (an empty one meaning 0, any free port).
func (f *Forwarder) Listen(ctx context.Context) (net.Listener, error) {
	var lc net.ListenConfig
	if f.props.LocalConnectionType == "unix" {
		if f.props.LocalUnixSocket == "" {
			return nil, errors.New("portforward: listen: localConnectionType is unix but localUnixSocket is empty")
		}
		l, err := lc.Listen(ctx, "unix", f.props.LocalUnixSocket)
		if err != nil {
			return nil, fmt.Errorf("portforward: listen: %w", err)
		}
		return l, nil
	}
	port := f.props.LocalPortNumber
	if port == "" {
		port = "0"
	}
	l, err := lc.Listen(ctx, "tcp", net.JoinHostPort(f.cfg.ListenHost, port))
	if err != nil {
		return nil, fmt.Errorf("portforward: listen: %w", err)
	}
	return l, nil
}

// Addr is the address of one end of a connection carried by a session. Its network is "ssm".
type Addr struct {
	SessionID string
	// Stream is the smux stream id in mux mode, else 0.
	Stream uint32
	// Host and Port name the destination the agent dials, on the remote end's address; empty on the local end.
	Host, Port string
}

// Network returns "ssm".
func (a *Addr) Network() string { return "ssm" }

// String returns "host:port" for a remote end, "<session id>[/<stream>]" for a local one.
func (a *Addr) String() string {
	if a.Port != "" || a.Host != "" {
		return net.JoinHostPort(a.Host, a.Port)
	}
	if a.Stream != 0 {
		return fmt.Sprintf("%s/%d", a.SessionID, a.Stream)
	}
	return a.SessionID
}

func (f *Forwarder) localAddr(stream uint32) net.Addr {
	return &Addr{SessionID: f.s.ID(), Stream: stream}
}

func (f *Forwarder) remoteAddr() net.Addr {
	host := f.props.Host
	if host == "" {
		host = "localhost" // what the agent dials when the document names no host
	}
	return &Addr{SessionID: f.s.ID(), Host: host, Port: f.props.PortNumber}
}

var _ io.Closer = (*Forwarder)(nil)
