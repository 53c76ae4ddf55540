package ssmtest

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
	"github.com/gorilla/websocket"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

const (
	testAccessKey = "AKIDSSMTESTEXAMPLE"
	testSecretKey = "ssmtest-secret-key"
)

// newTestServer starts a server with a fake agent unless real is set; Close runs at cleanup.
func newTestServer(t testing.TB, opts *Options, fake bool) *Server {
	t.Helper()
	s := NewUnstartedServer(opts)
	if fake {
		s.startAgent = startFakeAgent
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// withSecret returns s.AWSConfig() signing with testAccessKey and secret, for a server whose
// Options.Credentials name testAccessKey.
func withSecret(s *Server, secret string) aws.Config {
	cfg := s.AWSConfig()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(testAccessKey, secret, "")
	return cfg
}

func ssmClient(s *Server) *ssm.Client { return ssm.NewFromConfig(s.AWSConfig()) }
func ecsClient(s *Server) *ecs.Client { return ecs.NewFromConfig(s.AWSConfig()) }
func kmsClient(s *Server) *kms.Client { return kms.NewFromConfig(s.AWSConfig()) }

// errorCode returns the AWS error code of err, or "" if it is not an API error.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// startShell calls StartSession for the default shell document on the default instance.
func startShell(t testing.TB, s *Server) (id, url, token string) {
	t.Helper()
	out, err := ssmClient(s).StartSession(testkit.Context(t), &ssm.StartSessionInput{Target: aws.String(DefaultInstanceID)})
	if err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	return *out.SessionId, *out.StreamUrl, *out.TokenValue
}

// upgradeHeader SigV4-signs the data-channel upgrade GET url with the tests' key for
// ssmmessages in us-east-1, as a client since plugin 1.2.764.0 does (with the SDK's signer).
func upgradeHeader(t testing.TB, url string) http.Header {
	t.Helper()
	return signedUpgrade(t, url, aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}, "ssmmessages", "us-east-1")
}

func signedUpgrade(t testing.TB, url string, creds aws.Credentials, service, region string) http.Header {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, emptySHA256, service, region, time.Now()); err != nil {
		t.Fatal(err)
	}
	return req.Header
}

// dial opens the data channel with a signed upgrade and sends OpenDataChannel with token.
func dial(t testing.TB, url, token string) *websocket.Conn {
	t.Helper()
	return dialWith(t, url, upgradeHeader(t, url), token)
}

// dialWith opens the data channel with the upgrade headers hdr and sends OpenDataChannel with token.
func dialWith(t testing.TB, url string, hdr http.Header, token string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, hdr)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { ws.Close() })
	open, _ := json.Marshal(wire.OpenDataChannel{
		MessageSchemaVersion: "1.0", RequestId: wire.FormatID(wire.NewID()), TokenValue: token,
		ClientId: wire.FormatID(wire.NewID()), ClientVersion: "1.2.700.0",
	})
	if err := ws.WriteMessage(websocket.TextMessage, open); err != nil {
		t.Fatalf("write OpenDataChannel: %v", err)
	}
	return ws
}

// readMessage reads and decodes one binary frame within a few seconds.
func readMessage(t testing.TB, ws *websocket.Conn) (*wire.Message, error) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	mt, b, err := ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	if mt != websocket.BinaryMessage {
		t.Fatalf("frame type %d, want binary", mt)
	}
	return wire.Decode(b)
}

// closeCode reads until the websocket ends and returns the close code (or -1).
func closeCode(t testing.TB, ws *websocket.Conn) int {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the connection stayed open: %v", err)
			}
			return -1 // reset: as abrupt as 1006
		}
	}
}

// encode builds a frame for the client side of a test.
func encode(t testing.TB, m *wire.Message) []byte {
	t.Helper()
	if m.SchemaVersion == 0 {
		m.SchemaVersion = 1
	}
	if m.CreatedDate == 0 {
		m.CreatedDate = uint64(time.Now().UnixMilli())
	}
	if m.ID == ([16]byte{}) {
		m.ID = wire.NewID()
	}
	b, err := wire.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func input(t testing.TB, seq int64, payload string) []byte {
	return encode(t, &wire.Message{Type: wire.InputStreamData, Seq: seq, PayloadType: wire.PTOutput, Payload: []byte(payload)})
}

// fakeAgent stands in for the emulated agent in relay tests: it sends "ready" as
// output seq 0 when started, acks every input_stream_data (unless StopAcking) and
// echoes its payload back as the next output message. It never retransmits.
type fakeAgent struct {
	cfg       agentConfig
	mu        sync.Mutex
	seq       int64
	got       [][]byte
	done      chan struct{}
	once      sync.Once
	in        atomic.Uint64
	stopAcks  *atomic.Bool
	delivered chan []byte
}

func startFakeAgent(ctx context.Context, cfg agentConfig) (sessionAgent, error) {
	a := &fakeAgent{cfg: cfg, done: make(chan struct{}), delivered: make(chan []byte, 1024)}
	a.stopAcks = cfg.StopAcking
	a.output("ready")
	go func() {
		select {
		case <-ctx.Done():
			a.Terminate()
		case <-a.done:
		}
	}()
	return a, nil
}

func (a *fakeAgent) output(s string) {
	a.mu.Lock()
	seq := a.seq
	a.seq++
	a.mu.Unlock()
	b, _ := wire.Encode(&wire.Message{Type: wire.OutputStreamData, SchemaVersion: 1, CreatedDate: uint64(time.Now().UnixMilli()),
		Seq: seq, ID: wire.NewID(), PayloadType: wire.PTOutput, Payload: []byte(s)})
	a.cfg.Send(b)
}

func (a *fakeAgent) Deliver(frame []byte) {
	a.in.Add(1)
	select {
	case a.delivered <- append([]byte(nil), frame...):
	default:
	}
	m, err := wire.Decode(frame)
	if err != nil || m.Type != wire.InputStreamData {
		return
	}
	if a.stopAcks == nil || !a.stopAcks.Load() {
		body, _ := json.Marshal(wire.AckBody{AcknowledgedMessageType: m.Type, AcknowledgedMessageId: wire.FormatID(m.ID),
			AcknowledgedMessageSequenceNumber: m.Seq, IsSequentialMessage: true})
		ack, _ := wire.Encode(&wire.Message{Type: wire.Acknowledge, SchemaVersion: 1, CreatedDate: uint64(time.Now().UnixMilli()),
			Flags: 3, ID: wire.NewID(), Payload: body})
		a.cfg.Send(ack)
	}
	if string(m.Payload) == "exit" {
		a.Terminate()
		return
	}
	a.output(string(m.Payload))
}

func (a *fakeAgent) Terminate()            { a.once.Do(func() { close(a.done) }) }
func (a *fakeAgent) Done() <-chan struct{} { return a.done }
func (a *fakeAgent) Err() error            { return nil }
func (a *fakeAgent) Stats() AgentStats     { return AgentStats{MessagesIn: a.in.Load()} }
