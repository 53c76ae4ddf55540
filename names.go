package ssmwire

import (
	"github.com/ssmwire/ssmwire/portforward"
	"github.com/ssmwire/ssmwire/protocol"
	"github.com/ssmwire/ssmwire/session"
)

// The names below are the library's front door to what the packages under it define: a program (ours, or a
// user's) configures, starts and reads sessions through package ssmwire alone. They are aliases, so values
// pass freely to and from those packages.

// ChannelConfig configures a session's data channel (message size, window, resends, credentials for
// signing, trusted endpoints); see [session.Config]. [Config.Session] holds one for every session.
type ChannelConfig = session.Config

// ChannelInfo is what StartSession (or ResumeSession, or ECS ExecuteCommand) returned for a session: its ID,
// stream URL and token. [Client.Attach] takes one.
type ChannelInfo = session.Info

// Handshake is what the agent announced when it set a session up ([Session.Ready]): session type,
// properties, agent version, the customer message, whether the session is encrypted.
type Handshake = session.Handshake

// KMSClient is the part of the KMS client that encrypted sessions need (GenerateDataKey).
type KMSClient = session.KMSClient

// ChannelClosedError is a session's end announced by the service with a message (channel_closed): the
// agent's reason, such as an idle timeout or a refused destination. [Session.Wait] and [Session.Err] return
// it.
type ChannelClosedError = session.ChannelClosedError

// ErrChannelTimedOut is the end of a session the service timed out: ResumeSession answered without a token.
var ErrChannelTimedOut = session.ErrTimedOut

// Pacing defaults of a data channel (docs/protocol.md §8.1): messages of at most DefaultMaxPayload bytes,
// at most DefaultWindow bytes unacknowledged.
const (
	DefaultMaxPayload = session.DefaultMaxPayload
	DefaultWindow     = session.DefaultWindow
)

// Session types, as [Handshake].SessionType reports them (docs/protocol.md §6).
const (
	SessionTypeStandardStream         = protocol.SessionTypeStandardStream
	SessionTypeInteractiveCommands    = protocol.SessionTypeInteractiveCommands
	SessionTypeNonInteractiveCommands = protocol.SessionTypeNonInteractiveCommands
	SessionTypePort                   = protocol.SessionTypePort
)

// Forwarder carries the connections of one port session over its data channel, in the mode the agent
// supports ([Session.Forwarder]; a [Tunnel] holds one); see [portforward.Forwarder].
type Forwarder = portforward.Forwarder

// ForwarderConfig configures a [Forwarder]; see [portforward.Config].
type ForwarderConfig = portforward.Config

// ForwardMode is how a port session carries connections (docs/protocol.md §6.2).
type ForwardMode = portforward.Mode

// Forward modes.
const (
	ModeBasic  = portforward.ModeBasic  // one TCP connection at a time (agents up to 3.0.196.0)
	ModeMux    = portforward.ModeMux    // any number of connections, multiplexed with smux
	ModeStream = portforward.ModeStream // stdin/stdout as one stream (AWS-StartSSHSession)
)

// ForwardAddr is the address of either end of a forwarded connection (network "ssm"): it names the session
// that carries it.
type ForwardAddr = portforward.Addr

// AgentForwardMode is the mode a port-forwarding session (a LocalPortForwarding document) runs in with an
// agent of this version: [ModeMux] for agents newer than 3.0.196.0, [ModeBasic] for older ones, by the
// official plugin's rule (docs/protocol.md §9).
func AgentForwardMode(agentVersion string) ForwardMode {
	return portforward.SelectMode(portforward.Properties{Type: portforward.LocalPortForwarding}, agentVersion)
}

// AgentSupportsTerminateFlag reports whether an agent of this version ends a port session on the client's
// Flag TerminateSession message (newer than 2.3.722.0); [Session.Terminate] calls the TerminateSession API
// for older ones (docs/protocol.md §9).
func AgentSupportsTerminateFlag(agentVersion string) bool {
	return portforward.AgentSupportsTerminateFlag(agentVersion)
}
