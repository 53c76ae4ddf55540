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
	bad := byte(0)
	for i := 0; i < 16; i++ {
		if j == 8 || j == 13 || j == 18 || j == 23 {
			j++
		}
		// A table, not comparisons: the digits of a random id defeat branch prediction, and every
		// acknowledgement carries one (this was 7 % of an upload's CPU).
		hi, lo := hexPlus1[b[j]]-1, hexPlus1[b[j+1]]-1 // 0xff for a non-digit
		bad |= hi | lo
		id[i] = hi<<4 | lo&0x0f
		j += 2
	}
	if bad&0xf0 != 0 {
		return [16]byte{}, &ParseError{Op: "parse", Field: "UUID", Err: ErrUUID}
	}
	return id, nil
}

// hexPlus1 holds each hex digit's value plus one, and 0 for every other byte (a constant table: nothing is
// built at init).
var hexPlus1 = [256]byte{
	'0': 1, '1': 2, '2': 3, '3': 4, '4': 5, '5': 6, '6': 7, '7': 8,
	'8': 9, '9': 10, 'a': 11, 'b': 12, 'c': 13, 'd': 14, 'e': 15, 'f': 16,
	'A': 11, 'B': 12, 'C': 13, 'D': 14, 'E': 15, 'F': 16,
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
