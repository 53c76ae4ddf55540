package session

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ssmwire/ssmwire/protocol"
)

type fakeKMS struct {
	key   []byte
	err   error
	input *kms.GenerateDataKeyInput
}

func (f *fakeKMS) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, _ ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	f.input = in
	if f.err != nil {
		return nil, f.err
	}
	return &kms.GenerateDataKeyOutput{Plaintext: f.key, CiphertextBlob: []byte("sealed-key"), KeyId: in.KeyId}, nil
}

func testKey() []byte {
	k := make([]byte, 64)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

// agentCipher is the agent's view of the key: it seals with bytes 0..31 and opens with 32..63.
func agentCipher(t *testing.T, key []byte) *payloadCipher {
	t.Helper()
	swapped := append(append([]byte(nil), key[32:]...), key[:32]...)
	c, err := newPayloadCipher(swapped)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func kmsAction(challenge string) protocol.RequestedClientAction {
	p, _ := json.Marshal(protocol.KMSEncryptionRequest{KMSKeyId: "alias/ssm", Challenge: challenge})
	return protocol.RequestedClientAction{ActionType: protocol.ActionKMSEncryption, ActionParameters: p}
}

func TestKMSHandshakeAndEncryptedPayloads(t *testing.T) {
	fk := &fakeKMS{key: testKey()}
	s, a := openPipe(t, &Config{KMS: fk, TargetID: "i-0123"})
	challenge := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	a.handshake(protocol.SessionTypeStandardStream, "", kmsAction(challenge))
	m := a.nextData()
	var resp protocol.HandshakeResponse
	if err := json.Unmarshal(m.Payload, &resp); err != nil {
		t.Fatal(err)
	}
	var kr protocol.KMSEncryptionResponse
	if pa := resp.ProcessedClientActions[1]; pa.ActionStatus != protocol.ActionSuccess {
		t.Fatalf("KMS action = %+v", pa)
	} else if err := json.Unmarshal(pa.ActionResult, &kr); err != nil || string(kr.KMSCipherTextKey) != "sealed-key" || !kr.ChallengeAcknowledgement {
		t.Fatalf("KMS result = %s", pa.ActionResult)
	}
	want := map[string]string{"aws:ssm:SessionId": "s-1", "aws:ssm:TargetId": "i-0123", "aws:ssm:RandomChallenge": challenge}
	if *fk.input.NumberOfBytes != 64 || *fk.input.KeyId != "alias/ssm" || len(fk.input.EncryptionContext) != 3 {
		t.Fatalf("GenerateDataKey input = %+v", fk.input)
	}
	for k, v := range want {
		if fk.input.EncryptionContext[k] != v {
			t.Fatalf("encryption context %v", fk.input.EncryptionContext)
		}
	}

	ac := agentCipher(t, fk.key)
	secret := []byte("sixty-four random bytes stand in here for the agent's challenge")
	sealed, _ := ac.seal(secret)
	body, _ := json.Marshal(protocol.EncryptionChallenge{Challenge: sealed})
	a.output(protocol.PayloadEncChallengeRequest, body)
	m = a.nextData()
	var ch protocol.EncryptionChallenge
	if m.PayloadType != protocol.PayloadEncChallengeResponse || json.Unmarshal(m.Payload, &ch) != nil {
		t.Fatalf("challenge answer %v %s", m.PayloadType, m.Payload)
	}
	if got, err := ac.open(ch.Challenge); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("challenge answer opens to %q, %v", got, err)
	}
	hc, _ := json.Marshal(protocol.HandshakeComplete{CustomerMessage: "This session is encrypted using AWS KMS."})
	a.output(protocol.PayloadHandshakeComplete, hc)
	hs, err := s.Ready(context.Background())
	if err != nil || !hs.Encrypted {
		t.Fatalf("Ready = %+v, %v", hs, err)
	}

	out, _ := ac.seal([]byte("hello\r\n"))
	a.output(protocol.PayloadOutput, out)
	buf := make([]byte, 32)
	n, err := s.Read(buf)
	if err != nil || string(buf[:n]) != "hello\r\n" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if _, err := s.Write([]byte("echo hello\r")); err != nil {
		t.Fatal(err)
	}
	m = a.nextData()
	if plain, err := ac.open(m.Payload); err != nil || string(plain) != "echo hello\r" {
		t.Fatalf("agent opens %q, %v", plain, err)
	}
	// Size stays in the clear.
	if err := s.SendSize(context.Background(), 1, 2); err != nil {
		t.Fatal(err)
	}
	if m = a.nextData(); string(m.Payload) != `{"cols":1,"rows":2}` {
		t.Fatalf("size payload %q", m.Payload)
	}

	// A payload sealed with the wrong key ends the session with ErrDecrypt.
	tampered := append([]byte(nil), out...)
	tampered[len(tampered)-1] ^= 1
	a.output(protocol.PayloadOutput, tampered)
	<-s.Done()
	if !errors.Is(s.Err(), ErrDecrypt) {
		t.Fatalf("Err = %v", s.Err())
	}
	if _, err := io.ReadAll(s); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Read after decrypt failure = %v", err)
	}
}

func TestKMSFailuresAreReportedToAgentAndCaller(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"GenerateDataKey fails", Config{KMS: &fakeKMS{err: errors.New("AccessDeniedException")}}},
		{"no KMS client", Config{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, a := openPipe(t, &tc.cfg)
			a.handshake(protocol.SessionTypeStandardStream, "", kmsAction(""))
			m := a.nextData()
			var resp protocol.HandshakeResponse
			if err := json.Unmarshal(m.Payload, &resp); err != nil {
				t.Fatal(err)
			}
			pa := resp.ProcessedClientActions[1]
			if pa.ActionStatus != protocol.ActionFailed || pa.Error == "" || len(resp.Errors) != 1 {
				t.Fatalf("response %s", m.Payload)
			}
			if _, err := s.Ready(context.Background()); !errors.Is(err, ErrHandshake) {
				t.Fatalf("Ready = %v", err)
			}
		})
	}
}
