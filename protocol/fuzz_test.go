package protocol

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzParse: Parse never panics, and a message it accepts re-encodes to the
// same bytes whenever the input was canonical (HeaderLength 116, lengths
// that agree, space padding, the payload's real digest). Anything accepted
// re-encodes to a frame that parses back to the same message.
func FuzzParse(f *testing.F) {
	for _, v := range loadVectors(f) {
		_, wire := v.message(f)
		f.Add(wire)
	}
	f.Add(validFrame(f, TypeStartPublication, nil))
	f.Add(validFrame(f, "interactive_shell", []byte("x")))
	f.Add(make([]byte, HeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := Parse(b, &m); err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		if len(m.MessageType) > MessageTypeSize || m.MessageType == "" {
			return // e.g. a publication message with an empty type: not re-encodable
		}
		out, err := m.AppendMarshal(nil)
		if err != nil {
			t.Fatalf("AppendMarshal of a parsed message: %v", err)
		}
		canonical := len(b) <= MaxMessageSize &&
			uint32(len(b)-HeaderSize) == beUint32(b[OffsetPayloadLength:]) &&
			beUint32(b) == HeaderLength &&
			bytes.Equal(b[OffsetMessageType:OffsetMessageType+MessageTypeSize], out[OffsetMessageType:OffsetMessageType+MessageTypeSize]) &&
			sha256.Sum256(b[HeaderSize:]) == [32]byte(b[OffsetPayloadDigest:OffsetPayloadDigest+32])
		if canonical && !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs\n in %x\nout %x", b, out)
		}
		var back Message
		if err := Parse(out, &back); err != nil {
			t.Fatalf("re-encoded message does not parse: %v", err)
		}
		if back.MessageType != m.MessageType || back.SchemaVersion != m.SchemaVersion ||
			back.CreatedDate != m.CreatedDate || back.SequenceNumber != m.SequenceNumber ||
			back.Flags != m.Flags || back.MessageID != m.MessageID || back.PayloadType != m.PayloadType ||
			back.PayloadDigest != m.PayloadDigest || !bytes.Equal(back.Payload, m.Payload) {
			t.Fatalf("round trip changed the message\n got %+v\nwant %+v", back, m)
		}
	})
}

func beUint32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// FuzzParseAcknowledge: the fast path and encoding/json agree on every input,
// and AppendAcknowledge output always takes the fast path.
func FuzzParseAcknowledge(f *testing.F) {
	for _, v := range loadVectors(f) {
		if v.Name == "acknowledge" {
			m, _ := v.message(f)
			f.Add(m.Payload)
		}
	}
	f.Add(AppendAcknowledge(nil, TypeInputStreamData, testID, -5))
	f.Add([]byte(`{"AcknowledgedMessageSequenceNumber":1,"AcknowledgedMessageType":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var want Acknowledge
		jerr := json.Unmarshal(b, &want)
		got, err := ParseAcknowledge(b)
		if (err == nil) != (jerr == nil) {
			t.Fatalf("ParseAcknowledge error %v, encoding/json error %v", err, jerr)
		}
		if err == nil && got != want {
			t.Fatalf("ParseAcknowledge = %+v, encoding/json = %+v", got, want)
		}
		if fast, ok := parseAckFast(b); ok && (jerr != nil || fast != want) {
			t.Fatalf("fast path accepted %q as %+v; encoding/json: %+v, %v", b, fast, want, jerr)
		}
		if err == nil {
			enc := AppendAcknowledge(nil, got.AcknowledgedMessageType, got.AcknowledgedMessageId, got.AcknowledgedMessageSequenceNumber)
			if j, _ := json.Marshal(Acknowledge{got.AcknowledgedMessageType, got.AcknowledgedMessageId, got.AcknowledgedMessageSequenceNumber, true}); !bytes.Equal(enc, j) {
				t.Fatalf("AppendAcknowledge = %s, encoding/json = %s", enc, j)
			}
			if _, ok := parseAckFast(enc); !ok && isPlain(got.AcknowledgedMessageType) {
				t.Fatalf("canonical %s missed the fast path", enc)
			}
		}
	})
}

func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plainJSONByte(s[i]) {
			return false
		}
	}
	return true
}
