package agent

import (
	"context"
	"errors"
	"maps"
	"sync"
)

// fakeKMS returns a fixed 64-byte data key for ciphertext "blob" and records the encryption context.
type fakeKMS struct {
	key []byte
	mu  *sync.Mutex
	ctx map[string]string
}

func (f fakeKMS) Decrypt(_ context.Context, ciphertext []byte, encCtx map[string]string) ([]byte, error) {
	if string(ciphertext) != "blob" {
		return nil, errors.New("fake kms: unknown ciphertext")
	}
	if f.mu != nil {
		f.mu.Lock()
		maps.Copy(f.ctx, encCtx)
		f.mu.Unlock()
	}
	return f.key, nil
}
