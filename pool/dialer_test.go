package pool_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/smithy-go"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/pool"
	"github.com/ssmwire/ssmwire/proxy"
)

// fakeConduit hands out one end of a net.Pipe per Dial; the other ends go to peers.
type fakeConduit struct {
	id      string
	done    chan struct{}
	once    sync.Once
	dials   atomic.Int32
	peers   chan net.Conn
	dialErr error
}

func newFakeConduit(id string) *fakeConduit {
	return &fakeConduit{id: id, done: make(chan struct{}), peers: make(chan net.Conn, 100)}
}

func (f *fakeConduit) Dial(ctx context.Context) (net.Conn, error) {
	f.dials.Add(1)
	if f.dialErr != nil {
		return nil, f.dialErr
	}
	select {
	case <-f.done:
		return nil, errors.New("fake conduit ended")
	default:
	}
	a, b := net.Pipe()
	f.peers <- b
	return a, nil
}
func (f *fakeConduit) Done() <-chan struct{} { return f.done }
func (f *fakeConduit) Close() error          { f.end(); return nil }
func (f *fakeConduit) SessionID() string     { return f.id }
func (f *fakeConduit) end()                  { f.once.Do(func() { close(f.done) }) }

// fakeOpener counts opens and returns fake conduits, after gate (if set) is closed.
type fakeOpener struct {
	mu     sync.Mutex
	opened []*fakeConduit
	asked  []ssmwire.Remote
	gate   chan struct{}
	err    error
	notify chan *fakeConduit // if set, receives every conduit opened
}

func (o *fakeOpener) open(ctx context.Context, target string, r ssmwire.Remote) (pool.Tunnel, error) {
	if o.gate != nil {
		select {
		case <-o.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.asked = append(o.asked, r)
	if o.err != nil {
		return nil, o.err
	}
	c := newFakeConduit(r.String() + "#" + string(rune('0'+len(o.opened))))
	o.opened = append(o.opened, c)
	if o.notify != nil {
		o.notify <- c
	}
	return c, nil
}

func (o *fakeOpener) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.opened)
}

// eventRecorder records session events.
type eventRecorder = recorder[pool.SessionEvent]

func newFakeDialer(t *testing.T, o *fakeOpener, rec *eventRecorder, idle time.Duration) *pool.Dialer {
	c, err := ssmwire.New(&ssmwire.Config{SSM: unusedSSM{}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &pool.DialerConfig{Open: o.open, IdleTimeout: idle, ConfirmWait: -1}
	if rec != nil {
		cfg.OnSession = rec.add
	}
	return pool.NewDialer(c, "i-0123456789abcdef0", cfg)
}

// unusedSSM is an SSM client the fake-conduit tests never call.
type unusedSSM struct{ ssmwire.SSMAPI }

// TestDialerOpensOncePerDestination: many first connections at once share one open; another destination
// gets its own conduit.
func TestDialerOpensOncePerDestination(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &fakeOpener{gate: make(chan struct{})}
		d := newFakeDialer(t, o, nil, time.Minute)
		defer d.Close()
		var wg sync.WaitGroup
		conns := make(chan net.Conn, 20)
		for range 10 {
			wg.Go(func() {
				c, err := d.Dial(context.Background(), "db.internal", 5432)
				if err != nil {
					t.Error(err)
					return
				}
				conns <- c
			})
		}
		synctest.Wait() // all ten wait for the one open
		close(o.gate)
		wg.Wait()
		if n := o.count(); n != 1 {
			t.Fatalf("%d opens for one destination, want 1", n)
		}
		if n := o.opened[0].dials.Load(); n != 10 {
			t.Fatalf("%d dials through the conduit, want 10", n)
		}
		c, err := d.Dial(context.Background(), "cache.internal", 6379)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if n := o.count(); n != 2 {
			t.Fatalf("%d opens for two destinations, want 2", n)
		}
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
}

// TestDialerIdle: a conduit stays while connections use it and for IdleTimeout after the last one; then it is
// closed, and the next connection opens a new one.
func TestDialerIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &fakeOpener{}
		rec := &eventRecorder{}
		d := newFakeDialer(t, o, rec, time.Minute)
		defer d.Close()
		dial := func() net.Conn {
			c, err := d.Dial(context.Background(), "db.internal", 5432)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		c1 := dial()
		time.Sleep(10 * time.Minute) // an open connection keeps the conduit
		c2 := dial()
		c1.Close()
		c2.Close()
		time.Sleep(59 * time.Second)
		c3 := dial() // reused just before the idle timeout
		c3.Close()
		if n := o.count(); n != 1 {
			t.Fatalf("%d opens, want 1", n)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		select {
		case <-o.opened[0].done:
		default:
			t.Fatal("conduit still open a minute after its last connection")
		}
		c4 := dial()
		c4.Close()
		if n := o.count(); n != 2 {
			t.Fatalf("%d opens after the idle close, want 2", n)
		}
		evs := rec.all()
		if len(evs) != 3 || evs[0].Ended || !evs[1].Ended || evs[1].Reason != "idle" || evs[2].Ended ||
			evs[1].SessionID != o.opened[0].id {
			t.Fatalf("events %+v", evs)
		}
	})
}

// TestDialerReplacesEndedConduit: a conduit that ended (its session timed out on the service) is replaced by
// the next connection.
func TestDialerReplacesEndedConduit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &fakeOpener{}
		rec := &eventRecorder{}
		d := newFakeDialer(t, o, rec, time.Minute)
		defer d.Close()
		c, err := d.Dial(context.Background(), "db.internal", 5432)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		o.opened[0].end()
		synctest.Wait()
		c, err = d.Dial(context.Background(), "db.internal", 5432)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if n := o.count(); n != 2 {
			t.Fatalf("%d opens, want 2", n)
		}
		if evs := rec.all(); len(evs) < 2 || !evs[1].Ended || evs[1].Reason != "closed by the service" {
			t.Fatalf("events %+v", evs)
		}
	})
}

