package protocol

import (
	"bytes"
	"encoding/binary"
	"strconv"
)

const hexDigits = "0123456789abcdef"

// AppendUUID appends id in the 8-4-4-4-12 lowercase hex form used in
// acknowledgements (docs/protocol.md §1.3). id is in canonical byte order.
func AppendUUID(b []byte, id [16]byte) []byte {
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

// ParseUUID reads the 36-byte 8-4-4-4-12 hex form (either case) into
// canonical byte order. Errors wrap ErrUUID.
func ParseUUID(b []byte) ([16]byte, error) {
	var id [16]byte
	if len(b) != 36 || b[8] != '-' || b[13] != '-' || b[18] != '-' || b[23] != '-' {
		return id, &ParseError{Op: "parse", Field: "UUID", Err: ErrUUID}
	}
	j := 0
	for i := 0; i < 16; i++ {
		if j == 8 || j == 13 || j == 18 || j == 23 {
			j++
		}
		hi, ok1 := unhex(b[j])
		lo, ok2 := unhex(b[j+1])
		if !ok1 || !ok2 {
			return [16]byte{}, &ParseError{Op: "parse", Field: "UUID", Err: ErrUUID}
		}
		id[i] = hi<<4 | lo
		j += 2
	}
	return id, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// AppendFlag appends the 4-byte big-endian payload of a PayloadTypeFlag message.
func AppendFlag(b []byte, f PayloadFlag) []byte {
	return binary.BigEndian.AppendUint32(b, uint32(f))
}

// ParseFlag reads a PayloadTypeFlag payload, which must be exactly 4 bytes.
// Unknown values are returned, not rejected. Errors wrap ErrFlag.
func ParseFlag(b []byte) (PayloadFlag, error) {
	if len(b) != 4 {
		return 0, &ParseError{Op: "parse", Field: "Flag", Err: ErrFlag}
	}
	return PayloadFlag(binary.BigEndian.Uint32(b)), nil
}

// ParseExitCode reads a PayloadExitCode payload, "EXIT_CODE: <n>" (the agent
// writes it with fmt's %d, §2.2). Whitespace around the text and after the
// colon is tolerated; anything else wraps ErrExitCode.
func ParseExitCode(b []byte) (int, error) {
	rest, ok := cut(bytes.TrimSpace(b), "EXIT_CODE:")
	if ok {
		rest = bytes.TrimLeft(rest, " \t")
		if n, err := strconv.Atoi(string(rest)); err == nil && len(rest) > 0 && rest[0] != '+' {
			return n, nil
		}
	}
	return 0, &ParseError{Op: "parse", Field: "ExitCode", Err: ErrExitCode}
}
