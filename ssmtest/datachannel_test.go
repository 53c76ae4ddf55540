package ssmtest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/gorilla/websocket"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// expectOutput reads frames until an output_stream_data with payload want arrives.
func expectOutput(t *testing.T, ws *websocket.Conn, want string) *wire.Message {
	t.Helper()
	for {
		m, err := readMessage(t, ws)
		if err != nil {
			t.Fatalf("waiting for output %q: %v", want, err)
		}
		if m.Type == wire.OutputStreamData && string(m.Payload) == want {
			return m
		}
	}
}

func TestDataChannelTokenChecks(t *testing.T) {
	s := newTestServer(t, nil, true)
	id, url, token := startShell(t, s)
	for _, tc := range []struct{ name, url, token string }{
		{"wrong token", url, "AAEAAnot-the-token"},
		{"empty token", url, ""},
		{"unknown session", strings.Replace(url, id, "ssmtest-00000000000000000", 1), token},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := dial(t, tc.url, tc.token)
			if code := closeCode(t, ws); code != websocket.ClosePolicyViolation {
				t.Errorf("close code %d, want %d", code, websocket.ClosePolicyViolation)
			}
		})
	}
	t.Run("binary first frame", func(t *testing.T) {
		ws, _, err := websocket.DefaultDialer.Dial(url, upgradeHeader(t, url))
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		ws.WriteMessage(websocket.BinaryMessage, input(t, 0, "x"))
		if code := closeCode(t, ws); code != websocket.ClosePolicyViolation {
			t.Errorf("close code %d, want %d", code, websocket.ClosePolicyViolation)
		}
	})
	if got := s.Stats().WebsocketsRejected; got != 4 {
		t.Errorf("WebsocketsRejected = %d, want 4", got)
	}
	if info := s.Session(id); info.AgentStarted {
		t.Error("agent started without a valid attach")
	}
	ws := dial(t, url, token)
	expectOutput(t, ws, "ready")
	if info := s.Session(id); !info.AgentStarted || info.ClientVersion != "1.2.700.0" || info.Stats.Attaches != 1 {
		t.Errorf("after attach: %+v", info)
	}
}

