package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wireVector is one entry of testdata/wire-vectors.json: fields and the
// bytes the official plugin serializer produced from them.
type wireVector struct {
	Name           string `json:"name"`
	MessageType    string `json:"messageType"`
	SchemaVersion  uint32 `json:"schemaVersion"`
	CreatedDate    uint64 `json:"createdDate"`
	SequenceNumber int64  `json:"sequenceNumber"`
	Flags          uint64 `json:"flags"`
	MessageID      string `json:"messageId"`
	PayloadType    uint32 `json:"payloadType"`
	PayloadHex     string `json:"payloadHex"`
	WireHex        string `json:"wireHex"`
}

func loadVectors(tb testing.TB) []wireVector {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "wire-vectors.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var f struct {
		Messages []wireVector `json:"messages"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		tb.Fatal(err)
	}
	if len(f.Messages) == 0 {
		tb.Fatal("no message vectors")
	}
	return f.Messages
}

// message returns the vector's fields as a Message, and its wire bytes.
func (v wireVector) message(tb testing.TB) (*Message, []byte) {
	tb.Helper()
	id, err := ParseUUID([]byte(v.MessageID))
	if err != nil {
		tb.Fatalf("%s: messageId: %v", v.Name, err)
	}
	return &Message{
		MessageType:    v.MessageType,
		SchemaVersion:  v.SchemaVersion,
		CreatedDate:    v.CreatedDate,
		SequenceNumber: v.SequenceNumber,
		Flags:          v.Flags,
		MessageID:      id,
		PayloadType:    PayloadType(v.PayloadType),
		Payload:        mustHex(tb, v.PayloadHex),
	}, mustHex(tb, v.WireHex)
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	s = strings.Join(strings.Fields(s), "")
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestGoldenVectorsMarshal(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			m, want := v.message(t)
			got, err := m.AppendMarshal(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("AppendMarshal mismatch\n got %x\nwant %x", got, want)
			}
			// Appending after existing bytes leaves them alone.
			got, err = m.AppendMarshal([]byte("prefix"))
			if err != nil || string(got[:6]) != "prefix" || !bytes.Equal(got[6:], want) {
				t.Fatalf("AppendMarshal after prefix: %v %x", err, got)
			}
		})
	}
}

func TestGoldenVectorsParse(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			want, wire := v.message(t)
			var got Message
			if err := Parse(wire, &got); err != nil {
				t.Fatal(err)
			}
			if got.MessageType != want.MessageType || got.SchemaVersion != want.SchemaVersion ||
				got.CreatedDate != want.CreatedDate || got.SequenceNumber != want.SequenceNumber ||
				got.Flags != want.Flags || got.MessageID != want.MessageID ||
				got.PayloadType != want.PayloadType || !bytes.Equal(got.Payload, want.Payload) {
				t.Fatalf("Parse = %+v\nwant %+v", got, *want)
			}
			if !bytes.Equal(got.PayloadDigest[:], wire[OffsetPayloadDigest:OffsetPayloadDigest+32]) {
				t.Fatalf("PayloadDigest = %x", got.PayloadDigest)
			}
			if s := string(AppendUUID(nil, got.MessageID)); s != v.MessageID {
				t.Fatalf("AppendUUID = %s, want %s", s, v.MessageID)
			}
		})
	}
}

// TestGoldenVectorPayloads decodes the vectors' payloads with this package's
// payload helpers.
func TestGoldenVectorPayloads(t *testing.T) {
	for _, v := range loadVectors(t) {
		m, _ := v.message(t)
		switch v.Name {
		case "acknowledge":
			a, err := ParseAcknowledge(m.Payload)
			if err != nil || a.AcknowledgedMessageType != TypeOutputStreamData ||
				a.AcknowledgedMessageId.String() != "dd01e56b-ff48-483e-a508-b5f073f31b16" ||
				a.AcknowledgedMessageSequenceNumber != 7 || !a.IsSequentialMessage {
				t.Fatalf("ParseAcknowledge = %+v, %v", a, err)
			}
			if got := AppendAcknowledge(nil, a.AcknowledgedMessageType, a.AcknowledgedMessageId, 7); !bytes.Equal(got, m.Payload) {
				t.Fatalf("AppendAcknowledge = %s\nwant %s", got, m.Payload)
			}
		case "size":
			var s SizeData
			if err := json.Unmarshal(m.Payload, &s); err != nil || s != (SizeData{Cols: 120, Rows: 40}) {
				t.Fatalf("SizeData = %+v, %v", s, err)
			}
			if b, _ := json.Marshal(s); !bytes.Equal(b, m.Payload) {
				t.Fatalf("marshal SizeData = %s", b)
			}
		case "flag-disconnect-to-port":
			if f, err := ParseFlag(m.Payload); err != nil || f != FlagDisconnectToPort {
				t.Fatalf("ParseFlag = %v, %v", f, err)
			}
			if b := AppendFlag(nil, FlagDisconnectToPort); !bytes.Equal(b, m.Payload) {
				t.Fatalf("AppendFlag = %x", b)
			}
		case "handshake-response":
			var r HandshakeResponse
			if err := json.Unmarshal(m.Payload, &r); err != nil {
				t.Fatal(err)
			}
			if b, _ := json.Marshal(r); !bytes.Equal(b, m.Payload) {
				t.Fatalf("HandshakeResponse round trip\n got %s\nwant %s", b, m.Payload)
			}
			if len(r.ProcessedClientActions) != 1 || r.ProcessedClientActions[0].ActionStatus != ActionSuccess {
				t.Fatalf("HandshakeResponse = %+v", r)
			}
		}
	}
}

// TestWorkedExample is the 123-byte message of docs/protocol.md §1.4.
func TestWorkedExample(t *testing.T) {
	const want = `
		00 00 00 74
		69 6e 70 75 74 5f 73 74 72 65 61 6d 5f 64 61 74
		61 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20
		00 00 00 01
		00 00 01 8b cf e5 68 00
		00 00 00 00 00 00 00 05
		00 00 00 00 00 00 00 00
		9b 7c 01 23 45 67 89 ab
		c8 b3 f0 a2 1d 4e 4f 6a
		1d 88 7c e0 f8 67 2e 49 14 d9 00 0e 80 1c d7 4e
		cd 80 5d d9 36 6c 0b c4 2d c1 6a dc 01 97 dc 2f
		00 00 00 01
		00 00 00 03
		6c 73 0d`
	id, err := ParseUUID([]byte("c8b3f0a2-1d4e-4f6a-9b7c-0123456789ab"))
	if err != nil {
		t.Fatal(err)
	}
	m := &Message{
		MessageType:    TypeInputStreamData,
		SchemaVersion:  1,
		CreatedDate:    1700000000000,
		SequenceNumber: 5,
		MessageID:      id,
		PayloadType:    PayloadOutput,
		Payload:        []byte("ls\r"),
	}
	got, err := m.AppendMarshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	wantB := mustHex(t, want)
	if len(wantB) != 123 || !bytes.Equal(got, wantB) {
		t.Fatalf("got %x\nwant %x", got, wantB)
	}
	var back Message
	if err := Parse(got, &back); err != nil {
		t.Fatal(err)
	}
	if back.MessageID != id || string(back.Payload) != "ls\r" || back.SequenceNumber != 5 {
		t.Fatalf("Parse = %+v", back)
	}
}
