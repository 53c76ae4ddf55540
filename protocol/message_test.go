package protocol

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// validFrame returns a well-formed message and its encoding.
func validFrame(tb testing.TB, typ string, payload []byte) []byte {
	tb.Helper()
	m := &Message{
		MessageType:    typ,
		SchemaVersion:  1,
		CreatedDate:    1700000000123,
		SequenceNumber: 9,
		MessageID:      [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		PayloadType:    PayloadOutput,
		Payload:        payload,
	}
	b, err := m.AppendMarshal(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestParseErrors(t *testing.T) {
	good := validFrame(t, TypeOutputStreamData, []byte("hello"))
	edit := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	tests := []struct {
		name  string
		frame []byte
		want  error
		field string
	}{
		{"empty", nil, ErrShortMessage, ""},
		{"short", good[:HeaderSize-1], ErrShortMessage, ""},
		{"too large", make([]byte, MaxMessageSize+1), ErrTooLarge, ""},
		{"header length zero", edit(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b, 0)
			return b
		}), ErrHeaderLength, "HeaderLength"},
		{"header length 120", edit(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b, 120)
			return b
		}), ErrHeaderLength, "HeaderLength"},
		{"payload length larger", edit(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[OffsetPayloadLength:], 6)
			return b
		}), ErrPayloadLength, "PayloadLength"},
		{"payload length huge", edit(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[OffsetPayloadLength:], 0xffffffff)
			return b
		}), ErrPayloadLength, "PayloadLength"},
		{"truncated payload", good[:len(good)-1], ErrPayloadLength, "PayloadLength"},
		{"empty type", edit(func(b []byte) []byte {
			copy(b[OffsetMessageType:], strings.Repeat(" ", MessageTypeSize))
			return b
		}), ErrMessageType, "MessageType"},
		{"NUL type", edit(func(b []byte) []byte {
			copy(b[OffsetMessageType:], make([]byte, MessageTypeSize))
			return b
		}), ErrMessageType, "MessageType"},
		{"zero created date", edit(func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[OffsetCreatedDate:], 0)
			return b
		}), ErrCreatedDate, "CreatedDate"},
		{"digest mismatch", edit(func(b []byte) []byte {
			b[len(b)-1] ^= 1
			return b
		}), ErrDigestMismatch, "PayloadDigest"},
		// Order: the header length is checked before the created date.
		{"order", edit(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b, 1)
			binary.BigEndian.PutUint64(b[OffsetCreatedDate:], 0)
			return b
		}), ErrHeaderLength, "HeaderLength"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			err := Parse(tt.frame, &m)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse error = %v, want %v", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Field != tt.field || pe.Op != "parse" {
				t.Fatalf("error %#v is not a *ParseError with Field %q", err, tt.field)
			}
			if !strings.HasPrefix(tt.want.Error(), "protocol: ") {
				t.Fatalf("sentinel %q lacks the package prefix", tt.want)
			}
		})
	}
}

func TestParseEmptyPayloadSkipsDigest(t *testing.T) {
	b := validFrame(t, TypeAcknowledge, nil)
	for i := range 32 {
		b[OffsetPayloadDigest+i] = 0xee
	}
	var m Message
	if err := Parse(b, &m); err != nil {
		t.Fatalf("empty payload with odd digest: %v", err)
	}
}

// TestParsePublicationUnchecked: the service's start/pause_publication are
// accepted without the header checks, as the official client does (§1.6).
func TestParsePublicationUnchecked(t *testing.T) {
	for _, typ := range []string{TypeStartPublication, TypePausePublication} {
		b := validFrame(t, typ, []byte("x"))
		binary.BigEndian.PutUint32(b, 0)                         // HeaderLength
		binary.BigEndian.PutUint64(b[OffsetCreatedDate:], 0)     // CreatedDate
		binary.BigEndian.PutUint32(b[OffsetPayloadLength:], 999) // PayloadLength
		b[OffsetPayloadDigest] ^= 0xff                           // digest
		var m Message
		if err := Parse(b, &m); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if m.MessageType != typ || string(m.Payload) != "x" {
			t.Fatalf("%s: got %+v", typ, m)
		}
		// The size checks still apply.
		if err := Parse(b[:HeaderSize-1], &m); !errors.Is(err, ErrShortMessage) {
			t.Fatalf("%s short: %v", typ, err)
		}
	}
}

