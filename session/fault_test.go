package session_test

import (
	"crypto/sha256"
	"flag"
	"io"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/portforward"
	"github.com/ssmwire/ssmwire/session"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// faultSize is how many bytes go each way through the faulty link. CI runs 64 MiB; the full check of the
// reliability promise is
//
//	go test ./session -run TestFaultyLink -fault.size=1073741824 -fault.kill=67108864 -timeout 60m
var (
	faultSize = flag.Int64("fault.size", 64<<20, "bytes sent each way by TestFaultyLinkLosesNothing")
	faultKill = flag.Int64("fault.kill", 16<<20, "bytes of stream data relayed (both ways) between websocket kills in TestFaultyLinkLosesNothing")
)

// prng is a reproducible byte stream, so gigabytes can be checked without holding them.
type prng struct{ r *rand.ChaCha8 }

func (p prng) Read(b []byte) (int, error) { return p.r.Read(b) }

func TestFaultyLinkLosesNothing(t *testing.T) {
	size := *faultSize
	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true, FaultSeed: 7})
	t.Cleanup(srv.Close)
	port := testkit.EchoServer(t)
	s := start(t, srv, "AWS-StartPortForwardingSession", map[string][]string{"portNumber": {strconv.Itoa(port)}})
	ctx := t.Context()
	if _, err := s.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	f := srv.Faults()
	link := ssmtest.LinkFaults{Drop: 0.01, Duplicate: 0.01, Reorder: 0.01}
	f.Set(ssmtest.ToAgent, link)
	f.Set(ssmtest.ToClient, link)
	killEvery := *faultKill
	f.KillEvery.Store(killEvery)

	// Through a mux port forward, as a user's connection would go: one smux stream of portforward.
	fw, err := portforward.New(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	if fw.Mode() != portforward.ModeMux {
		t.Fatalf("mode %v, want mux", fw.Mode())
	}
	st, err := fw.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The writer stays at most 1 MiB ahead of the echo it has read back, as an interactive protocol would.
	// Without that bound megabytes sit in socket buffers when a websocket is killed, and the emulated
	// agent, like the real one, recovers lost messages one per 100 ms tick.
	const ahead = 1 << 20
	var readBack atomic.Int64
	progress := make(chan struct{}, 1)
	sent := sha256.New()
	writeErr := make(chan error, 1)
	go func() {
		src := io.TeeReader(io.LimitReader(prng{rand.NewChaCha8([32]byte{1})}, size), sent)
		buf := make([]byte, 32<<10)
		var written int64
		for {
			for written-readBack.Load() > ahead {
				select {
				case <-progress:
				case <-s.Done():
					writeErr <- s.Err()
					return
				}
			}
			n, err := src.Read(buf)
			if n > 0 {
				if _, werr := st.Write(buf[:n]); werr != nil {
					writeErr <- werr
					return
				}
				written += int64(n)
			}
			if err == io.EOF {
				writeErr <- nil
				return
			}
		}
	}()
	got := sha256.New()
	st.SetReadDeadline(time.Now().Add(10 * time.Minute))
	start := time.Now()
	buf := make([]byte, 32<<10)
	var n int64
	for n < size {
		k, err := st.Read(buf[:min(int64(len(buf)), size-n)])
		got.Write(buf[:k])
		n += int64(k)
		readBack.Store(n)
		select {
		case progress <- struct{}{}:
		default:
		}
		if err != nil {
			t.Fatalf("echoed %d of %d bytes: %v (session err %v)", n, size, err, s.Err())
		}
	}
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
	if string(got.Sum(nil)) != string(sent.Sum(nil)) {
		t.Fatal("SHA-256 of the echoed stream differs from what was sent")
	}
	info := srv.Session(s.ID())
	cs := s.Stats()
	fs := info.Stats.Faults
	t.Logf("moved %d MiB each way in %v; faults: to-agent %+v, to-client %+v, kills %d; client resumes %d, resends %d, duplicates received %d; agent resends %d, duplicates %d; bytes lost 0",
		size>>20, time.Since(start).Round(time.Millisecond), fs.ToAgent, fs.ToClient, fs.Kills, cs.Resumes, cs.Resent,
		cs.DuplicatesReceived, info.Agent.Resends, info.Agent.DuplicatesIn)
	wantKills := uint64(2 * size / killEvery)
	if fs.Kills+1 < wantKills || cs.Resumes < fs.Kills {
		t.Fatalf("kills %d (want about %d), resumes %d: every kill must be resumed", fs.Kills, wantKills, cs.Resumes)
	}
	if fs.ToAgent.Dropped == 0 || fs.ToClient.Dropped == 0 || fs.ToAgent.Duplicated == 0 || fs.ToClient.Reordered == 0 {
		t.Fatalf("the faults did not happen: %+v", fs)
	}
	var _ session.Stats = cs
}
