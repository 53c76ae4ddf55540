package protocol

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
)

// Sizes of the binary message (docs/protocol.md §1.1).
const (
	// HeaderLength is the value written in the HeaderLength field: the offset
	// of PayloadLength, which it therefore excludes.
	HeaderLength = 116
	// HeaderSize is the number of bytes before the payload.
	HeaderSize = 120
	// MaxMessageSize bounds a whole message (header and payload). It is
	// ours, not AWS's: no limit for the data channel is documented (§8.1).
	MaxMessageSize = 8 << 20
	// MessageTypeSize is the width of the space-padded MessageType field.
	MessageTypeSize = 32
)

// Field offsets within the header.
const (
	OffsetHeaderLength   = 0
	OffsetMessageType    = 4
	OffsetSchemaVersion  = 36
	OffsetCreatedDate    = 40
	OffsetSequenceNumber = 48
	OffsetFlags          = 56
	OffsetMessageID      = 64
	OffsetPayloadDigest  = 80
	OffsetPayloadType    = 112
	OffsetPayloadLength  = 116
	OffsetPayload        = HeaderSize
)

// Message is one data-channel message: a 120-byte header and a payload,
// carried in one binary websocket frame.
type Message struct {
	MessageType    string // one of the Type* constants, or any string from a peer
	SchemaVersion  uint32 // 1 on send; never checked on receipt
	CreatedDate    uint64 // Unix milliseconds; must not be 0
	SequenceNumber int64
	Flags          uint64   // FlagSYN, FlagFIN
	MessageID      [16]byte // canonical UUID byte order (as uuid.UUID); swapped halves on the wire
	PayloadDigest  [32]byte // SHA-256 of Payload; set by AppendMarshal, read by Parse
	PayloadType    PayloadType
	Payload        []byte
}

// Size returns the length of m's encoding.
func (m *Message) Size() int { return HeaderSize + len(m.Payload) }

// AppendMarshal appends the encoding of m to b and returns the extended
// slice. It computes the payload's SHA-256 into the header and into
// m.PayloadDigest. It does not allocate when cap(b)-len(b) ≥ m.Size().
func (m *Message) AppendMarshal(b []byte) ([]byte, error) {
	if len(m.MessageType) > MessageTypeSize || m.MessageType == "" {
		return b, &ParseError{Op: "marshal", Field: "MessageType", Err: ErrMessageType}
	}
	n := m.Size()
	if n > MaxMessageSize {
		return b, &ParseError{Op: "marshal", Field: "Payload", Err: ErrTooLarge}
	}
	m.PayloadDigest = sha256.Sum256(m.Payload)

	start := len(b)
	b = slices.Grow(b, n)[:start+n]
	h := b[start : start+HeaderSize]
	binary.BigEndian.PutUint32(h[OffsetHeaderLength:], HeaderLength)
	t := h[OffsetMessageType : OffsetMessageType+MessageTypeSize]
	c := copy(t, m.MessageType)
	for i := c; i < len(t); i++ {
		t[i] = ' '
	}
	binary.BigEndian.PutUint32(h[OffsetSchemaVersion:], m.SchemaVersion)
	binary.BigEndian.PutUint64(h[OffsetCreatedDate:], m.CreatedDate)
	binary.BigEndian.PutUint64(h[OffsetSequenceNumber:], uint64(m.SequenceNumber))
	binary.BigEndian.PutUint64(h[OffsetFlags:], m.Flags)
	putMessageID(h[OffsetMessageID:OffsetMessageID+16], &m.MessageID)
	copy(h[OffsetPayloadDigest:OffsetPayloadDigest+32], m.PayloadDigest[:])
	binary.BigEndian.PutUint32(h[OffsetPayloadType:], uint32(m.PayloadType))
	binary.BigEndian.PutUint32(h[OffsetPayloadLength:], uint32(len(m.Payload)))
	copy(b[start+HeaderSize:], m.Payload)
	return b, nil
}