// TestDialerAccessDenied: IAM refusing StartSession is a forbidden destination, and is not cached.
func TestDialerAccessDenied(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &fakeOpener{err: &smithy.GenericAPIError{Code: "AccessDeniedException",
			Message: "User is not authorized to perform: ssm:StartSession on resource: document/AWS-StartPortForwardingSessionToRemoteHost"}}
		d := newFakeDialer(t, o, nil, time.Minute)
		defer d.Close()
		for range 2 {
			_, err := d.Dial(context.Background(), "db.internal", 5432)
			if !errors.Is(err, proxy.ErrForbidden) || proxy.Classify(err) != proxy.Forbidden {
				t.Fatalf("Dial = %v, want ErrForbidden", err)
			}
		}
		if len(o.asked) != 2 {
			t.Fatalf("%d opens, want 2 (a failure is not remembered)", len(o.asked))
		}
	})
}

// TestDialerClose: Close ends every conduit and later dials fail.
func TestDialerClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &fakeOpener{}
		d := newFakeDialer(t, o, nil, time.Minute)
		c, err := d.Dial(context.Background(), "db.internal", 5432)
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
		select {
		case <-o.opened[0].done:
		default:
			t.Fatal("conduit open after Close")
		}
		c.Close()
		if _, err := d.Dial(context.Background(), "db.internal", 5432); !errors.Is(err, pool.ErrDialerClosed) {
			t.Fatalf("Dial after Close = %v", err)
		}
	})
}

// TestDialerConfirm: a new destination's first connection waits for the agent's verdict: data means accepted
// (and the data is kept), silence for ConfirmWait means accepted, a failure is the dial's error; once a
// destination accepted, connections do not wait.
func TestDialerConfirm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &fakeOpener{notify: make(chan *fakeConduit, 10)}
		c, _ := ssmwire.New(&ssmwire.Config{SSM: unusedSSM{}})
		d := pool.NewDialer(c, "i-0123456789abcdef0", &pool.DialerConfig{Open: o.open, ConfirmWait: 2 * time.Second})
		defer d.Close()

		// The destination speaks first.
		go func() {
			p := <-(<-o.notify).peers
			p.Write([]byte("SSH-2.0-x\r\n"))
			p.Close()
		}()
		start := time.Now()
		conn, err := d.Dial(context.Background(), "ssh.internal", 22)
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(start) != 0 {
			t.Errorf("waited %v although data came at once", time.Since(start))
		}
		buf := make([]byte, 64)
		n, _ := conn.Read(buf)
		if string(buf[:n]) != "SSH-2.0-x\r\n" {
			t.Fatalf("first read %q, want the banner read ahead", buf[:n])
		}
		conn.Close()

		// A silent destination: accepted after ConfirmWait; the next connection does not wait.
		start = time.Now()
		conn, err = d.Dial(context.Background(), "web.internal", 80)
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(start) != 2*time.Second {
			t.Errorf("silent destination accepted after %v, want the 2s ConfirmWait", time.Since(start))
		}
		conn.Close()
		start = time.Now()
		conn, err = d.Dial(context.Background(), "web.internal", 80)
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(start) != 0 {
			t.Errorf("known destination waited %v", time.Since(start))
		}
		conn.Close()
		for _, f := range o.opened {
			for len(f.peers) > 0 {
				(<-f.peers).Close()
			}
		}
	})
}
