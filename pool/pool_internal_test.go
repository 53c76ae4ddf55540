package pool

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/smithy-go"
)

// fakeSession is a pool session whose connections are in-memory pipes.
type fakeSession struct {
	id        string
	done      chan struct{}
	err       error
	closeOnce sync.Once
	closed    bool
}

func (s *fakeSession) SessionID() string     { return s.id }
func (s *fakeSession) Done() <-chan struct{} { return s.done }
func (s *fakeSession) Err() error            { return s.err }

func (s *fakeSession) Dial(ctx context.Context) (net.Conn, error) {
	select {
	case <-s.done:
		return nil, errors.New("session ended")
	default:
	}
	a, b := net.Pipe()
	go func() {
		<-s.done
		b.Close()
	}()
	return a, nil
}

func (s *fakeSession) Close() error {
	s.closeOnce.Do(func() {
		s.closed = true
		close(s.done)
	})
	return nil
}

// end ends the session as the service would, with err.
func (s *fakeSession) end(err error) {
	s.err = err
	s.closeOnce.Do(func() { close(s.done) })
}

// fakeStarter starts fake sessions and records when; fail, when set, decides the outcome of each call.
type fakeStarter struct {
	mu       sync.Mutex
	t0       time.Time
	calls    []time.Duration // since t0
	sessions []*fakeSession
	fail     func(call int) error
	block    chan struct{} // when set, starts wait for it
}

func newFakeStarter() *fakeStarter { return &fakeStarter{t0: time.Now()} }

func (f *fakeStarter) start(ctx context.Context) (poolSession, error) {
	f.mu.Lock()
	call := len(f.calls)
	f.calls = append(f.calls, time.Since(f.t0))
	fail, block := f.fail, f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if fail != nil {
		if err := fail(call); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &fakeSession{id: fmt.Sprintf("s%d", len(f.sessions)), done: make(chan struct{})}
	f.sessions = append(f.sessions, s)
	return s, nil
}

func (f *fakeStarter) callTimes() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeStarter) started() []*fakeSession {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sessions)
}

var errThrottled = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}

func testPool(t *testing.T, f *fakeStarter, cfg *Config) *Pool {
	t.Helper()
	p, err := newPool("dest", f.start, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, p *Pool) net.Conn {
	t.Helper()
	c, err := p.Dial(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func loads(p *Pool) []int {
	var out []int
	for _, s := range p.Sessions() {
		out = append(out, s.Conns)
	}
	return out
}

func TestPoolSpreadsOverSessionsLeastLoadedFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeStarter()
		p := testPool(t, f, &Config{MaxSessions: 3})
		var conns []net.Conn
		for range 5 {
			conns = append(conns, dial(t, p))
		}
		if n := len(f.started()); n != 3 {
			t.Fatalf("%d sessions started for 5 connections, want 3", n)
		}
		if got := loads(p); !slices.Equal(got, []int{2, 2, 1}) {
			t.Fatalf("connections per session %v, want [2 2 1]", got)
		}
		// The session with one connection is the least loaded: the next one goes there.
		dial(t, p)
		if got := loads(p); !slices.Equal(got, []int{2, 2, 2}) {
			t.Fatalf("connections per session %v, want [2 2 2]", got)
		}
		conns[0].Close() // on s0
		dial(t, p)
		if got := loads(p); !slices.Equal(got, []int{2, 2, 2}) {
			t.Fatalf("after closing one on s0 and dialling: %v, want [2 2 2]", got)
		}
		if id := conns[1].(*poolConn).SessionID(); id != "s1" {
			t.Fatalf("second connection on %s, want s1", id)
		}
	})
}

// A session is started only when every open one carries a connection.
func TestPoolStartsSessionsLazily(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeStarter()
		p := testPool(t, f, &Config{MaxSessions: 4})
		for range 3 {
			dial(t, p).Close()
		}
		if n := len(f.started()); n != 1 {
			t.Fatalf("%d sessions for connections one after another, want 1", n)
		}
		a, b := dial(t, p), dial(t, p)
		if n := len(f.started()); n != 2 {
			t.Fatalf("%d sessions for two concurrent connections, want 2", n)
		}
		a.Close()
		b.Close()
	})
}

