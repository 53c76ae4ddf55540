package ssmtest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/gorilla/websocket"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// rawClient is a minimal data-channel client written against ssmtest/internal/wire: it
// acks every output message (re-acking duplicates), buffers out-of-order ones, answers
// the handshake (with KMS when kms is set), decrypts output and stops at channel_closed.
// It retransmits input only after resendEvery, so by default it suits runs without
// faults toward the agent.
type rawClient struct {
	t        *testing.T
	ws       *websocket.Conn
	seq      int64 // next input sequence number
	expected int64 // next output sequence number
	early    map[int64]*wire.Message

	wmu     sync.Mutex       // serializes writes (the resender writes too)
	unacked map[int64][]byte // input frames not yet acknowledged, by sequence number

	// For KMS-encrypted sessions: the client's KMS and the session, for the encryption
	// context; dataKey is set by the handshake.
	kms           *kms.Client
	sessionID     string
	target        string
	dataKey       []byte
	stdout        strings.Builder
	stderr        strings.Builder
	exit          string
	handshakeDone bool
	closed        *wire.ChannelClosedBody
}

func (c *rawClient) send(pt uint32, payload []byte) {
	c.t.Helper()
	b := encode(c.t, &wire.Message{Type: wire.InputStreamData, Seq: c.seq, PayloadType: pt, Payload: payload})
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.unacked == nil {
		c.unacked = make(map[int64][]byte)
	}
	c.unacked[c.seq] = b
	c.seq++
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *rawClient) ack(m *wire.Message) {
	body, _ := json.Marshal(wire.AckBody{AcknowledgedMessageType: m.Type, AcknowledgedMessageId: wire.FormatID(m.ID),
		AcknowledgedMessageSequenceNumber: m.Seq, IsSequentialMessage: true})
	b := encode(c.t, &wire.Message{Type: wire.Acknowledge, Flags: 3, Payload: body})
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.WriteMessage(websocket.BinaryMessage, b)
}

// resendEvery starts retransmitting unacknowledged input every d until the test ends
// (an agent drops input that arrives before its plugin is ready).
func (c *rawClient) resendEvery(d time.Duration) {
	stop := make(chan struct{})
	done := make(chan struct{})
	c.t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(d)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			c.wmu.Lock()
			for _, b := range c.unacked {
				c.ws.WriteMessage(websocket.BinaryMessage, b)
			}
			c.wmu.Unlock()
		}
	}()
}

// step reads one frame and handles it; it returns false after channel_closed.
func (c *rawClient) step() bool {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v (stdout so far %q)", err, c.stdout.String())
	}
	m, err := wire.Decode(b)
	if err != nil || !m.DigestOK() {
		c.t.Fatalf("bad frame from server: %v", err)
	}
	switch m.Type {
	case wire.Acknowledge:
		var a wire.AckBody
		json.Unmarshal(m.Payload, &a)
		c.wmu.Lock()
		delete(c.unacked, a.AcknowledgedMessageSequenceNumber)
		c.wmu.Unlock()
	case wire.ChannelClosed:
		c.closed = new(wire.ChannelClosedBody)
		json.Unmarshal(m.Payload, c.closed)
		return false
	case wire.OutputStreamData:
		c.ack(m)
		switch {
		case m.Seq < c.expected: // a resend of something already seen: re-acked
		case m.Seq > c.expected:
			if c.early == nil {
				c.early = make(map[int64]*wire.Message)
			}
			m.Payload = append([]byte(nil), m.Payload...)
			c.early[m.Seq] = m
		default:
			c.handle(m)
			for next, ok := c.early[c.expected]; ok; next, ok = c.early[c.expected] {
				delete(c.early, next.Seq)
				c.handle(next)
			}
		}
	}
	return true
}

// handle processes the next in-order output message.
func (c *rawClient) handle(m *wire.Message) {
	c.t.Helper()
	c.expected++
	if c.dataKey != nil && (m.PayloadType == wire.PTOutput || m.PayloadType == wire.PTStdErr || m.PayloadType == wire.PTExitCode) {
		m.Payload = c.open(m.Payload)
	}
	switch m.PayloadType {
	case wire.PTOutput:
		c.stdout.Write(m.Payload)
	case wire.PTStdErr:
		c.stderr.Write(m.Payload)
	case wire.PTExitCode:
		c.exit = string(m.Payload)
	case wire.PTHandshakeRequest:
		var req struct{ RequestedClientActions []wire.RequestedClientAction }
		json.Unmarshal(m.Payload, &req)
		resp := wire.HandshakeResponse{ClientVersion: "1.2.700.0"}
		for _, a := range req.RequestedClientActions {
			pa := wire.ProcessedClientAction{ActionType: a.ActionType, ActionStatus: wire.StatusSuccess}
			if a.ActionType == wire.ActionKMSEncryption {
				pa.ActionResult = c.generateDataKey(a.ActionParameters.(map[string]any)["KMSKeyId"].(string))
			}
			resp.ProcessedClientActions = append(resp.ProcessedClientActions, pa)
		}
		body, _ := json.Marshal(resp)
		c.send(wire.PTHandshakeResponse, body)
	case wire.PTHandshakeComplete:
		c.handshakeDone = true
	case wire.PTEncChallengeRequest:
		var ch wire.EncryptionChallenge
		json.Unmarshal(m.Payload, &ch)
		plain := c.open(ch.Challenge)
		body, _ := json.Marshal(wire.EncryptionChallenge{Challenge: c.seal(plain)})
		c.send(wire.PTEncChallengeResponse, body)
	}
}

// generateDataKey does the client's part of the KMS handshake action.
func (c *rawClient) generateDataKey(keyID string) json.RawMessage {
	c.t.Helper()
	out, err := c.kms.GenerateDataKey(testkit.Context(c.t), &kms.GenerateDataKeyInput{
		KeyId: aws.String(keyID), NumberOfBytes: aws.Int32(64),
		EncryptionContext: map[string]string{"aws:ssm:SessionId": c.sessionID, "aws:ssm:TargetId": c.target},
	})
	if err != nil {
		c.t.Fatalf("GenerateDataKey: %v", err)
	}
	c.dataKey = out.Plaintext
	b, _ := json.Marshal(wire.KMSEncryptionResponse{KMSCipherTextKey: out.CiphertextBlob})
	return b
}

func (c *rawClient) gcm(key []byte) cipher.AEAD {
	block, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(block)
	return g
}

// open decrypts agent output (key bytes 0-31).
func (c *rawClient) open(b []byte) []byte {
	c.t.Helper()
	g := c.gcm(c.dataKey[:32])
	if len(b) < g.NonceSize() {
		c.t.Fatalf("encrypted payload of %d bytes", len(b))
	}
	p, err := g.Open(nil, b[:g.NonceSize()], b[g.NonceSize():], nil)
	if err != nil {
		c.t.Fatalf("decrypting agent payload: %v", err)
	}
	return p
}

// seal encrypts client input (key bytes 32-63).
func (c *rawClient) seal(p []byte) []byte {
	g := c.gcm(c.dataKey[32:])
	nonce := make([]byte, g.NonceSize())
	rand.Read(nonce)
	return g.Seal(nonce, nonce, p, nil)
}

func (c *rawClient) until(cond func() bool) {
	c.t.Helper()
	for !cond() {
		if !c.step() {
			c.t.Fatalf("channel closed early; stdout %q", c.stdout.String())
		}
	}
}

func (c *rawClient) drain() {
	for c.step() {
	}
}
