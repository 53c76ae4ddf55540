package session

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// kmsVector is the "kms" object of testdata/wire-vectors.json: a fixed data key and nonce with the
// ciphertexts the official implementation produces for each direction.
type kmsVector struct {
	DataKeyHex                 string `json:"dataKeyHex"`
	NonceHex                   string `json:"nonceHex"`
	AgentToClientCiphertextHex string `json:"agentToClientCiphertextHex"`
	AgentToClientPlaintext     string `json:"agentToClientPlaintext"`
	ClientToAgentCiphertextHex string `json:"clientToAgentCiphertextHex"`
	ClientToAgentPlaintext     string `json:"clientToAgentPlaintext"`
}

func loadKMSVector(t testing.TB) kmsVector {
	t.Helper()
	b, err := os.ReadFile("../testdata/wire-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ KMS kmsVector }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.KMS.DataKeyHex == "" {
		t.Fatal("wire-vectors.json has no kms vector")
	}
	return f.KMS
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// TestKMSVector checks the key halves are used the right way round: the client seals its input with
// key[32:64] and opens the agent's output with key[0:32], byte for byte as the official implementation.
func TestKMSVector(t *testing.T) {
	v := loadKMSVector(t)
	c, err := newPayloadCipher(mustHex(t, v.DataKeyHex))
	if err != nil {
		t.Fatal(err)
	}
	nonce := mustHex(t, v.NonceHex)

	sealed := c.sealWithNonce(nonce, []byte(v.ClientToAgentPlaintext))
	if want := mustHex(t, v.ClientToAgentCiphertextHex); !bytes.Equal(sealed, want) {
		t.Errorf("client→agent ciphertext\n got %x\nwant %x", sealed, want)
	}

	plain, err := c.open(mustHex(t, v.AgentToClientCiphertextHex))
	if err != nil {
		t.Fatalf("open agent→client vector: %v", err)
	}
	if string(plain) != v.AgentToClientPlaintext {
		t.Errorf("agent→client plaintext = %q, want %q", plain, v.AgentToClientPlaintext)
	}

	// The halves are not interchangeable: our own ciphertext must not open with the agent→client key,
	// and a flipped byte must fail authentication.
	if _, err := c.open(sealed); !errors.Is(err, ErrDecrypt) {
		t.Errorf("opening client→agent ciphertext with the agent→client key: err = %v, want ErrDecrypt", err)
	}
	bad := mustHex(t, v.AgentToClientCiphertextHex)
	bad[len(bad)-20] ^= 1
	if _, err := c.open(bad); !errors.Is(err, ErrDecrypt) {
		t.Errorf("tampered ciphertext: err = %v, want ErrDecrypt", err)
	}
	if _, err := c.open(bad[:gcmOverhead-1]); !errors.Is(err, ErrDecrypt) {
		t.Errorf("short ciphertext: err = %v, want ErrDecrypt", err)
	}
}
