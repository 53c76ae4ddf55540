// Package portforward carries TCP connections over a Session Manager Port session: the client side of
// AWS-StartPortForwardingSession, AWS-StartPortForwardingSessionToRemoteHost and AWS-StartSSHSession
// (docs/protocol.md §6.2-6.5).
//
// A Forwarder is built on an open [session.Channel] with [New], which waits for the handshake, reads the
// document's properties ([ParseProperties]) and picks one of three modes ([SelectMode]):
//
//	properties.type == "LocalPortForwarding" ──┬── agent version > 3.0.196.0 ──▶ ModeMux
//	                                          └── otherwise                  ──▶ ModeBasic
//	any other type, or none (AWS-StartSSHSession)                            ──▶ ModeStream
//
// The version rule is the official plugin's: the agent's version must have as many dot-separated components
// as 3.0.196.0, each a decimal integer, and be strictly greater; anything else (including "" or "3.1")
// means basic mode.
//
// # Mux mode
//
// The session's Output payloads carry an smux (github.com/xtaci/smux, protocol version 1) byte stream; the
// Forwarder runs the smux client and the agent the server. [Forwarder.Dial] opens one stream per call and
// the agent dials the destination for each, so any number of connections share the session. smux opens
// and closes the streams; their data goes around it. The transport reads the agent's frames itself and puts
// a stream's data straight into that stream's receive buffer, and a stream's Write frames its bytes itself
// (smux protocol version 1 PSH frames, as smux would), and the frames are
// packed into data messages of the session's full payload size while earlier ones are still
// being sent (an idle path sends a write at once), so the messages per byte do not depend on how callers
// write, or on the frame size. Keepalive is off when the agent is newer than 3.1.1511.0, as in the
// official plugin ([Config.MuxKeepAlive] overrides). When the agent cannot reach the destination it sends
// Flag ConnectToPortError, which names no stream, and closes the stream; the Forwarder attributes the flag to
// the first stream the agent then closes without having sent data on it, whose reader gets a
// [*ConnectToPortError] instead of io.EOF. [Config.OnConnectToPortError] reports every such flag.
//
// # Basic mode
//
// Agents up to 3.0.196.0 forward one connection at a time with the raw bytes as Output payloads. The
// session holds one connection: [Forwarder.Dial] waits while another is open. Closing a basic connection
// sends Flag DisconnectToPort; the agent closes its destination connection and dials again when the next
// client sends data. Output that arrives while no connection is open stays queued for the next one (the
// official plugin leaves such messages unacknowledged, so the agent resends them to the next connection);
// so a new connection may first see the tail of the previous destination connection, exactly as with the
// official plugin.
//
// # Stream mode
//
// AWS-StartSSHSession has no type property: the session is one byte stream to the destination port, used as
// an ssh ProxyCommand with stdin and stdout. [Forwarder.Dial] returns it as a net.Conn (one at a time, as in
// basic mode, but closing it sends no flag).
//
// # Listening and serving
//
// [Forwarder.Listen] opens the local listener the properties ask for (a unix socket when
// localConnectionType is "unix", else TCP on localhost:localPortNumber, port 0 when absent), and
// [Forwarder.Serve] accepts on any listener and forwards each connection in the session's mode.
// [Forwarder.Close] sends Flag TerminateSession (mux mode always, basic and stream mode when the agent is
// newer than 2.3.722.0) and stops the mux; the caller still closes the session.
//
// Every connection is a net.Conn with working deadlines (a deadline set while a Read or a Write waits ends
// it with os.ErrDeadlineExceeded, a net.Error whose Timeout is true). Neither kind supports half-close: smux v1
// and the port protocol have no way to say "done sending, still reading".
package portforward
