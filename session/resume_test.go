package session

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/protocol"
)

// fakeSSM answers ResumeSession with fresh tokens, or with err / an empty token when set.
type fakeSSM struct {
	mu         sync.Mutex
	resumes    int
	terminates int
	err        error
	noToken    bool
	streamURL  string // returned by ResumeSession when set
}

func (f *fakeSSM) ResumeSession(ctx context.Context, in *ssm.ResumeSessionInput, _ ...func(*ssm.Options)) (*ssm.ResumeSessionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resumes++
	if f.err != nil {
		return nil, f.err
	}
	if f.noToken {
		return &ssm.ResumeSessionOutput{SessionId: in.SessionId}, nil
	}
	tok := "token-" + strings.Repeat("r", f.resumes)
	out := &ssm.ResumeSessionOutput{SessionId: in.SessionId, TokenValue: &tok}
	if f.streamURL != "" {
		out.StreamUrl = &f.streamURL
	}
	return out, nil
}

func (f *fakeSSM) TerminateSession(ctx context.Context, in *ssm.TerminateSessionInput, _ ...func(*ssm.Options)) (*ssm.TerminateSessionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.terminates++
	return &ssm.TerminateSessionOutput{SessionId: in.SessionId}, nil
}

// openResumable opens a session whose every dial creates a new pipe, handed to the test on agents.
func openResumable(t *testing.T, fake *fakeSSM) (*Channel, chan *fakeAgent) {
	t.Helper()
	agents := make(chan *fakeAgent, 8)
	cfg := &Config{SSM: fake, ResumeBackoff: time.Millisecond, ResendTick: 10 * time.Millisecond,
		Dial: func(ctx context.Context, url string, _ http.Header) (Transport, error) {
			c, a := newMemPipe()
			agents <- &fakeAgent{t: t, tr: a}
			return c, nil
		}}
	s, err := Open(context.Background(), Info{SessionID: "s-1", StreamURL: "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s-1", TokenValue: "token-0"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, agents
}

func TestResumeKeepsSequenceState(t *testing.T) {
	fake := &fakeSSM{}
	s, agents := openResumable(t, fake)
	a := <-agents
	a.output(protocol.PayloadOutput, []byte("one"))
	for _, p := range []string{"a", "b", "c"} {
		if _, err := s.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	var first protocol.Message
	for i := 0; i < 3; i++ {
		m := a.nextData()
		if i == 0 {
			first = m
		}
	}
	a.ack(first)
	testkit.WaitFor(t, "ack", func() bool { return s.Stats().AcksReceived == 1 })
	a.tr.Close() // the websocket drops

	b := <-agents
	if b.next(); b.opened.TokenValue != "token-r" {
		t.Fatalf("reconnected with token %q", b.opened.TokenValue)
	}
	// Unacknowledged seqs 1 and 2 come again; new data continues at 3; incoming continues at 1.
	got := map[int64]string{}
	if _, err := s.Write([]byte("d")); err != nil {
		t.Fatal(err)
	}
	for len(got) < 3 {
		m := b.nextData()
		got[m.SequenceNumber] = string(m.Payload)
	}
	if got[1] != "b" || got[2] != "c" || got[3] != "d" {
		t.Fatalf("after resume got %v", got)
	}
	b.seq = 1
	b.output(protocol.PayloadOutput, []byte("two"))
	buf := make([]byte, 16)
	var all string
	for len(all) < 6 {
		n, err := s.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		all += string(buf[:n])
	}
	if all != "onetwo" {
		t.Fatalf("read %q", all)
	}
	if st := s.Stats(); st.Resumes != 1 || st.ConnectionDrops != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestResumeRefusedEndsSession(t *testing.T) {
	for _, tc := range []struct {
		name string
		fake *fakeSSM
		want error
	}{
		{"refused", &fakeSSM{err: errors.New("AccessDenied")}, ErrConnectionLost},
		{"timed out", &fakeSSM{noToken: true}, ErrTimedOut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, agents := openResumable(t, tc.fake)
			a := <-agents
			a.tr.Close()
			select {
			case <-s.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("session did not end after the resume failed")
			}
			if !errors.Is(s.Err(), tc.want) {
				t.Fatalf("Err = %v, want %v", s.Err(), tc.want)
			}
			if strings.Contains(s.Err().Error(), "token-0") {
				t.Fatal("the token leaked into the error")
			}
			tc.fake.mu.Lock()
			defer tc.fake.mu.Unlock()
			if tc.want == ErrConnectionLost && tc.fake.resumes != 6 {
				t.Fatalf("ResumeSession called %d times, want 6", tc.fake.resumes)
			}
		})
	}
}

func TestTerminateCallsAPI(t *testing.T) {
	fake := &fakeSSM{}
	s, _ := openResumable(t, fake)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	<-s.Done()
	if fake.terminates != 1 {
		t.Fatalf("TerminateSession called %d times", fake.terminates)
	}
}