func TestPoolClosesIdleExtraSessions(t *testing.T) {
	for _, closeLast := range []bool{false, true} {
		t.Run(fmt.Sprint("closeLast=", closeLast), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeStarter()
				var mu sync.Mutex
				var ended []string
				p := testPool(t, f, &Config{MaxSessions: 3, IdleTimeout: time.Minute, CloseLastWhenIdle: closeLast,
					OnSessionEnd: func(id string, err error) {
						mu.Lock()
						defer mu.Unlock()
						if err != nil {
							t.Errorf("session %s ended with %v, want nil (closed by the pool)", id, err)
						}
						ended = append(ended, id)
					}})
				conns := []net.Conn{dial(t, p), dial(t, p), dial(t, p)}
				for _, c := range conns {
					c.Close()
				}
				time.Sleep(59 * time.Second)
				synctest.Wait()
				if n := len(p.Sessions()); n != 3 {
					t.Fatalf("%d sessions before the idle timeout, want 3", n)
				}
				time.Sleep(2 * time.Second)
				synctest.Wait()
				want := 1
				if closeLast {
					want = 0
				}
				if n := len(p.Sessions()); n != want {
					t.Fatalf("%d sessions after the idle timeout, want %d", n, want)
				}
				closed := 0
				for _, s := range f.started() {
					if s.closed {
						closed++
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if closed != 3-want || len(ended) != 3-want {
					t.Fatalf("%d sessions closed, %d reported ended; want %d", closed, len(ended), 3-want)
				}
				// The next connection reuses the remaining session or starts one.
				dial(t, p)
				if n, want := len(f.started()), 3+boolInt(closeLast); n != want {
					t.Fatalf("%d sessions started in all, want %d", n, want)
				}
			})
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A session in use is not closed, however long.
func TestPoolKeepsBusySessions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeStarter()
		p := testPool(t, f, &Config{MaxSessions: 2, IdleTimeout: time.Minute})
		a, b := dial(t, p), dial(t, p)
		b.Close()
		a.Close()
		a = dial(t, p) // reuses one of the two; the other idles
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if got := loads(p); !slices.Equal(got, []int{1}) {
			t.Fatalf("sessions after 10 idle minutes: %v, want the busy one only", got)
		}
		a.Close()
	})
}

func TestPoolRateLimitsStarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeStarter()
		p := testPool(t, f, &Config{MaxSessions: 4, StartRate: 1, StartBurst: 2})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { dial(t, p) })
		}
		wg.Wait()
		got := f.callTimes()
		slices.Sort(got)
		want := []time.Duration{0, 0, time.Second, 2 * time.Second}
		if !slices.Equal(got, want) {
			t.Fatalf("StartSession calls at %v, want %v (burst 2, then 1 per second)", got, want)
		}
	})
}

func TestPoolRetriesThrottledStartsWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeStarter()
		f.fail = func(call int) error {
			if call < 3 {
				return fmt.Errorf("operation error SSM: StartSession: %w", errThrottled)
			}
			return nil
		}
		p := testPool(t, f, &Config{MaxSessions: 2, StartBackoff: 100 * time.Millisecond})
		dial(t, p)
		want := []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, 700 * time.Millisecond}
		if got := f.callTimes(); !slices.Equal(got, want) {
			t.Fatalf("StartSession calls at %v, want %v", got, want)
		}
	})
}

func TestPoolGivesUpOnOtherErrorsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeStarter()
		denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no"}
		f.fail = func(int) error { return denied }
		p := testPool(t, f, nil)
		if _, err := p.Dial(t.Context()); !errors.Is(err, denied) {
			t.Fatalf("Dial: %v, want the access error", err)
		}
		if n := len(f.callTimes()); n != 1 {
			t.Fatalf("%d StartSession calls, want 1", n)
		}
	})
}

