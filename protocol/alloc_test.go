package protocol

import (
	"bytes"
	"fmt"
	"testing"
)

// The hot paths allocate nothing: a data message is encoded, an incoming
// message parsed and acknowledged, and an acknowledgement parsed, per frame.

func TestAppendMarshalAllocs(t *testing.T) {
	m := &Message{MessageType: TypeInputStreamData, SchemaVersion: 1, CreatedDate: 1,
		MessageID: testID, PayloadType: PayloadOutput, Payload: bytes.Repeat([]byte("x"), 1024)}
	buf := make([]byte, 0, m.Size())
	if n := testing.AllocsPerRun(100, func() {
		if _, err := m.AppendMarshal(buf[:0]); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("AppendMarshal allocates %v times", n)
	}
}

func TestParseAllocs(t *testing.T) {
	for _, typ := range []string{TypeInputStreamData, TypeOutputStreamData, TypeAcknowledge,
		TypeChannelClosed, TypeStartPublication, TypePausePublication, TypeAgentSessionState} {
		frame := validFrame(t, typ, []byte("payload"))
		var m Message
		if n := testing.AllocsPerRun(100, func() {
			if err := Parse(frame, &m); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("Parse(%s) allocates %v times", typ, n)
		}
	}
}

func TestAppendAcknowledgeAllocs(t *testing.T) {
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() {
		buf = AppendAcknowledge(buf[:0], TypeOutputStreamData, testID, 1234567)
	}); n != 0 {
		t.Fatalf("AppendAcknowledge allocates %v times", n)
	}
}

func TestParseAcknowledgeAllocs(t *testing.T) {
	for _, typ := range []string{TypeOutputStreamData, TypeInputStreamData} {
		b := AppendAcknowledge(nil, typ, testID, 42)
		if n := testing.AllocsPerRun(100, func() {
			a, err := ParseAcknowledge(b)
			if err != nil || a.AcknowledgedMessageSequenceNumber != 42 {
				t.Fatal(a, err)
			}
		}); n != 0 {
			t.Errorf("ParseAcknowledge(%s) allocates %v times", typ, n)
		}
	}
}

func BenchmarkAppendMarshal(b *testing.B) {
	for _, size := range []int{1 << 10, 32 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			m := &Message{MessageType: TypeInputStreamData, SchemaVersion: 1, CreatedDate: 1,
				MessageID: testID, PayloadType: PayloadOutput, Payload: make([]byte, size)}
			buf := make([]byte, 0, m.Size())
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = m.AppendMarshal(buf[:0])
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	frame := validFrame(b, TypeOutputStreamData, make([]byte, 1024))
	var m Message
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Parse(frame, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendAcknowledge(b *testing.B) {
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendAcknowledge(buf[:0], TypeOutputStreamData, testID, 1234567)
	}
}

func BenchmarkParseAcknowledge(b *testing.B) {
	ack := AppendAcknowledge(nil, TypeOutputStreamData, testID, 1234567)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAcknowledge(ack); err != nil {
			b.Fatal(err)
		}
	}
}
