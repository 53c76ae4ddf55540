package ssmtest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/gorilla/websocket"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// rawClient is a minimal data-channel client written against ssmtest/internal/wire: it
// acks every output message, buffers out-of-order ones, answers the handshake (no KMS), delivers output in order
// and stops at channel_closed. It never retransmits, so it only suits fault-free runs.
type rawClient struct {
	t        *testing.T
	ws       *websocket.Conn
	seq      int64 // next input sequence number
	expected int64 // next output sequence number
	early    map[int64]*wire.Message

	// For KMS-encrypted sessions: the client's KMS and the session, for the encryption
	// context; dataKey is set by the handshake.
	kms       *kms.Client
	sessionID string
	target    string
	dataKey   []byte
	stdout    strings.Builder
	stderr    strings.Builder
	exit      string
	closed    *wire.ChannelClosedBody
}

func (c *rawClient) send(pt uint32, payload []byte) {
	c.t.Helper()
	b := encode(c.t, &wire.Message{Type: wire.InputStreamData, Seq: c.seq, PayloadType: pt, Payload: payload})
	c.seq++
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *rawClient) ack(m *wire.Message) {
	body, _ := json.Marshal(wire.AckBody{AcknowledgedMessageType: m.Type, AcknowledgedMessageId: wire.FormatID(m.ID),
		AcknowledgedMessageSequenceNumber: m.Seq, IsSequentialMessage: true})
	c.ws.WriteMessage(websocket.BinaryMessage, encode(c.t, &wire.Message{Type: wire.Acknowledge, Flags: 3, Payload: body}))
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
	out, err := c.kms.GenerateDataKey(testContext(c.t), &kms.GenerateDataKeyInput{
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

func TestEndToEndShell(t *testing.T) {
	s := newTestServer(t, &Options{NoPacing: true}, false)
	id, url, token := startShell(t, s)
	c := &rawClient{t: t, ws: dial(t, url, token)}
	// The raw client does not retransmit, so wait until the shell is up (its prompt) before typing.
	c.until(func() bool { return c.stdout.Len() > 0 })
	c.send(wire.PTOutput, []byte("echo h''i\n"))
	c.until(func() bool {
		return strings.Contains(c.stdout.String(), "hi\r\n") || strings.Contains(c.stdout.String(), "hi\n")
	})
	c.send(wire.PTOutput, []byte("exit\n"))
	c.drain()
	if c.closed.SessionId != id || c.closed.Output != "" {
		t.Errorf("channel_closed %+v", c.closed)
	}
	info := s.Session(id)
	<-info.Done
	info = s.Session(id)
	if info.Err != nil || info.Agent.MessagesIn < 2 || info.Stats.AcksToClient < 2 || info.Stats.AcksToAgent == 0 {
		t.Errorf("session %+v", info)
	}
}

func TestEndToEndRunCommand(t *testing.T) {
	s := newTestServer(t, &Options{NoPacing: true}, false)
	out, err := ssmClient(s).StartSession(testContext(t), &ssm.StartSessionInput{
		Target: aws.String(DefaultInstanceID), DocumentName: aws.String(DocRunCommand),
		Parameters: map[string][]string{"command": {"echo out; echo err >&2; exit 3"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, ws: dial(t, *out.StreamUrl, *out.TokenValue)}
	c.drain()
	if c.stdout.String() != "out\n" || c.stderr.String() != "err\n" || c.exit != "EXIT_CODE: 3" {
		t.Errorf("stdout %q stderr %q exit %q", c.stdout.String(), c.stderr.String(), c.exit)
	}
}

func runCommand(t *testing.T, s *Server, command string) (*rawClient, string) {
	t.Helper()
	out, err := ssmClient(s).StartSession(testContext(t), &ssm.StartSessionInput{
		Target: aws.String(DefaultInstanceID), DocumentName: aws.String(DocRunCommand),
		Parameters: map[string][]string{"command": {command}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, ws: dial(t, *out.StreamUrl, *out.TokenValue)}
	c.drain()
	<-s.Session(*out.SessionId).Done
	return c, *out.SessionId
}

func TestEndToEndDuplicatesReachAgent(t *testing.T) {
	s := newTestServer(t, &Options{NoPacing: true}, false)
	s.Faults().Set(ToAgent, LinkFaults{Duplicate: 1})
	c, id := runCommand(t, s, "echo dup")
	if c.stdout.String() != "dup\n" || c.exit != "EXIT_CODE: 0" {
		t.Errorf("stdout %q exit %q", c.stdout.String(), c.exit)
	}
	st := s.Session(id).Stats
	if st.DuplicatesAtAgent == 0 || st.Faults.ToAgent.Duplicated == 0 {
		t.Errorf("DuplicatesAtAgent %d, Duplicated %d", st.DuplicatesAtAgent, st.Faults.ToAgent.Duplicated)
	}
}

func TestEndToEndLossyOutput(t *testing.T) {
	s := newTestServer(t, &Options{NoPacing: true}, false)
	s.Faults().Set(ToClient, LinkFaults{Drop: 0.1, Reorder: 0.2, Duplicate: 0.2})
	c, id := runCommand(t, s, "i=0; while [ $i -lt 20 ]; do echo line $i; i=$((i+1)); sleep 0.05; done")
	var want strings.Builder
	for i := range 20 {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if c.stdout.String() != want.String() || c.exit != "EXIT_CODE: 0" {
		t.Errorf("stdout %q exit %q", c.stdout.String(), c.exit)
	}
	info := s.Session(id)
	if f := info.Stats.Faults.ToClient; f.Dropped == 0 || info.Agent.Resends == 0 {
		t.Errorf("faults %+v, agent resends %d", f, info.Agent.Resends)
	}
}

func TestEndToEndKMS(t *testing.T) {
	s := newTestServer(t, &Options{NoPacing: true, KMSKeyID: "alias/ssm-sessions"}, false)
	out, err := ssmClient(s).StartSession(testContext(t), &ssm.StartSessionInput{
		Target: aws.String(DefaultInstanceID), DocumentName: aws.String(DocRunCommand),
		Parameters: map[string][]string{"command": {"echo secret; echo oops >&2; exit 5"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, ws: dial(t, *out.StreamUrl, *out.TokenValue), kms: kmsClient(s),
		sessionID: *out.SessionId, target: DefaultInstanceID}
	c.drain()
	if c.dataKey == nil {
		t.Fatal("no KMS handshake action")
	}
	if c.stdout.String() != "secret\n" || c.stderr.String() != "oops\n" || c.exit != "EXIT_CODE: 5" || c.closed.Output != "" {
		t.Errorf("stdout %q stderr %q exit %q closed %+v", c.stdout.String(), c.stderr.String(), c.exit, c.closed)
	}
	if st := s.Stats(); st.DataKeys != 1 || st.Decrypts != 1 {
		t.Errorf("DataKeys %d Decrypts %d, want 1 and 1 (the agent's)", st.DataKeys, st.Decrypts)
	}
}
