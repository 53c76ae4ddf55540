package agent

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
)

const (
	dataKeySize = 64
	nonceSize   = 12
)

// cipherPair holds the session's two AES-256-GCM keys: key[0:32] seals agent output, key[32:64] opens
// client input. Agent nonces are a 96-bit little-endian counter with a random start, as the real agent's.
type cipherPair struct {
	sealer, opener cipher.AEAD

	mu    sync.Mutex
	nonce [nonceSize]byte
}

func newCipherPair(key []byte) (*cipherPair, error) {
	if len(key) != dataKeySize {
		return nil, fmt.Errorf("data key is %d bytes, want %d", len(key), dataKeySize)
	}
	enc, err := newGCM(key[:32])
	if err != nil {
		return nil, err
	}
	dec, err := newGCM(key[32:])
	if err != nil {
		return nil, err
	}
	cp := &cipherPair{sealer: enc, opener: dec}
	if _, err := rand.Read(cp.nonce[:]); err != nil {
		return nil, err
	}
	return cp, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal returns nonce ‖ ciphertext ‖ tag, using the current counter value and then advancing it.
func (cp *cipherPair) seal(plain []byte) ([]byte, error) {
	cp.mu.Lock()
	nonce := cp.nonce
	for i := range cp.nonce { // little-endian increment with carry
		cp.nonce[i]++
		if cp.nonce[i] != 0 {
			break
		}
	}
	cp.mu.Unlock()
	out := make([]byte, nonceSize, nonceSize+len(plain)+cp.sealer.Overhead())
	copy(out, nonce[:])
	return cp.sealer.Seal(out, nonce[:], plain, nil), nil
}

var errCiphertext = errors.New("agent: encrypted payload too short")

// open decrypts a client payload (nonce ‖ ciphertext ‖ tag).
func (cp *cipherPair) open(b []byte) ([]byte, error) {
	if len(b) < nonceSize+cp.opener.Overhead() {
		return nil, errCiphertext
	}
	return cp.opener.Open(nil, b[:nonceSize], b[nonceSize:], nil)
}
