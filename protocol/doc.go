// Package protocol is the pure codec of the Session Manager data channel:
// the binary message that carries every stream byte, acknowledgement and
// control signal between the client and the SSM Agent, and the JSON bodies
// some of those messages carry. It has no goroutines, no I/O and no
// logging; functions return errors and never panic on a peer's bytes.
//
// # The message
//
// One websocket binary frame holds one message: a 120-byte header and a
// payload running to the end of the frame. Integers are big-endian.
//
//	 0        4                                   36       40               48
//	 +--------+-----------------------------------+--------+----------------+
//	 | HdrLen |  MessageType (32 bytes, ASCII,    | Schema | CreatedDate    |
//	 |  =116  |  right-padded with spaces)        | Ver=1  | (Unix ms)      |
//	 +--------+-----------------------------------+--------+----------------+
//	48                 56                 64                 72                80
//	 +-----------------+-----------------+------------------+------------------+
//	 | SequenceNumber  | Flags (SYN=1,   | MessageId[8:16]  | MessageId[0:8]   |
//	 | (int64)         |  FIN=2)         | (halves swapped on the wire)        |
//	 +-----------------+-----------------+------------------+------------------+
//	80                                                 112         116         120
//	 +--------------------------------------------------+-----------+-----------+
//	 | PayloadDigest: SHA-256(Payload), 32 bytes        | Payload   | Payload   |
//	 |                                                  | Type      | Length    |
//	 +--------------------------------------------------+-----------+-----------+
//	120
//	 +---------------------------------------------------------------------------
//	 | Payload (PayloadLength bytes, to the end of the frame) ...
//	 +---------------------------------------------------------------------------
//
// HeaderLength is 116, the offset of PayloadLength, so it excludes that
// field; the payload starts at 120. [Message.AppendMarshal] writes this
// layout into a caller's buffer (allocation-free when the buffer has room)
// and [Parse] reads it back, aliasing the payload and checking lengths,
// MessageType, CreatedDate and the digest. start_publication and
// pause_publication, which the service injects, are accepted unchecked as
// the official client does.
//
// # Payloads
//
// Stream messages (input_stream_data, output_stream_data) carry a
// [PayloadType]: raw bytes ([PayloadOutput], [PayloadStdErr]), a
// [SizeData], the handshake bodies ([HandshakeRequest],
// [HandshakeResponse], [HandshakeComplete], [EncryptionChallenge]), a
// 4-byte [PayloadFlag] ([AppendFlag], [ParseFlag]) or "EXIT_CODE: n"
// ([ParseExitCode]). Every stream message is answered by an acknowledge
// message whose JSON [Acknowledge] body has allocation-free helpers,
// [AppendAcknowledge] and [ParseAcknowledge]. channel_closed carries a
// [ChannelClosed].
//
// The reference for every field is docs/protocol.md (§1 framing,
// §2 types and acknowledgement, §5 handshake).
package protocol
