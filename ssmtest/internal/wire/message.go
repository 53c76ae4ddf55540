package wire

import (
	"bytes"
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

// header is the fixed part of a frame in wire order, for encoding/binary.
type header struct {
	HeaderLength   uint32
	MessageType    [typeFieldSize]byte
	SchemaVersion  uint32
	CreatedDate    uint64
	SequenceNumber int64
	Flags          uint64
	IDLow          [8]byte
	IDHigh         [8]byte
	Digest         [32]byte
	PayloadType    uint32
	PayloadLength  uint32
}

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
	h := header{
		HeaderLength:   HeaderLength,
		SchemaVersion:  m.SchemaVersion,
		CreatedDate:    m.CreatedDate,
		SequenceNumber: m.Seq,
		Flags:          m.Flags,
		Digest:         sha256.Sum256(m.Payload),
		PayloadType:    m.PayloadType,
		PayloadLength:  uint32(len(m.Payload)),
	}
	for i := range h.MessageType {
		h.MessageType[i] = ' '
	}
	copy(h.MessageType[:], m.Type)
	copy(h.IDLow[:], m.ID[8:])
	copy(h.IDHigh[:], m.ID[:8])
	buf := bytes.NewBuffer(make([]byte, 0, HeaderSize+len(m.Payload)))
	if err := binary.Write(buf, binary.BigEndian, &h); err != nil {
		return nil, err
	}
	buf.Write(m.Payload)
	return buf.Bytes(), nil
}

// Decode parses a frame as the agent does. The payload is everything after HeaderLength+4 bytes; it aliases b.
// start_publication and pause_publication are accepted without the type/date checks.
func Decode(b []byte) (*Message, error) {
	if len(b) < HeaderSize {
		return nil, ErrShort
	}
	var h header
	if _, err := binary.Decode(b[:HeaderSize], binary.BigEndian, &h); err != nil {
		return nil, err
	}
	m := &Message{
		Type:          strings.TrimSpace(strings.TrimRight(string(h.MessageType[:]), "\x00")),
		SchemaVersion: h.SchemaVersion,
		CreatedDate:   h.CreatedDate,
		Seq:           h.SequenceNumber,
		Flags:         h.Flags,
		Digest:        h.Digest,
		PayloadType:   h.PayloadType,
	}
	copy(m.ID[:8], h.IDHigh[:])
	copy(m.ID[8:], h.IDLow[:])
	if m.Type == StartPublication || m.Type == PausePublication {
		return m, nil
	}
	if h.HeaderLength == 0 || int(h.HeaderLength)+4 > len(b) {
		return nil, fmt.Errorf("%w: %d", ErrHeaderLength, h.HeaderLength)
	}
	m.Payload = b[h.HeaderLength+4:]
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
