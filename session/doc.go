// Package session implements the client end of the Session Manager data channel: the websocket to the
// ssmmessages service (MGS), and over it the reliable, ordered message stream to the SSM Agent.
//
// A [Channel] is opened from what StartSession (or ResumeSession, or ECS ExecuteCommand) returned: a session
// id, a stream URL and a token. [Open] dials the URL, sends the OpenDataChannel text frame and starts exactly
// one reader and one writer goroutine for that websocket.
//
// # Data flow
//
//	application ── Write/Send ──▶ outgoing list (seq, bytes kept until acked) ──▶ writer goroutine ──▶ websocket
//	application ◀── Read/Stderr ◀── receive buffers ◀── reader goroutine (parse, verify, ack, reorder) ◀── websocket
//
// Outgoing messages get sequence numbers from 0 and stay in the outgoing list until the agent acknowledges
// them. Messages carry at most 1 KiB by default, as AWS's own clients send (the only size proven on the
// service). Writers block (honouring their context and the session's end) while the unacknowledged bytes reach
// the current bound: back-pressure instead of dropped data. The bound starts at [Config.Window] (256 KiB by
// default); pause_publication is taken as congestion: transmission and resends stop at once, the bound halves,
// and it grows back by a step per round trip without a pause. start_publication resumes; if none comes, the
// first acknowledgement or output a second or more after the pause does (or, with nothing awaiting
// acknowledgement, the second alone). Over a path whose smallest round trip is 2 ms or more, first
// transmissions are paced at 1.25 × the bound per round trip, so that a window does not reach the service as
// one burst (pace.go); on loopback and local networks nothing is paced.
// Messages are retransmitted after an RFC 6298 retransmission timeout (the official constants, a 200 ms
// floor), doubled on every expiry up to 60 s; resent messages give no RTT sample (Karn's rule). An expiry
// resends every overdue message before the highest one acknowledged (the agent acknowledges in order, so
// those were lost), otherwise only the oldest: the bound, not the timer, carries the flow control, and a slow
// destination delays acknowledgements without losing anything.
//
// The reader acknowledges every data message (duplicates again, so a lost acknowledgement cannot wedge the
// agent), keeps out-of-order messages until the gap fills, and delivers each payload exactly once and in order.
// It never blocks on the application: when a receive buffer is full it leaves the message unacknowledged and
// the agent sends it again later.
//
// Sequence state belongs to the Channel, not to the websocket: when the websocket drops, the session calls
// ResumeSession through [Config.SSM], dials again with the new token and retransmits whatever is unacknowledged.
//
// # Authentication of the websocket
//
// The OpenDataChannel frame carries the session's token, and since plugin 1.2.764.0, which AWS names the
// minimum supported version, the websocket upgrade itself is SigV4-signed too (docs/protocol.md §3.1, §3.5):
// with [Config.Credentials] set, every dial (the first and each one after ResumeSession) signs GET <stream
// URL> with an empty payload for service [SigningService] and [Config.Region], with credentials retrieved
// for that dial, and sends Authorization, X-Amz-Date and, for temporary credentials, X-Amz-Security-Token
// on the upgrade request. A presigned stream URL (X-Amz-* query parameters, see [IsPresigned]) is dialled as
// it is. Without credentials the upgrade goes out unsigned, which is logged once at debug level and left for
// the service to judge; signing never fails a session by itself. Credentials and signatures are never logged.
//
// # Which stream URLs are dialled
//
// Because the upgrade carries a signature and an access key id, and the first frame the token, [Open] checks
// the stream URL before sending anything (docs/protocol.md §3.5, as the official plugin does since 1.2.889.0): its
// host must be an AWS Session Manager endpoint (ssmmessages[-fips].<region>.amazonaws.com and the other
// partitions' and dual-stack names, or a VPC endpoint name), over wss, or the host and port of one of
// [Config.TrustedEndpoints], the endpoints the user named on purpose, such as an emulator's URL. Anything
// else fails with [ErrUntrustedStreamURL] and nothing is dialled. [CheckStreamURL] is the check itself.
//
// # Handshake
//
// Port and NonInteractiveCommands sessions (and every KMS-encrypted session) begin with a handshake: the agent
// asks for client actions (SessionType, KMSEncryption), the session answers and waits for HandshakeComplete.
// Standard_Stream and InteractiveCommands sessions without KMS have no handshake; their first output message
// tells the session type. [Channel.Ready] returns when either has happened.
package session