func TestParseMessageType(t *testing.T) {
	tests := []struct{ field, want string }{
		{"acknowledge", TypeAcknowledge},
		{"channel_closed\x00\x00\x00", TypeChannelClosed},
		{"agent_session_state \x00 ", TypeAgentSessionState},
		{"interactive_shell", "interactive_shell"}, // unknown: returned as is
		{" lead", " lead"},
		{strings.Repeat("x", 32), strings.Repeat("x", 32)},
	}
	for _, tt := range tests {
		b := validFrame(t, TypeInputStreamData, nil)
		f := b[OffsetMessageType : OffsetMessageType+MessageTypeSize]
		for i := range f {
			f[i] = ' '
		}
		copy(f, tt.field)
		var m Message
		if err := Parse(b, &m); err != nil || m.MessageType != tt.want {
			t.Errorf("type field %q: got %q, %v; want %q", tt.field, m.MessageType, err, tt.want)
		}
	}
}

func TestParsePayloadAliasesClipped(t *testing.T) {
	b := validFrame(t, TypeOutputStreamData, []byte("abc"))
	b = append(b, "zzzz"...)[:len(b)] // spare capacity after the frame
	var m Message
	if err := Parse(b, &m); err != nil {
		t.Fatal(err)
	}
	if &m.Payload[0] != &b[HeaderSize] {
		t.Fatal("Payload does not alias the frame")
	}
	if cap(m.Payload) != 3 {
		t.Fatalf("cap(Payload) = %d, want 3", cap(m.Payload))
	}
}

func TestAppendMarshalErrors(t *testing.T) {
	m := &Message{MessageType: strings.Repeat("a", 33), CreatedDate: 1}
	if _, err := m.AppendMarshal(nil); !errors.Is(err, ErrMessageType) {
		t.Fatalf("33-byte type: %v", err)
	}
	m.MessageType = ""
	if _, err := m.AppendMarshal(nil); !errors.Is(err, ErrMessageType) {
		t.Fatalf("empty type: %v", err)
	}
	m.MessageType = TypeInputStreamData
	m.Payload = make([]byte, MaxMessageSize-HeaderSize+1)
	if _, err := m.AppendMarshal(nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	m.Payload = m.Payload[:MaxMessageSize-HeaderSize]
	b, err := m.AppendMarshal(nil)
	if err != nil || len(b) != MaxMessageSize {
		t.Fatalf("largest message: %d, %v", len(b), err)
	}
	var back Message
	if err := Parse(b, &back); err != nil {
		t.Fatalf("Parse largest message: %v", err)
	}
}

func TestAppendMarshalSetsDigest(t *testing.T) {
	m := &Message{MessageType: TypeAcknowledge, CreatedDate: 1, PayloadDigest: [32]byte{1}}
	b, err := m.AppendMarshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.PayloadDigest != sha256.Sum256(nil) || string(b[OffsetPayloadDigest:OffsetPayloadDigest+32]) != string(m.PayloadDigest[:]) {
		t.Fatalf("digest of empty payload not written: %x", m.PayloadDigest)
	}
	if binary.BigEndian.Uint32(b) != HeaderLength || len(b) != HeaderSize {
		t.Fatalf("header: %x", b)
	}
}

func TestStrings(t *testing.T) {
	if PayloadOutput.String() != "Output" || PayloadTypeFlag.String() != "Flag" ||
		PayloadExitCode.String() != "ExitCode" || PayloadType(0).String() != "PayloadType(0)" ||
		PayloadType(99).String() != "PayloadType(99)" {
		t.Error("PayloadType.String")
	}
	for pt := PayloadOutput; pt <= PayloadExitCode; pt++ {
		if strings.HasPrefix(pt.String(), "PayloadType(") {
			t.Errorf("%d has no name", pt)
		}
	}
	if FlagTerminateSession.String() != "TerminateSession" || PayloadFlag(7).String() != "PayloadFlag(7)" {
		t.Error("PayloadFlag.String")
	}
	if ActionUnsupported.String() != "Unsupported" || ActionStatus(0).String() != "ActionStatus(0)" {
		t.Error("ActionStatus.String")
	}
}
