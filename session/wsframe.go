package session

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"sync"
)

// The session writes its websocket frames itself instead of through gorilla/websocket's WriteMessage, which
// allocates a message writer per message and boxes its write buffer into the pool on every return: three
// allocations per 1 KiB message, and garbage is what the plugin's small GOGC makes expensive. wsTransport
// builds each client frame (RFC 6455 §5.2: FIN and opcode, 7, 16 or 64-bit length, the MASK bit, a fresh
// masking key, the masked payload) into a reusable buffer and hands whole frames to the connection below,
// one Write call at a time; its write lock orders data frames and control frames (pings, pongs, close)
// from any goroutine. It reads the frames itself too (wsread.go), so gorilla's Conn, which does the upgrade,
// neither reads nor writes afterwards: none of its state (its write lock and buffer, its write deadline, its
// close handshake) is bypassed while in use, and the only frames on the wire are ours, each whole.

// Frame opcodes and header bits (RFC 6455 §5.2).
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA

	finBit  = 0x80
	maskBit = 0x80

	maxFrameHeader    = 14  // 2 + 8 (64-bit length) + 4 (masking key)
	maxControlPayload = 125 // §5.5
)

// frameSize is the length of a client frame carrying n payload bytes.
func frameSize(n int) int {
	switch {
	case n <= 125:
		return 6 + n
	case n <= 0xffff:
		return 8 + n
	default:
		return 14 + n
	}
}

// appendFrame appends to b one final client frame with opcode op carrying p masked with key.
func appendFrame(b []byte, op byte, p []byte, key [4]byte) []byte {
	n := len(p)
	switch {
	case n <= 125:
		b = append(b, finBit|op, maskBit|byte(n))
	case n <= 0xffff:
		b = append(b, finBit|op, maskBit|126, byte(n>>8), byte(n))
	default:
		b = append(b, finBit|op, maskBit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, key[:]...)
	start := len(b)
	b = slices.Grow(b, n)[:start+n]
	maskCopy(b[start:], p, key)
	return b
}

// maskCopy copies src to dst XORed with the masking key (dst and src of equal length, the key's position 0
// at the first byte), eight bytes at a time.
func maskCopy(dst, src []byte, key [4]byte) {
	dst = dst[:len(src)]
	k := uint64(binary.LittleEndian.Uint32(key[:]))
	k |= k << 32
	i := 0
	for ; len(src)-i >= 32; i += 32 {
		s, d := src[i:i+32], dst[i:i+32]
		binary.LittleEndian.PutUint64(d[0:], binary.LittleEndian.Uint64(s[0:])^k)
		binary.LittleEndian.PutUint64(d[8:], binary.LittleEndian.Uint64(s[8:])^k)
		binary.LittleEndian.PutUint64(d[16:], binary.LittleEndian.Uint64(s[16:])^k)
		binary.LittleEndian.PutUint64(d[24:], binary.LittleEndian.Uint64(s[24:])^k)
	}
	for ; len(src)-i >= 8; i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:])^k)
	}
	for ; i < len(src); i++ {
		dst[i] = src[i] ^ key[i&3]
	}
}

// newMaskKey returns a fresh masking key. The runtime's generator behind math/rand/v2's functions is
// ChaCha8 seeded from the system's entropy, per thread and without locks: unpredictable to the network, as
// §10.3 asks, and as gorilla itself masks (it uses the same runtime source through math/rand).
func newMaskKey() [4]byte {
	var k [4]byte
	binary.LittleEndian.PutUint32(k[:], rand.Uint32())
	return k
}

// A frame buffer is held only while the writer writes: from the start of a batch (or of a lone write) to its
// end, then it returns to wsFramePool, so idle sessions hold none. It gathers up to frameBatch bytes of frames
// before writing them in one call.
const (
	frameBatch    = 64 << 10
	maxPooledSize = frameBatch + maxFrameHeader + 64<<10 // larger buffers (a large message's) are dropped
)

var wsFramePool = sync.Pool{New: func() any { b := make([]byte, 0, frameBatch+4<<10); return &b }}
