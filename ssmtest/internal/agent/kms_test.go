package agent

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
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

func TestKMSVector(t *testing.T) {
	raw, err := os.ReadFile("../../../testdata/wire-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		KMS struct {
			DataKeyHex, NonceHex                               string
			AgentToClientCiphertextHex, AgentToClientPlaintext string
			ClientToAgentCiphertextHex, ClientToAgentPlaintext string
		} `json:"kms"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	key, _ := hex.DecodeString(v.KMS.DataKeyHex)
	nonce, _ := hex.DecodeString(v.KMS.NonceHex)
	cp, err := newCipherPair(key)
	if err != nil {
		t.Fatal(err)
	}
	copy(cp.nonce[:], nonce)
	sealed, _ := cp.seal([]byte(v.KMS.AgentToClientPlaintext))
	if hex.EncodeToString(sealed) != v.KMS.AgentToClientCiphertextHex {
		t.Fatalf("seal = %x, want %s", sealed, v.KMS.AgentToClientCiphertextHex)
	}
	ct, _ := hex.DecodeString(v.KMS.ClientToAgentCiphertextHex)
	plain, err := cp.open(ct)
	if err != nil || string(plain) != v.KMS.ClientToAgentPlaintext {
		t.Fatalf("open = %q, %v", plain, err)
	}
	// The counter advanced by one, little-endian.
	if cp.nonce[0] != nonce[0]+1 || !bytes.Equal(cp.nonce[1:], nonce[1:]) {
		t.Fatalf("nonce %x after one seal from %x", cp.nonce, nonce)
	}
}

func testKey() []byte {
	k := make([]byte, 64)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

// clientSeal/clientOpen are the client's side of the payload encryption (random nonce).
func clientSeal(t testing.TB, key, plain []byte) []byte {
	g := gcmFor(t, key)
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	return g.Seal(nonce, nonce, plain, nil)
}

func clientOpen(t testing.TB, key, b []byte) []byte {
	g := gcmFor(t, key)
	plain, err := g.Open(nil, b[:12], b[12:], nil)
	if err != nil {
		t.Fatalf("client decrypt: %v", err)
	}
	return plain
}

func gcmFor(t testing.TB, key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// kmsHandshake runs the client side of an encrypted handshake; wrongAnswer corrupts the challenge reply.
func kmsHandshake(t *testing.T, c *testClient, key []byte, wrongAnswer bool) (req wire.HandshakeRequest, done *wire.HandshakeComplete) {
	m := c.nextOf(wire.PTHandshakeRequest)
	if err := json.Unmarshal(m.Payload, &req); err != nil {
		t.Fatal(err)
	}
	if len(req.RequestedClientActions) != 2 || req.RequestedClientActions[1].ActionType != wire.ActionKMSEncryption {
		t.Fatalf("actions %+v", req.RequestedClientActions)
	}
	result, _ := json.Marshal(wire.KMSEncryptionResponse{KMSCipherTextKey: []byte("blob"), ChallengeAcknowledgement: true})
	body, _ := json.Marshal(wire.HandshakeResponse{ClientVersion: "1.2.677.0", ProcessedClientActions: []wire.ProcessedClientAction{
		{ActionType: wire.ActionSessionType, ActionStatus: wire.StatusSuccess},
		{ActionType: wire.ActionKMSEncryption, ActionStatus: wire.StatusSuccess, ActionResult: result}}})
	c.send(wire.PTHandshakeResponse, body)
	var ch wire.EncryptionChallenge
	if err := json.Unmarshal(c.nextOf(wire.PTEncChallengeRequest).Payload, &ch); err != nil {
		t.Fatal(err)
	}
	plain := clientOpen(t, key[:32], ch.Challenge)
	if len(plain) != 64 {
		t.Fatalf("challenge of %d bytes", len(plain))
	}
	if wrongAnswer {
		plain[0] ^= 1
	}
	answer, _ := json.Marshal(wire.EncryptionChallenge{Challenge: clientSeal(t, key[32:], plain)})
	c.send(wire.PTEncChallengeResponse, answer)
	if wrongAnswer {
		return req, nil
	}
	done = new(wire.HandshakeComplete)
	if err := json.Unmarshal(c.nextOf(wire.PTHandshakeComplete).Payload, done); err != nil {
		t.Fatal(err)
	}
	return req, done
}

func TestKMSShell(t *testing.T) {
	key := testKey()
	kms := fakeKMS{key: key, mu: new(sync.Mutex), ctx: map[string]string{}}
	c := startClient(t, Config{SessionType: StandardStream, KMSKeyID: "alias/test", KMS: kms})
	req, done := kmsHandshake(t, c, key, false)
	params := req.RequestedClientActions[1].ActionParameters.(map[string]any)
	challenge, _ := params["Challenge"].(string)
	if raw, err := base64.StdEncoding.DecodeString(challenge); err != nil || len(raw) != 16 || params["KMSKeyId"] != "alias/test" {
		t.Fatalf("KMS action parameters %v", params)
	}
	if done.CustomerMessage != "This session is encrypted using AWS KMS." {
		t.Fatalf("CustomerMessage %q", done.CustomerMessage)
	}
	kms.mu.Lock()
	want := map[string]string{"aws:ssm:SessionId": "sess-1", "aws:ssm:TargetId": "i-0123456789abcdef0", "aws:ssm:RandomChallenge": challenge}
	if !maps.Equal(kms.ctx, want) {
		t.Fatalf("encryption context %v", kms.ctx)
	}
	kms.mu.Unlock()

	c.send(wire.PTOutput, clientSeal(t, key[32:], []byte("echo enc-$((6*7))\r")))
	var out []byte
	for !bytes.Contains(out, []byte("enc-42")) {
		m := c.nextOf(wire.PTOutput)
		out = append(out, clientOpen(t, key[:32], m.Payload)...)
	}
}

func TestKMSChallengeMismatch(t *testing.T) {
	key := testKey()
	c := startClient(t, Config{SessionType: InteractiveCommands, Properties: map[string]any{"commands": "true"},
		KMSKeyID: "k", KMS: fakeKMS{key: key}, handshakeTimeout: 100 * time.Millisecond})
	kmsHandshake(t, c, key, true)
	err := c.waitDone()
	if err == nil || err.Error() != "Encountered error while initiating handshake. Timed out waiting for encryption challenge." {
		t.Fatalf("Err = %v", err)
	}
}