// putMessageID writes id with its halves swapped (docs/protocol.md §1.3): the wire
// carries bytes 8..15 first, then bytes 0..7.
func putMessageID(dst []byte, id *[16]byte) {
	copy(dst[0:8], id[8:16])
	copy(dst[8:16], id[0:8])
}

func getMessageID(src []byte) (id [16]byte) {
	copy(id[8:16], src[0:8])
	copy(id[0:8], src[8:16])
	return id
}

// Parse decodes the message in b into m. m.Payload aliases b (its capacity
// is clipped, so appending to it never writes into b).
//
// Checks, in this order: len(b) ≥ HeaderSize; len(b) ≤ MaxMessageSize;
// HeaderLength == 116; PayloadLength == len(b)-120; MessageType non-empty;
// CreatedDate ≠ 0; SHA-256 of a non-empty payload equals PayloadDigest.
// start_publication and pause_publication skip every check after the two
// size checks, as the official client does (§1.6). Unknown message types are
// not an error here. The MessageType field is read with trailing spaces and
// NULs removed; known types do not allocate.
//
// Errors are *ParseError wrapping ErrShortMessage, ErrTooLarge,
// ErrHeaderLength, ErrPayloadLength, ErrMessageType, ErrCreatedDate or
// ErrDigestMismatch. On error m holds whatever was decoded so far.
func Parse(b []byte, m *Message) error {
	if len(b) < HeaderSize {
		return &ParseError{Op: "parse", Err: fmt.Errorf("%w: %d bytes", ErrShortMessage, len(b))}
	}
	if len(b) > MaxMessageSize {
		return &ParseError{Op: "parse", Err: fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))}
	}
	hl := binary.BigEndian.Uint32(b[OffsetHeaderLength:])
	pl := binary.BigEndian.Uint32(b[OffsetPayloadLength:])
	m.MessageType = internType(trimType(b[OffsetMessageType : OffsetMessageType+MessageTypeSize]))
	m.SchemaVersion = binary.BigEndian.Uint32(b[OffsetSchemaVersion:])
	m.CreatedDate = binary.BigEndian.Uint64(b[OffsetCreatedDate:])
	m.SequenceNumber = int64(binary.BigEndian.Uint64(b[OffsetSequenceNumber:]))
	m.Flags = binary.BigEndian.Uint64(b[OffsetFlags:])
	m.MessageID = getMessageID(b[OffsetMessageID : OffsetMessageID+16])
	copy(m.PayloadDigest[:], b[OffsetPayloadDigest:OffsetPayloadDigest+32])
	m.PayloadType = PayloadType(binary.BigEndian.Uint32(b[OffsetPayloadType:]))
	m.Payload = b[HeaderSize:len(b):len(b)]

	if m.MessageType == TypeStartPublication || m.MessageType == TypePausePublication {
		return nil
	}
	if hl != HeaderLength {
		return &ParseError{Op: "parse", Field: "HeaderLength", Err: fmt.Errorf("%w: %d", ErrHeaderLength, hl)}
	}
	if int64(pl) != int64(len(b)-HeaderSize) {
		return &ParseError{Op: "parse", Field: "PayloadLength",
			Err: fmt.Errorf("%w: header says %d, frame has %d", ErrPayloadLength, pl, len(b)-HeaderSize)}
	}
	if m.MessageType == "" {
		return &ParseError{Op: "parse", Field: "MessageType", Err: ErrMessageType}
	}
	if m.CreatedDate == 0 {
		return &ParseError{Op: "parse", Field: "CreatedDate", Err: ErrCreatedDate}
	}
	if len(m.Payload) > 0 && sha256.Sum256(m.Payload) != m.PayloadDigest {
		return &ParseError{Op: "parse", Field: "PayloadDigest", Err: ErrDigestMismatch}
	}
	return nil
}

// trimType removes the trailing padding (spaces and NULs) of the MessageType field.
func trimType(t []byte) []byte {
	return bytes.TrimRight(t, " \x00")
}