func TestRelayAndTerminate(t *testing.T) {
	s := newTestServer(t, nil, true)
	id, url, token := startShell(t, s)
	ws := dial(t, url, token)
	expectOutput(t, ws, "ready")
	ws.WriteMessage(websocket.BinaryMessage, input(t, 0, "echo hi"))
	expectOutput(t, ws, "echo hi")

	if _, err := ssmClient(s).TerminateSession(testkit.Context(t), &ssm.TerminateSessionInput{SessionId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	m := expectType(t, ws, wire.ChannelClosed)
	var cc wire.ChannelClosedBody
	if err := json.Unmarshal(m.Payload, &cc); err != nil || cc.SessionId != id || cc.MessageType != wire.ChannelClosed || cc.Output != "" || cc.SchemaVersion != 1 {
		t.Errorf("channel_closed body %s (%v)", m.Payload, err)
	}
	if !m.DigestOK() || m.CreatedDate == 0 {
		t.Error("channel_closed fails the client's validation")
	}
	if code := closeCode(t, ws); code != websocket.CloseNormalClosure {
		t.Errorf("close code %d, want 1000", code)
	}
	info := s.Session(id)
	<-info.Done
	st := s.Session(id).Stats
	if st.FramesToAgent != 1 || st.FramesToClient != 3 || st.AcksToClient != 1 || st.AcksToAgent != 0 || st.MaxClientMessage != len("echo hi") {
		t.Errorf("stats %+v", st)
	}
	// Ended sessions cannot be resumed or attached.
	_, err := ssmClient(s).ResumeSession(testkit.Context(t), &ssm.ResumeSessionInput{SessionId: aws.String(id)})
	if errorCode(err) != "DoesNotExistException" {
		t.Errorf("resume after end: %v", err)
	}
	if code := closeCode(t, dial(t, url, token)); code != websocket.ClosePolicyViolation {
		t.Errorf("attach after end: close code %d", code)
	}
	// Terminating again, or an unknown session, succeeds as on AWS.
	if _, err := ssmClient(s).TerminateSession(testkit.Context(t), &ssm.TerminateSessionInput{SessionId: aws.String("nope")}); err != nil {
		t.Errorf("terminate unknown: %v", err)
	}
}

func expectType(t *testing.T, ws *websocket.Conn, typ string) *wire.Message {
	t.Helper()
	for {
		m, err := readMessage(t, ws)
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if m.Type == typ {
			return m
		}
	}
}

func TestTerminateBeforeAttach(t *testing.T) {
	s := newTestServer(t, nil, true)
	id, _, _ := startShell(t, s)
	if _, err := ssmClient(s).TerminateSession(testkit.Context(t), &ssm.TerminateSessionInput{SessionId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	<-s.Session(id).Done
	if st := s.Stats(); st.SessionsActive != 0 {
		t.Errorf("SessionsActive = %d", st.SessionsActive)
	}
}

func TestResumeSession(t *testing.T) {
	s := newTestServer(t, nil, true)
	c := ssmClient(s)
	id, url, token := startShell(t, s)
	ws := dial(t, url, token)
	expectOutput(t, ws, "ready")

	out, err := c.ResumeSession(testkit.Context(t), &ssm.ResumeSessionInput{SessionId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if *out.TokenValue == token || *out.SessionId != id || *out.StreamUrl != url {
		t.Fatalf("ResumeSession returned %+v", out)
	}
	if code := closeCode(t, dial(t, url, token)); code != websocket.ClosePolicyViolation {
		t.Errorf("stale token: close code %d", code)
	}
	ws2 := dial(t, url, *out.TokenValue)
	ws2.WriteMessage(websocket.BinaryMessage, input(t, 0, "again"))
	expectOutput(t, ws2, "again")
	// The new attach replaced the old websocket.
	if code := closeCode(t, ws); code != websocket.CloseAbnormalClosure {
		t.Errorf("replaced websocket: close code %d, want 1006 (abrupt)", code)
	}

	s.Faults().RefuseResume.Store(true)
	_, err = c.ResumeSession(testkit.Context(t), &ssm.ResumeSessionInput{SessionId: aws.String(id)})
	if errorCode(err) != "DoesNotExistException" {
		t.Errorf("RefuseResume: %v", err)
	}
	_, err = c.ResumeSession(testkit.Context(t), &ssm.ResumeSessionInput{SessionId: aws.String("ssmtest-nope")})
	if errorCode(err) != "DoesNotExistException" {
		t.Errorf("unknown session: %v", err)
	}
	st := s.Session(id).Stats
	if st.Resumes != 1 || st.Attaches != 2 || st.Faults.RefusedResumes != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestMaxMessageSize(t *testing.T) {
	s := newTestServer(t, &Options{MaxMessageSize: 4096}, true)
	id, url, token := startShell(t, s)
	ws := dial(t, url, token)
	expectOutput(t, ws, "ready")
	atLimit := strings.Repeat("a", 4096)
	ws.WriteMessage(websocket.BinaryMessage, input(t, 0, atLimit))
	expectOutput(t, ws, atLimit)
	ws.WriteMessage(websocket.BinaryMessage, input(t, 1, atLimit+"b"))
	if code := closeCode(t, ws); code != websocket.CloseMessageTooBig {
		t.Errorf("close code %d, want 1009", code)
	}
	testkit.WaitFor(t, "TooLarge", func() bool { return s.Session(id).Stats.Faults.TooLarge == 1 })
	if st := s.Session(id).Stats; st.MaxClientMessage != 4096 || st.FramesToAgent != 1 {
		t.Errorf("stats %+v", st)
	}
	// The session survives: a reconnect with the same token works.
	ws = dial(t, url, token)
	ws.WriteMessage(websocket.BinaryMessage, input(t, 1, "small"))
	expectOutput(t, ws, "small")
}
