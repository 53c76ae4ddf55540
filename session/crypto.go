package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// gcmOverhead is what encryption adds to a payload: a 12-byte nonce in front and a 16-byte tag behind
// (docs/protocol.md §5.4).
const gcmOverhead = 12 + 16

// payloadCipher seals our payloads with the client→agent half of the KMS data key (bytes 32..63) and opens
// the agent's with the agent→client half (bytes 0..31).
type payloadCipher struct {
	seal_ cipher.AEAD
	open_ cipher.AEAD
}

func newPayloadCipher(dataKey []byte) (*payloadCipher, error) {
	if len(dataKey) != 64 {
		return nil, fmt.Errorf("session: KMS data key is %d bytes, want 64", len(dataKey))
	}
	open, err := newGCM(dataKey[:32])
	if err != nil {
		return nil, err
	}
	seal, err := newGCM(dataKey[32:])
	if err != nil {
		return nil, err
	}
	return &payloadCipher{seal_: seal, open_: open}, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// seal returns nonce ‖ ciphertext ‖ tag with a random nonce.
func (c *payloadCipher) seal(plain []byte) ([]byte, error) {
	out := make([]byte, 12, 12+len(plain)+16)
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return c.seal_.Seal(out, out[:12], plain, nil), nil
}

// sealWithNonce is seal with a given nonce, for tests against fixed vectors.
func (c *payloadCipher) sealWithNonce(nonce, plain []byte) []byte {
	out := append(make([]byte, 0, 12+len(plain)+16), nonce...)
	return c.seal_.Seal(out, nonce, plain, nil)
}

var errShortCiphertext = errors.New("ciphertext shorter than nonce and tag")

// open authenticates and decrypts nonce ‖ ciphertext ‖ tag.
func (c *payloadCipher) open(sealed []byte) ([]byte, error) {
	if len(sealed) < gcmOverhead {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, errShortCiphertext)
	}
	plain, err := c.open_.Open(nil, sealed[:12], sealed[12:], nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	return plain, nil
}
