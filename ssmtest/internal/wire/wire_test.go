package wire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

type vectorFile struct {
	Messages []struct {
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
	} `json:"messages"`
}

func loadVectors(t testing.TB) vectorFile {
	t.Helper()
	b, err := os.ReadFile("../../../testdata/wire-vectors.json")
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	var v vectorFile
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("parse vectors: %v", err)
	}
	if len(v.Messages) == 0 {
		t.Fatal("no vectors")
	}
	return v
}

func TestGoldenVectors(t *testing.T) {
	for _, v := range loadVectors(t).Messages {
		t.Run(v.Name, func(t *testing.T) {
			id, err := ParseID(v.MessageID)
			if err != nil {
				t.Fatal(err)
			}
			if FormatID(id) != v.MessageID {
				t.Fatalf("FormatID = %s, want %s", FormatID(id), v.MessageID)
			}
			payload, _ := hex.DecodeString(v.PayloadHex)
			want, _ := hex.DecodeString(v.WireHex)
			m := &Message{Type: v.MessageType, SchemaVersion: v.SchemaVersion, CreatedDate: v.CreatedDate,
				Seq: v.SequenceNumber, Flags: v.Flags, ID: id, PayloadType: v.PayloadType, Payload: payload}
			got, err := Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Encode mismatch\n got %x\nwant %x", got, want)
			}
			d, err := Decode(want)
			if err != nil {
				t.Fatal(err)
			}
			if d.Type != v.MessageType || d.SchemaVersion != v.SchemaVersion || d.CreatedDate != v.CreatedDate ||
				d.Seq != v.SequenceNumber || d.Flags != v.Flags || d.ID != id || d.PayloadType != v.PayloadType ||
				!bytes.Equal(d.Payload, payload) || !d.DigestOK() {
				t.Fatalf("Decode = %+v", d)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	good, _ := Encode(&Message{Type: InputStreamData, SchemaVersion: 1, CreatedDate: 1, Payload: []byte("x")})
	if _, err := Decode(good[:119]); !errors.Is(err, ErrShort) {
		t.Errorf("short: %v", err)
	}
	noDate, _ := Encode(&Message{Type: InputStreamData, SchemaVersion: 1})
	if _, err := Decode(noDate); !errors.Is(err, ErrCreatedDate) {
		t.Errorf("zero date: %v", err)
	}
	noType, _ := Encode(&Message{CreatedDate: 1})
	if _, err := Decode(noType); !errors.Is(err, ErrEmptyType) {
		t.Errorf("empty type: %v", err)
	}
	pause, _ := Encode(&Message{Type: PausePublication})
	if m, err := Decode(pause); err != nil || m.Type != PausePublication {
		t.Errorf("pause: %v %v", m, err)
	}
	bad := bytes.Clone(good)
	bad[3] = 200
	if _, err := Decode(bad); !errors.Is(err, ErrHeaderLength) {
		t.Errorf("header length: %v", err)
	}
	// The agent does not verify digests.
	bad = bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	m, err := Decode(bad)
	if err != nil || m.DigestOK() {
		t.Errorf("corrupt digest: %v, DigestOK %v", err, m.DigestOK())
	}
	if _, err := Encode(&Message{Type: string(make([]byte, 33))}); !errors.Is(err, ErrLongType) {
		t.Errorf("long type: %v", err)
	}
}

func TestAckJSONMatchesVector(t *testing.T) {
	v := loadVectors(t)
	for _, m := range v.Messages {
		if m.Name != "acknowledge" {
			continue
		}
		want, _ := hex.DecodeString(m.PayloadHex)
		got, _ := json.Marshal(AckBody{AcknowledgedMessageType: OutputStreamData,
			AcknowledgedMessageId: "dd01e56b-ff48-483e-a508-b5f073f31b16", AcknowledgedMessageSequenceNumber: 7,
			IsSequentialMessage: true})
		if !bytes.Equal(got, want) {
			t.Fatalf("ack JSON\n got %s\nwant %s", got, want)
		}
		return
	}
	t.Fatal("no acknowledge vector")
}

func TestExitCodeAndFlag(t *testing.T) {
	if n, err := ParseExitCode(ExitCodePayload(3)); err != nil || n != 3 {
		t.Fatalf("exit code: %d %v", n, err)
	}
	if f, err := ParseFlag(FlagPayload(FlagTerminateSession)); err != nil || f != 2 {
		t.Fatalf("flag: %d %v", f, err)
	}
	if _, err := ParseFlag([]byte{1}); err == nil {
		t.Fatal("short flag accepted")
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := Encode(&Message{Type: OutputStreamData, SchemaVersion: 1, CreatedDate: 9, Seq: 4, Payload: []byte("hi")})
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil || m.Type == StartPublication || m.Type == PausePublication || len(m.Type) == 0 {
			return
		}
		out, err := Encode(m)
		if err != nil {
			return
		}
		m2, err := Decode(out)
		if err != nil || m2.Seq != m.Seq || !bytes.Equal(m2.Payload, m.Payload) || !m2.DigestOK() {
			t.Fatalf("round trip: %v %+v", err, m2)
		}
	})
}
