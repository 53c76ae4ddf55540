package session

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/protocol"
)

// These tests drive the session's timers (resume backoff, acknowledgement timeout, keepalive pings) inside a
// synctest bubble: time moves only when every goroutine of the test is blocked, so each test checks exact
// durations, in microseconds of real time, without a sleep that guesses how long the machine needs.

// clockedSSM refuses every ResumeSession and records, in bubble time, when each call came.
type clockedSSM struct {
	fakeSSM
	mu    sync.Mutex
	calls []time.Time
}

func (f *clockedSSM) ResumeSession(ctx context.Context, in *ssm.ResumeSessionInput, opts ...func(*ssm.Options)) (*ssm.ResumeSessionOutput, error) {
	f.mu.Lock()
	f.calls = append(f.calls, time.Now())
	f.mu.Unlock()
	return nil, errors.New("ResumeSession refused")
}

// TestResumeBackoffDoubles drops the websocket of a session whose ResumeSession always fails: the first
// attempt comes at once, each later one after the previous delay doubled (plus up to half of it as jitter)
// up to the 5 s cap (docs/protocol.md §7.4), and after the last attempt the session fails at once.
func TestResumeBackoffDoubles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := &clockedSSM{}
		client, agentEnd := newMemPipe()
		s, err := Open(context.Background(), Info{SessionID: "s-1", StreamURL: "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s-1", TokenValue: "t"}, &Config{
			SSM: fake, ResumeAttempts: 9, PingInterval: time.Hour,
			Dial: func(context.Context, string, http.Header) (Transport, error) { return client, nil }})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		synctest.Wait()
		dropped := time.Now()
		agentEnd.Close()
		<-s.Done()
		ended := time.Now()
		if !errors.Is(s.Err(), ErrConnectionLost) {
			t.Fatalf("Err = %v, want ErrConnectionLost", s.Err())
		}
		fake.mu.Lock()
		calls := fake.calls
		fake.mu.Unlock()
		if len(calls) != 9 {
			t.Fatalf("%d ResumeSession calls, want 9 (ResumeAttempts)", len(calls))
		}
		if calls[0] != dropped {
			t.Errorf("first ResumeSession %v after the drop, want at once", calls[0].Sub(dropped))
		}
		want := 100 * time.Millisecond // the default ResumeBackoff
		for i := 1; i < len(calls); i++ {
			gap := calls[i].Sub(calls[i-1])
			if gap < want || gap > want+want/2 {
				t.Errorf("attempt %d came %v after the previous one, want %v to %v", i+1, gap, want, want+want/2)
			}
			want = min(2*want, 5*time.Second)
		}
		if ended != calls[len(calls)-1] {
			t.Errorf("the session failed %v after the last attempt, want at once", ended.Sub(calls[len(calls)-1]))
		}
	})
}

// TestAckTimeoutEndsTheSession sends one message to an agent that never acknowledges: the session fails
// with ErrAckTimeout once the message has waited Config.AckTimeout (default 5 minutes), not before, and no
// later than one retransmission timeout after, and then asks SSM to terminate the session.
func TestAckTimeoutEndsTheSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := &fakeSSM{}
		client, agentEnd := newMemPipe()
		s, err := Open(context.Background(), Info{SessionID: "s-1", StreamURL: "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s-1", TokenValue: "t"}, &Config{
			SSM: fake, PingInterval: time.Hour,
			Dial: func(context.Context, string, http.Header) (Transport, error) { return client, nil }})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		a := &fakeAgent{t: t, tr: agentEnd}
		if err := s.Send(context.Background(), protocol.PayloadOutput, []byte("x")); err != nil {
			t.Fatal(err)
		}
		_, sent := a.nextDataIn(time.Second)
		go func() { // read and drop everything, resends included, acknowledging nothing
			for {
				if _, err := agentEnd.ReadFrame(nil); err != nil {
					return
				}
			}
		}()
		<-s.Done()
		waited := time.Since(sent)
		if !errors.Is(s.Err(), ErrAckTimeout) {
			t.Fatalf("Err = %v, want ErrAckTimeout", s.Err())
		}
		if waited <= 5*time.Minute || waited > 5*time.Minute+maxRTO {
			t.Fatalf("the session failed %v after the unacknowledged message, want just over 5m", waited)
		}
		synctest.Wait() // the TerminateSession call runs on its own goroutine
		fake.mu.Lock()
		terminates := fake.terminates
		fake.mu.Unlock()
		if terminates != 1 {
			t.Fatalf("%d TerminateSession calls, want 1", terminates)
		}
	})
}

// TestAckTimeoutWaitsWhilePaused: while the service has paused publication, the agent cannot acknowledge,
// so an overdue acknowledgement must not end the session; once publication resumes it may.
func TestAckTimeoutWaitsWhilePaused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, a := openPipe(t, &Config{AckTimeout: time.Minute, PingInterval: time.Hour})
		if err := s.Send(context.Background(), protocol.PayloadOutput, []byte("x")); err != nil {
			t.Fatal(err)
		}
		a.nextDataIn(time.Second)
		a.control(protocol.TypePausePublication, nil)
		synctest.Wait()
		time.Sleep(10 * time.Minute)
		select {
		case <-s.Done():
			t.Fatalf("the session ended while paused: %v", s.Err())
		default:
		}
		a.control(protocol.TypeStartPublication, nil)
		go func() { // drop resends, acknowledge nothing
			for {
				if _, err := a.tr.ReadFrame(nil); err != nil {
					return
				}
			}
		}()
		<-s.Done()
		if !errors.Is(s.Err(), ErrAckTimeout) {
			t.Fatalf("Err = %v, want ErrAckTimeout", s.Err())
		}
	})
}

// TestKeepalivePings: the session pings the websocket once it opens and then every PingInterval (default
// 54 s, as the agent does, docs/protocol.md §3.4), and never more often.
func TestKeepalivePings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, _ := newMemPipe()
		s, err := Open(context.Background(), Info{SessionID: "s-1", StreamURL: "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s-1", TokenValue: "t"}, &Config{
			Dial: func(context.Context, string, http.Header) (Transport, error) { return client, nil }})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		synctest.Wait()
		if n := client.pings.Load(); n != 1 {
			t.Fatalf("%d pings right after opening, want 1", n)
		}
		time.Sleep(DefaultPingInterval - time.Millisecond)
		synctest.Wait()
		if n := client.pings.Load(); n != 1 {
			t.Fatalf("%d pings just before the interval, want 1", n)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if n := client.pings.Load(); n != 2 {
			t.Fatalf("%d pings after one interval, want 2", n)
		}
		time.Sleep(10 * DefaultPingInterval)
		synctest.Wait()
		if n := client.pings.Load(); n != 12 {
			t.Fatalf("%d pings after eleven intervals, want 12", n)
		}
	})
}
