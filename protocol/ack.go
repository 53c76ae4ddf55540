package protocol

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// The canonical acknowledgement, as encoding/json writes the Acknowledge
// struct (no whitespace, declaration order):
//
//	{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":"<uuid>",
//	 "AcknowledgedMessageSequenceNumber":7,"IsSequentialMessage":true}
const (
	ackKeyType = `{"AcknowledgedMessageType":`
	ackKeyID   = `,"AcknowledgedMessageId":`
	ackKeySeq  = `,"AcknowledgedMessageSequenceNumber":`
	ackKeySeqn = `,"IsSequentialMessage":`
)

// AppendAcknowledge appends the JSON payload acknowledging the message with
// the given type, id and sequence number. The bytes are exactly what
// encoding/json produces for the Acknowledge struct with IsSequentialMessage
// true. It does not allocate when b has room and ackedType needs no JSON
// escaping (every Type* constant).
func AppendAcknowledge(b []byte, ackedType string, ackedID [16]byte, seq int64) []byte {
	b = append(b, ackKeyType...)
	b = appendJSONString(b, ackedType)
	b = append(b, ackKeyID...)
	b = append(b, '"')
	b = AppendUUID(b, ackedID)
	b = append(b, '"')
	b = append(b, ackKeySeq...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, ackKeySeqn...)
	b = append(b, "true}"...)
	return b
}

// appendJSONString appends s as a JSON string literal with encoding/json's
// escaping (including its HTML escaping of <, > and &).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plainJSONByte(s[i]) {
			q, _ := json.Marshal(s) // cannot fail for a string
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plainJSONByte reports whether encoding/json writes c unchanged inside a string.
func plainJSONByte(c byte) bool {
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

// ParseAcknowledge decodes an acknowledgement payload. The canonical form
// (the one AppendAcknowledge and the official implementations write) is
// decoded without reflection and, for the Type* constants, without
// allocating; any other valid JSON (other key order, whitespace, escapes) is
// decoded by encoding/json with the same result. Errors are *ParseError.
func ParseAcknowledge(b []byte) (Acknowledge, error) {
	if a, ok := parseAckFast(b); ok {
		return a, nil
	}
	var a Acknowledge
	if err := json.Unmarshal(b, &a); err != nil {
		return Acknowledge{}, &ParseError{Op: "parse", Field: "Acknowledge", Err: err}
	}
	return a, nil
}

// parseAckFast decodes exactly the canonical form and reports false for
// anything else, leaving the decision to encoding/json.
func parseAckFast(b []byte) (a Acknowledge, ok bool) {
	var s []byte
	if b, ok = cut(b, ackKeyType+`"`); !ok {
		return a, false
	}
	i := bytes.IndexByte(b, '"')
	if i < 0 {
		return a, false
	}
	s, b = b[:i], b[i+1:]
	for _, c := range s {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return a, false
		}
	}
	if b, ok = cut(b, ackKeyID+`"`); !ok || len(b) < 37 || b[36] != '"' {
		return a, false
	}
	id, err := ParseUUID(b[:36])
	if err != nil {
		return a, false
	}
	if b, ok = cut(b[37:], ackKeySeq); !ok {
		return a, false
	}
	seq, b, ok := cutInt64(b)
	if !ok {
		return a, false
	}
	if b, ok = cut(b, ackKeySeqn); !ok {
		return a, false
	}
	switch string(b) {
	case "true}":
		a.IsSequentialMessage = true
	case "false}":
	default:
		return a, false
	}
	a.AcknowledgedMessageType = internType(s)
	a.AcknowledgedMessageId = id
	a.AcknowledgedMessageSequenceNumber = seq
	return a, true
}

func cut(b []byte, prefix string) ([]byte, bool) {
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return b, false
	}
	return b[len(prefix):], true
}

// cutInt64 reads a JSON integer (-?(0|[1-9][0-9]*)) that fits in an int64
// and is followed by a non-number byte.
func cutInt64(b []byte) (int64, []byte, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	if n == 0 || (n > 1 && b[0] == '0') || n > 19 {
		return 0, b, false
	}
	if n < len(b) && (b[n] == '.' || b[n] == 'e' || b[n] == 'E') {
		return 0, b, false
	}
	var u uint64
	for _, c := range b[:n] {
		u = u*10 + uint64(c-'0') // n ≤ 19 digits: cannot overflow uint64
	}
	if neg {
		if u > 1<<63 {
			return 0, b, false
		}
		return int64(-u), b[n:], true
	}
	if u > 1<<63-1 {
		return 0, b, false
	}
	return int64(u), b[n:], true
}