// When the pool cannot grow because the service throttles, new connections share the open sessions.
func TestPoolSharesOpenSessionsWhenThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeStarter()
		f.fail = func(call int) error {
			if call > 0 {
				return errThrottled
			}
			return nil
		}
		p := testPool(t, f, &Config{MaxSessions: 4, StartAttempts: 3})
		dial(t, p)
		c := dial(t, p)
		if got := loads(p); !slices.Equal(got, []int{2}) {
			t.Fatalf("connections per session %v, want [2]", got)
		}
		if n := len(f.callTimes()); n != 4 {
			t.Fatalf("%d StartSession calls, want 1 + 3 attempts", n)
		}
		c.Close()
	})
}

// Auto mode grows to AutoMaxSessions, and stops growing for a while after throttling.
func TestPoolAuto(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeStarter()
		p := testPool(t, f, &Config{StartRate: 100, StartBurst: 100})
		for range AutoMaxSessions + 2 {
			dial(t, p)
		}
		if n := len(p.Sessions()); n != AutoMaxSessions {
			t.Fatalf("auto pool has %d sessions for %d connections, want %d", n, AutoMaxSessions+2, AutoMaxSessions)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		f := newFakeStarter()
		f.fail = func(call int) error {
			if call == 2 {
				return errThrottled
			}
			return nil
		}
		p := testPool(t, f, &Config{StartRate: 100, StartBurst: 100})
		for range 4 {
			dial(t, p)
		}
		// s0, s1, then a throttled call retried into s2: the cap is now the 2 sessions open at that time…
		if n := len(p.Sessions()); n != 3 {
			t.Fatalf("%d sessions, want 3", n)
		}
		// …for a minute; then the pool grows again.
		time.Sleep(autoThrottleCooldown + time.Second)
		dial(t, p)
		if n := len(p.Sessions()); n != 4 {
			t.Fatalf("%d sessions after the cool-down, want 4", n)
		}
	})
}

// A session that ends is replaced by the next connection that needs one; the pool reports why it ended.
func TestPoolReplacesEndedSessions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeStarter()
		ended := make(chan error, 1)
		p := testPool(t, f, &Config{MaxSessions: 1, OnSessionEnd: func(id string, err error) { ended <- err }})
		c := dial(t, p)
		boom := errors.New("lost")
		f.started()[0].end(boom)
		if err := <-ended; !errors.Is(err, boom) {
			t.Fatalf("OnSessionEnd got %v", err)
		}
		c.Close()
		dial(t, p)
		if n := len(f.started()); n != 2 {
			t.Fatalf("%d sessions started, want 2", n)
		}
	})
}

// With the pool full of sessions still starting, a connection waits for one and then shares it.
func TestPoolWaitsForStartingSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeStarter()
		f.block = make(chan struct{})
		p := testPool(t, f, &Config{MaxSessions: 1})
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { dial(t, p) })
		}
		synctest.Wait()
		if n := len(f.callTimes()); n != 1 {
			t.Fatalf("%d StartSession calls while full, want 1", n)
		}
		close(f.block)
		wg.Wait()
		if got := loads(p); !slices.Equal(got, []int{2}) {
			t.Fatalf("connections per session %v, want [2]", got)
		}
	})
}

func TestPoolClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeStarter()
		p := testPool(t, f, &Config{MaxSessions: 2})
		dial(t, p)
		dial(t, p)
		p.Close()
		for _, s := range f.started() {
			if !s.closed {
				t.Errorf("session %s not closed", s.id)
			}
		}
		if _, err := p.Dial(t.Context()); !errors.Is(err, ErrClosed) {
			t.Fatalf("Dial after Close: %v", err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPoolConfigValidation(t *testing.T) {
	if _, err := newPool("d", nil, &Config{MaxSessions: -1}); err == nil {
		t.Fatal("negative MaxSessions accepted")
	}
}
