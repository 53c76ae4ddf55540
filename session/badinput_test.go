package session

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/protocol"
)

func TestMalformedFramesAreDroppedAndTheSessionGoesOn(t *testing.T) {
	s, a := openPipe(t, nil)
	good := a.build(protocol.TypeOutputStreamData, 0, protocol.PayloadOutput, []byte("payload"))
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	bad := map[string][]byte{
		"empty":             {},
		"truncated header":  good[:60],
		"truncated payload": good[:len(good)-2],
		"header length":     mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b, 9999); return b }),
		"payload length":    mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[116:], 1<<31); return b }),
		"wrong digest":      mutate(func(b []byte) []byte { b[80] ^= 1; return b }),
		"zero created date": mutate(func(b []byte) []byte { clear(b[40:48]); return b }),
		"text garbage":      []byte(`{"not":"a message"}`),
	}
	for name, b := range bad {
		t.Run(name, func(t *testing.T) { a.sendRaw(b) })
	}
	// Unknown message and payload types are valid frames: ignored (the payload type still acknowledged).
	a.sendRaw(a.build("agent_future_message", 0, 0, []byte("{}")))
	a.outputAt(0, protocol.PayloadType(99), []byte("from the future"))
	a.outputAt(1, protocol.PayloadOutput, []byte("payload"))
	if got := a.nextAck(); got != 0 {
		t.Fatalf("ack %d", got)
	}
	if got := a.nextAck(); got != 1 {
		t.Fatalf("ack %d", got)
	}
	p := make([]byte, 32)
	n, err := s.Read(p)
	if err != nil || string(p[:n]) != "payload" {
		t.Fatalf("Read %q %v", p[:n], err)
	}
	if st := s.Stats(); st.Rejected != uint64(len(bad)) {
		t.Fatalf("rejected %d frames, want %d", st.Rejected, len(bad))
	}
}

// TestAgentThatStopsAcknowledgingEndsTheSession runs in a synctest bubble: the acknowledgement timeout is
// measured in bubble time.
func TestAgentThatStopsAcknowledgingEndsTheSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := &fakeSSM{}
		client, agentEnd := newMemPipe()
		s, err := Open(context.Background(), Info{SessionID: "s-1", StreamURL: "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s-1", TokenValue: "t"}, &Config{
			SSM: fake, AckTimeout: 300 * time.Millisecond, MaxPayload: 1024, Window: 8192,
			Dial: func(context.Context, string, http.Header) (Transport, error) { return client, nil }})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		go func() { // an agent that reads everything and acknowledges nothing
			for {
				if _, err := agentEnd.ReadFrame(nil); err != nil {
					return
				}
			}
		}()
		start := time.Now()                   // bubble time: the check below is exact, whatever the machine's load
		_, err = s.Write(make([]byte, 1<<20)) // far more than the window: blocks, then fails
		if !errors.Is(err, ErrAckTimeout) {
			t.Fatalf("Write = %v, want ErrAckTimeout", err)
		}
		if d := time.Since(start); d <= 300*time.Millisecond || d > 300*time.Millisecond+maxRTO {
			t.Fatalf("failed after %v, want just over the 300ms AckTimeout", d)
		}
		s.mu.Lock()
		inflight := s.inflight
		s.mu.Unlock()
		if inflight > 8192 {
			t.Fatalf("%d bytes held for an agent that does not acknowledge; the window is 8192", inflight)
		}
		synctest.Wait() // TerminateSession runs on its own goroutine
		fake.mu.Lock()
		defer fake.mu.Unlock()
		if fake.terminates != 1 {
			t.Fatalf("%d TerminateSession calls, want 1", fake.terminates)
		}
	})
}

func TestTokenNeverInLogsOrErrors(t *testing.T) {
	var logs testkit.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fake := &fakeSSM{err: errors.New("ResumeSession refused")}
	dials := 0
	client, agentEnd := newMemPipe()
	s, err := Open(context.Background(), Info{SessionID: "s-1", StreamURL: "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s-1", TokenValue: "token-0"}, &Config{
		Logger: logger, SSM: fake, ResumeBackoff: time.Millisecond,
		Dial: func(context.Context, string, http.Header) (Transport, error) {
			dials++
			return client, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	a := &fakeAgent{t: t, tr: agentEnd}
	a.output(protocol.PayloadHandshakeRequest, []byte(`{"broken`))
	a.tr.Close()
	<-s.Done()
	s.Close()
	_, rerr := s.Read(make([]byte, 1))
	_, herr := s.Ready(context.Background())
	for _, text := range []string{logs.String(), s.Err().Error(), rerr.Error(), herr.Error()} {
		if strings.Contains(text, "token-0") {
			t.Fatalf("the session token appears in %q", text)
		}
	}
	if logs.String() == "" {
		t.Fatal("nothing was logged; the test would prove nothing")
	}
}

// FuzzHandleFrame feeds arbitrary frames, and well-formed frames with arbitrary handshake, challenge,
// acknowledgement and channel_closed payloads, to a session's reader: it must never panic.
func FuzzHandleFrame(f *testing.F) {
	hs, _ := json.Marshal(protocol.HandshakeRequest{AgentVersion: "3.3.987.0", RequestedClientActions: []protocol.RequestedClientAction{
		{ActionType: protocol.ActionSessionType, ActionParameters: json.RawMessage(`{"SessionType":"Port","Properties":{"type":"LocalPortForwarding"}}`)},
		{ActionType: protocol.ActionKMSEncryption, ActionParameters: json.RawMessage(`{"KMSKeyId":"k"}`)}}})
	f.Add(uint32(protocol.PayloadHandshakeRequest), hs, false)
	f.Add(uint32(protocol.PayloadEncChallengeRequest), []byte(`{"Challenge":"AAAA"}`), false)
	f.Add(uint32(protocol.PayloadHandshakeComplete), []byte(`{"HandshakeTimeToComplete":1,"CustomerMessage":"x"}`), false)
	f.Add(uint32(0), protocol.AppendAcknowledge(nil, "input_stream_data", [16]byte{}, 3), false)
	f.Add(uint32(protocol.PayloadTypeFlag), []byte{0, 0, 0, 3}, false)
	f.Add(uint32(protocol.PayloadExitCode), []byte("EXIT_CODE: 1"), false)
	f.Add(uint32(0), []byte(`{"Output":"bye"}`), true)
	f.Fuzz(func(t *testing.T, pt uint32, payload []byte, raw bool) {
		s, a := openPipe(t, &Config{KMS: &fakeKMS{key: testKey()}})
		if raw {
			s.handleFrame(payload)
			return
		}
		for _, typ := range []string{protocol.TypeOutputStreamData, protocol.TypeAcknowledge, protocol.TypeChannelClosed} {
			s.handleFrame(a.build(typ, 0, protocol.PayloadType(pt), payload))
		}
	})
}
