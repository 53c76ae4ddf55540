package protocol

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/uuid"
)

var testID = [16]byte{0xdd, 0x01, 0xe5, 0x6b, 0xff, 0x48, 0x48, 0x3e, 0xa5, 0x08, 0xb5, 0xf0, 0x73, 0xf3, 0x1b, 0x16}

// TestAppendAcknowledgeMatchesEncodingJSON: the hand-written encoder writes
// what encoding/json writes for the struct, including escapes.
func TestAppendAcknowledgeMatchesEncodingJSON(t *testing.T) {
	types := []string{TypeOutputStreamData, TypeInputStreamData, "", "a\"b\\c", "<&>", "tab\there", "é\u2028", "\xff"}
	seqs := []int64{0, 1, 7, -1, 1<<63 - 1, -1 << 63}
	for _, typ := range types {
		for _, seq := range seqs {
			want, err := json.Marshal(Acknowledge{typ, testID, seq, true})
			if err != nil {
				t.Fatal(err)
			}
			if got := AppendAcknowledge(nil, typ, testID, seq); string(got) != string(want) {
				t.Errorf("AppendAcknowledge(%q, %d)\n got %s\nwant %s", typ, seq, got, want)
			}
		}
	}
}

func TestParseAcknowledge(t *testing.T) {
	canonical := `{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":"dd01e56b-ff48-483e-a508-b5f073f31b16","AcknowledgedMessageSequenceNumber":7,"IsSequentialMessage":true}`
	want := Acknowledge{TypeOutputStreamData, testID, 7, true}
	tests := []struct {
		name, in string
		fast     bool
		want     Acknowledge
	}{
		{"canonical", canonical, true, want},
		{"false", `{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":"dd01e56b-ff48-483e-a508-b5f073f31b16","AcknowledgedMessageSequenceNumber":7,"IsSequentialMessage":false}`,
			true, Acknowledge{TypeOutputStreamData, testID, 7, false}},
		{"upper-case id", `{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":"DD01E56B-FF48-483E-A508-B5F073F31B16","AcknowledgedMessageSequenceNumber":7,"IsSequentialMessage":true}`,
			true, want},
		{"whitespace", `{ "AcknowledgedMessageType" : "output_stream_data",
			"AcknowledgedMessageId": "dd01e56b-ff48-483e-a508-b5f073f31b16",
			"AcknowledgedMessageSequenceNumber": 7, "IsSequentialMessage": true }`, false, want},
		{"reordered", `{"AcknowledgedMessageSequenceNumber":7,"IsSequentialMessage":true,"AcknowledgedMessageId":"dd01e56b-ff48-483e-a508-b5f073f31b16","AcknowledgedMessageType":"output_stream_data"}`,
			false, want},
		{"trailing newline", canonical + "\n", false, want},
		{"escaped type", `{"AcknowledgedMessageType":"output_stream_dat\u0061","AcknowledgedMessageId":"dd01e56b-ff48-483e-a508-b5f073f31b16","AcknowledgedMessageSequenceNumber":7,"IsSequentialMessage":true}`,
			false, want},
		{"negative seq", `{"AcknowledgedMessageType":"x","AcknowledgedMessageId":"dd01e56b-ff48-483e-a508-b5f073f31b16","AcknowledgedMessageSequenceNumber":-3,"IsSequentialMessage":true}`,
			true, Acknowledge{"x", testID, -3, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, fast := parseAckFast([]byte(tt.in))
			if fast != tt.fast {
				t.Errorf("fast path = %v, want %v", fast, tt.fast)
			}
			got, err := ParseAcknowledge([]byte(tt.in))
			if err != nil || got != tt.want {
				t.Fatalf("ParseAcknowledge = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseAcknowledgeErrors(t *testing.T) {
	for _, in := range []string{
		``,
		`{`,
		`{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":"dd01e56b-ff48-483e-a508-b5f073f31b16","AcknowledgedMessageSequenceNumber":1.5,"IsSequentialMessage":true}`,
		`{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":"not-a-uuid","AcknowledgedMessageSequenceNumber":1,"IsSequentialMessage":true}`,
		`{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":"dd01e56b-ff48-483e-a508-b5f073f31b16","AcknowledgedMessageSequenceNumber":9223372036854775808,"IsSequentialMessage":true}`,
		`{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":"dd01e56b-ff48-483e-a508-b5f073f31b16","AcknowledgedMessageSequenceNumber":1,"IsSequentialMessage":true}x`,
	} {
		_, err := ParseAcknowledge([]byte(in))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("ParseAcknowledge(%q) error = %v, want *ParseError", in, err)
		}
	}
}

func TestUUID(t *testing.T) {
	u := uuid.MustParse("c8b3f0a2-1d4e-4f6a-9b7c-0123456789ab")
	if got := string(AppendUUID(nil, u)); got != u.String() {
		t.Fatalf("AppendUUID = %s", got)
	}
	id, err := ParseUUID([]byte(u.String()))
	if err != nil || id != u {
		t.Fatalf("ParseUUID = %x, %v", id, err)
	}
	for _, bad := range []string{"", "c8b3f0a2-1d4e-4f6a-9b7c-0123456789a", "c8b3f0a2x1d4e-4f6a-9b7c-0123456789ab",
		"g8b3f0a2-1d4e-4f6a-9b7c-0123456789ab", "{c8b3f0a2-1d4e-4f6a-9b7c-0123456789ab}"} {
		if _, err := ParseUUID([]byte(bad)); !errors.Is(err, ErrUUID) {
			t.Errorf("ParseUUID(%q) = %v", bad, err)
		}
	}
}

// TestUUIDEveryByte puts each of the 256 byte values at each of the 36 positions of an id and checks
// ParseUUID against google/uuid's parser of the same form (hex digits of either case, dashes at 8, 13, 18, 23).
func TestUUIDEveryByte(t *testing.T) {
	base := []byte("c8b3f0a2-1d4e-4f6a-9b7c-0123456789ab")
	for pos := range base {
		for c := range 256 {
			b := append([]byte(nil), base...)
			b[pos] = byte(c)
			got, err := ParseUUID(b)
			want, werr := uuid.ParseBytes(b)
			if (err == nil) != (werr == nil) || (err == nil && got != want) {
				t.Fatalf("ParseUUID(%q) = %x, %v; google/uuid: %x, %v", b, got, err, want, werr)
			}
		}
	}
}

func TestFlag(t *testing.T) {
	if b := AppendFlag(nil, FlagTerminateSession); string(b) != "\x00\x00\x00\x02" {
		t.Fatalf("AppendFlag = %x", b)
	}
	if f, err := ParseFlag([]byte{0, 0, 0, 3}); err != nil || f != FlagConnectToPortError {
		t.Fatalf("ParseFlag = %v, %v", f, err)
	}
	if f, err := ParseFlag([]byte{0, 0, 1, 0}); err != nil || f != 256 {
		t.Fatalf("unknown flag = %v, %v", f, err)
	}
	for _, bad := range [][]byte{nil, {0, 0, 1}, {0, 0, 0, 1, 0}} {
		if _, err := ParseFlag(bad); !errors.Is(err, ErrFlag) {
			t.Errorf("ParseFlag(%x) = %v", bad, err)
		}
	}
}

func TestParseExitCode(t *testing.T) {
	good := map[string]int{
		"EXIT_CODE: 0":         0,
		"EXIT_CODE: 3":         3,
		"EXIT_CODE: 255\n":     255,
		"\r\n EXIT_CODE: 1 ":   1,
		"EXIT_CODE:7":          7,
		"EXIT_CODE: -1":        -1,
		"EXIT_CODE: \t 12\r\n": 12,
	}
	for in, want := range good {
		if n, err := ParseExitCode([]byte(in)); err != nil || n != want {
			t.Errorf("ParseExitCode(%q) = %d, %v; want %d", in, n, err, want)
		}
	}
	for _, bad := range []string{"", "EXIT_CODE:", "EXIT_CODE: ", "EXIT_CODE: x", "EXIT_CODE: 1 2",
		"exit_code: 1", "EXIT_CODE: +1", "EXIT_CODE 1", "XEXIT_CODE: 1", "EXIT_CODE: 99999999999999999999"} {
		if _, err := ParseExitCode([]byte(bad)); !errors.Is(err, ErrExitCode) {
			t.Errorf("ParseExitCode(%q) = %v, want ErrExitCode", bad, err)
		}
	}
}
