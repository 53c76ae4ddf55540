package session

import (
	crand "crypto/rand"
	"math/rand/v2"
	"sync"

	"github.com/ssmwire/ssmwire/protocol"
)

// Message ids only need to be unique, not secret (receivers match acknowledgements by sequence number), so
// they come from a ChaCha8 generator seeded once from crypto/rand: no syscall and no allocation per message.
var idGen = struct {
	sync.Mutex
	r *rand.ChaCha8
}{r: newChaCha()}

func newChaCha() *rand.ChaCha8 {
	var seed [32]byte
	_, _ = crand.Read(seed[:])
	return rand.NewChaCha8(seed)
}

// newMessageID returns a version 4 UUID.
func newMessageID() (id [16]byte) {
	idGen.Lock()
	_, _ = idGen.r.Read(id[:])
	idGen.Unlock()
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

// newUUIDString returns a fresh random UUID in text form, for request and client ids.
func newUUIDString() string {
	var id [16]byte
	_, _ = crand.Read(id[:])
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return string(protocol.AppendUUID(nil, id))
}
