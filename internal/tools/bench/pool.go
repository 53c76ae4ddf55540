package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/xtaci/smux"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/version"
	"github.com/ssmwire/ssmwire/pool"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// PoolMain runs `ssmbench pool`: N parallel downloads through an pool.Pool of N sessions against the
// emulator with the agent paced like the real one (1 KiB per message, 1 ms pause after each), for each N,
// next to one session's rate. The agent's pacing caps every session, so a pool should scale almost
// linearly until the machine's CPU runs out.
func PoolMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newSubcommand("ssmbench pool", stderr)
	fs := c.flags
	ns := fs.String("n", "1,2,4,8", "comma-separated pool sizes `N`: N downloads over N sessions each")
	size := sizeFlag(2 << 20)
	fs.Var(&size, "size", "bytes per download (each of the N)")
	pacing := fs.Bool("pacing", true, "agent paces like the real one (1 KiB per message, 1 ms sleep)")
	endpoint := fs.String("endpoint", "", "`URL` of an ssmtest running in another process (started without -no-pacing), instead of an emulator in this one")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (client and emulator) to `FILE`")
	if code, ok := c.parse(args); !ok {
		return code
	}
	sizes, ok := c.counts(*ns, 64)
	if !ok {
		return 2
	}
	stop, err := cpuProfile(*cpuprofile)
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	defer stop()
	c.header(stdout, "ssmbench pool -n %s -size %d -pacing=%v: N downloads of %s over a pool of N sessions, mux mode, against %s",
		*ns, int64(size), *pacing, mibText(int64(size)), emulatorText(*endpoint))
	fmt.Fprintf(stdout, "\n%4s %9s %12s %12s %10s %13s %14s\n", "N", "sessions", "pool MiB/s", "per session", "÷(N × N=1)", "ceiling MiB/s", "pool÷ceiling")
	var one float64
	failed := false
	for _, n := range sizes {
		r, err := poolRun(ctx, n, int64(size), *pacing, *endpoint)
		if err != nil {
			c.errorf("N=%d: %v", n, err)
			return 1
		}
		ceiling, err := ceilingRun(ctx, n, int64(size), *pacing, *endpoint)
		if err != nil {
			c.errorf("N=%d ceiling: %v", n, err)
			return 1
		}
		if one == 0 && n == 1 {
			one = r.rate
		}
		ratio, short := scaling(r.rate, one, n, 0.9)
		failed = failed || short
		fmt.Fprintf(stdout, "%4d %9d %12.2f %12.2f %10s %13.2f %14.2f\n", n, r.sessions, r.rate, r.rate/float64(n), ratio, ceiling, r.rate/ceiling)
	}
	c.footer(stdout)
	fmt.Fprintln(stdout, "ceiling: N raw relay clients (gorilla/websocket, the protocol codec and smux; no ssmwire session or")
	fmt.Fprintln(stdout, "portforward code) downloading the same bytes at once from the same emulator: what the emulated agents and")
	fmt.Fprintln(stdout, "this machine allow N sessions.")
	if failed {
		fmt.Fprintln(stdout, "goal not met (*): some N moved less than 0.9·N times one session's rate")
	} else if one > 0 {
		fmt.Fprintln(stdout, "goal met: every N moved at least 0.9·N times one session's rate")
	}
	return 0
}

// ceilingRun is poolRun with the ceiling relay (ceiling.go) instead of ssmwire: n sessions, one smux stream
// each, n downloads at once. It returns MiB/s.
func ceilingRun(ctx context.Context, n int, size int64, pacing bool, endpoint string) (float64, error) {
	e := &emulator{}
	if endpoint != "" {
		e.ssm = ssm.NewFromConfig(endpointConfig(endpoint, accessKeyID, secretAccessKey))
	} else {
		var err error
		if e, err = newEmulator(ModeMux, pacing, 0, false); err != nil {
			return 0, err
		}
		defer e.close()
	}
	d, err := newDest(destSource, size)
	if err != nil {
		return 0, err
	}
	defer d.close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	conns := make([]net.Conn, n)
	for i := range conns {
		s, err := e.startSession(ctx, d.port())
		if err != nil {
			return 0, err
		}
		defer func() { _ = e.terminate(context.WithoutCancel(ctx), s.ID) }()
		r, err := dialRelay(ctx, s, smuxFrame, version.Version)
		if err != nil {
			return 0, err
		}
		defer r.Close()
		cfg := smux.DefaultConfig()
		cfg.Version = 1
		cfg.KeepAliveDisabled = true
		sess, err := smux.Client(r, cfg)
		if err != nil {
			return 0, err
		}
		defer sess.Close()
		st, err := sess.OpenStream()
		if err != nil {
			return 0, err
		}
		defer st.Close()
		conns[i] = st
	}
	return downloadAll(conns, d, size)
}

// downloadAll triggers a download on every connection at once and returns the MiB/s of all of them together,
// from the first trigger to the last byte of the last one.
func downloadAll(conns []net.Conn, d *dest, size int64) (float64, error) {
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	begin := time.Now()
	for _, c := range conns {
		wg.Go(func() {
			_, err := download{size: size}.run(c, d, time.Now().Add(10*time.Minute))
			errs <- err
		})
	}
	wg.Wait()
	elapsed := time.Since(begin)
	close(errs)
	for err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return float64(size*int64(len(conns))) / (1 << 20) / elapsed.Seconds(), nil
}

type poolResult struct {
	rate     float64 // MiB/s, all downloads together
	sessions int
}

// poolRun opens n connections through a pool of n sessions (so their start is not timed), then triggers n
// downloads at once and times them until the last byte of the last one.
func poolRun(ctx context.Context, n int, size int64, pacing bool, endpoint string) (poolResult, error) {
	var api ssmwire.SSMAPI
	if endpoint != "" {
		api = ssm.NewFromConfig(endpointConfig(endpoint, accessKeyID, secretAccessKey))
	} else {
		e, err := newEmulator(ModeMux, pacing, 0, false)
		if err != nil {
			return poolResult{}, err
		}
		defer e.close()
		api = e.ssm
	}
	d, err := newDest(destSource, size)
	if err != nil {
		return poolResult{}, err
	}
	defer d.close()
	client, err := ssmwire.New(&ssmwire.Config{SSM: api})
	if err != nil {
		return poolResult{}, err
	}
	p, err := pool.New(client, ssmtest.DefaultInstanceID, ssmwire.Remote{Port: d.port()},
		&pool.Config{MaxSessions: n, StartRate: 1000, StartBurst: 1000})
	if err != nil {
		return poolResult{}, err
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	conns := make([]net.Conn, n)
	for i := range conns {
		if conns[i], err = p.Dial(ctx); err != nil {
			return poolResult{}, err
		}
		defer conns[i].Close()
	}
	res := poolResult{sessions: len(p.Sessions())}
	res.rate, err = downloadAll(conns, d, size)
	return res, err
}
