package wire

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Message types of the data channel.
const (
	InputStreamData   = "input_stream_data"
	OutputStreamData  = "output_stream_data"
	Acknowledge       = "acknowledge"
	ChannelClosed     = "channel_closed"
	StartPublication  = "start_publication"
	PausePublication  = "pause_publication"
	AgentSessionState = "agent_session_state"
)

// Payload types (§2.2).
const (
	PTOutput               uint32 = 1
	PTError                uint32 = 2
	PTSize                 uint32 = 3
	PTParameter            uint32 = 4
	PTHandshakeRequest     uint32 = 5
	PTHandshakeResponse    uint32 = 6
	PTHandshakeComplete    uint32 = 7
	PTEncChallengeRequest  uint32 = 8
	PTEncChallengeResponse uint32 = 9
	PTFlag                 uint32 = 10
	PTStdErr               uint32 = 11
	PTExitCode             uint32 = 12
)

// Flag payload values (PayloadType 10).
const (
	FlagDisconnectToPort   uint32 = 1
	FlagTerminateSession   uint32 = 2
	FlagConnectToPortError uint32 = 3
)

// Header flag bits.
const (
	SYN uint64 = 1
	FIN uint64 = 2
)

// Layout of the fixed header.
const (
	HeaderLength  = 116 // value of the HeaderLength field
	HeaderSize    = 120 // bytes before the payload
	typeFieldSize = 32
)

// Offsets of the header fields (§2.1), all big-endian: HeaderLength 0, MessageType 4 (32 bytes, padded with
// spaces), SchemaVersion 36, CreatedDate 40, SequenceNumber 48, Flags 56, the ID's low half 64 and high half
// 72, PayloadDigest 80 (32 bytes), PayloadType 112, PayloadLength 116. Written out by hand rather than with
// encoding/binary's reflection: every message of a transfer goes through here, twice.
const (
	offType    = 4
	offSchema  = 36
	offCreated = 40
	offSeq     = 48
	offFlags   = 56
	offIDLow   = 64
	offIDHigh  = 72
	offDigest  = 80
	offPType   = 112
	offPLen    = 116
)

// Message is one decoded data-channel message.
type Message struct {
	Type          string
	SchemaVersion uint32
	CreatedDate   uint64 // Unix milliseconds
	Seq           int64
	Flags         uint64
	ID            [16]byte // canonical UUID byte order
	Digest        [32]byte // as found on the wire (Decode) or computed (Encode)
	PayloadType   uint32
	Payload       []byte
}

// Errors returned by Decode and Encode.
var (
	ErrShort        = errors.New("wire: frame shorter than the 120-byte header")
	ErrHeaderLength = errors.New("wire: bad header length")
	ErrEmptyType    = errors.New("wire: empty message type")
	ErrCreatedDate  = errors.New("wire: zero created date")
	ErrLongType     = errors.New("wire: message type longer than 32 bytes")
)

// Encode serializes m into a new frame. The digest is computed from the payload; m.Digest is ignored.
func Encode(m *Message) ([]byte, error) {
	if len(m.Type) > typeFieldSize {
		return nil, ErrLongType
	}
	b := make([]byte, HeaderSize+len(m.Payload))
	be := binary.BigEndian
	be.PutUint32(b, HeaderLength)
	t := b[offType : offType+typeFieldSize]
	for i := range t {
		t[i] = ' '
	}
	copy(t, m.Type)
	be.PutUint32(b[offSchema:], m.SchemaVersion)
	be.PutUint64(b[offCreated:], m.CreatedDate)
	be.PutUint64(b[offSeq:], uint64(m.Seq))
	be.PutUint64(b[offFlags:], m.Flags)
	copy(b[offIDLow:offIDLow+8], m.ID[8:])
	copy(b[offIDHigh:offIDHigh+8], m.ID[:8])
	d := sha256.Sum256(m.Payload)
	copy(b[offDigest:offDigest+32], d[:])
	be.PutUint32(b[offPType:], m.PayloadType)
	be.PutUint32(b[offPLen:], uint32(len(m.Payload)))
	copy(b[HeaderSize:], m.Payload)
	return b, nil
}

// Decode parses a frame as the agent does. The payload is everything after HeaderLength+4 bytes; it aliases b.
// start_publication and pause_publication are accepted without the type/date checks.
func Decode(b []byte) (*Message, error) {
	if len(b) < HeaderSize {
		return nil, ErrShort
	}
	be := binary.BigEndian
	m := &Message{
		Type:          strings.TrimSpace(strings.TrimRight(string(b[offType:offType+typeFieldSize]), "\x00")),
		SchemaVersion: be.Uint32(b[offSchema:]),
		CreatedDate:   be.Uint64(b[offCreated:]),
		Seq:           int64(be.Uint64(b[offSeq:])),
		Flags:         be.Uint64(b[offFlags:]),
		PayloadType:   be.Uint32(b[offPType:]),
	}
	copy(m.Digest[:], b[offDigest:offDigest+32])
	copy(m.ID[:8], b[offIDHigh:offIDHigh+8])
	copy(m.ID[8:], b[offIDLow:offIDLow+8])
	if m.Type == StartPublication || m.Type == PausePublication {
		return m, nil
	}
	headerLength := be.Uint32(b)
	if headerLength == 0 || int(headerLength)+4 > len(b) {
		return nil, fmt.Errorf("%w: %d", ErrHeaderLength, headerLength)
	}
	m.Payload = b[headerLength+4:]
	if m.Type == "" {
		return nil, ErrEmptyType
	}
	if m.CreatedDate == 0 {
		return nil, ErrCreatedDate
	}
	return m, nil
}

// DigestOK reports whether the payload matches the digest read from the wire (an empty payload always does,
// as the client only checks non-empty ones).
func (m *Message) DigestOK() bool {
	return len(m.Payload) == 0 || sha256.Sum256(m.Payload) == m.Digest
}

// FlagPayload encodes a PayloadType 10 value.
func FlagPayload(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// ParseFlag decodes a PayloadType 10 payload.
func ParseFlag(p []byte) (uint32, error) {
	if len(p) < 4 {
		return 0, fmt.Errorf("wire: flag payload of %d bytes", len(p))
	}
	return binary.BigEndian.Uint32(p), nil
}
