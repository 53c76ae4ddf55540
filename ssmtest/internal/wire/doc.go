// Package wire is the emulated agent's own codec for the Session Manager data channel: the binary message
// that carries every data-channel frame, and the JSON bodies carried inside it.
//
// It is written from docs/protocol.md alone and deliberately shares no code with the client's protocol package,
// so that a misreading of the format cannot hide on both ends of a test.
//
// # Message layout
//
// All integers are big-endian. HeaderLength is 116: it counts everything before the PayloadLength field.
//
//	off  size  field
//	  0     4  HeaderLength (116)
//	  4    32  MessageType, ASCII, right-padded with spaces
//	 36     4  SchemaVersion (1)
//	 40     8  CreatedDate, Unix milliseconds
//	 48     8  SequenceNumber
//	 56     8  Flags (bit 0 SYN, bit 1 FIN)
//	 64    16  MessageId, canonical UUID bytes 8..15 then 0..7
//	 80    32  PayloadDigest, SHA-256 of the payload
//	112     4  PayloadType
//	116     4  PayloadLength
//	120     N  Payload
//
// [Encode] builds a frame from a [Message]; [Decode] parses one the way the agent does: it checks the header
// length, a non-empty type and a non-zero creation date, and does not verify the digest (the agent never
// does). [Message.DigestOK] lets a test client verify it as the real client would.
//
// The JSON types ([Acknowledge], [HandshakeRequest], [HandshakeResponse], …) carry the exact field names of
// the official implementations, in the order encoding/json writes them.
package wire
