package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// IdleMain runs `ssmbench idle`: this process opens many port-forwarding sessions (ssmwire.Client.Forward,
// mux mode) against an emulator running in another process (cmd/ssmtest, so that the emulated agents'
// memory is not counted), lets them idle, and reports this process's memory and CPU per session.
func IdleMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newSubcommand("ssmbench idle", stderr)
	fs := c.flags
	endpoint := fs.String("endpoint", "", "`URL` of an ssmtest process (its SSMTEST_ENDPOINT line); required")
	n := fs.Int("sessions", 1000, "sessions to open")
	idle := fs.Duration("idle", time.Minute, "how long the sessions idle while CPU time is measured")
	parallel := fs.Int("parallel", 16, "sessions started at once")
	memprofile := fs.String("memprofile", "", "write a heap profile to `FILE` after the idle period")
	if code, ok := c.parse(args); !ok {
		return code
	}
	if *endpoint == "" || *n < 1 || *parallel < 1 {
		c.errorf("want -endpoint URL (start `ssmtest -no-pacing` first), -sessions ≥ 1, -parallel ≥ 1")
		return 2
	}
	if err := idleRun(ctx, stdout, *endpoint, *n, *idle, *parallel, *memprofile); err != nil {
		c.errorf("%v", err)
		return 1
	}
	return 0
}

// footprint is this process's memory at one moment, after a collection.
type footprint struct {
	rss, heap, stacks uint64 // bytes: VmRSS, heap in use, goroutine stacks
	goroutines        int
}

func measureFootprint() footprint {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return footprint{rss: vmRSS(), heap: ms.HeapInuse, stacks: ms.StackInuse, goroutines: runtime.NumGoroutine()}
}

// vmRSS reads VmRSS from /proc/self/status, in bytes (0 if unavailable).
func vmRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func idleRun(ctx context.Context, w io.Writer, endpoint string, n int, idle time.Duration, parallel int, memprofile string) error {
	api := ssm.NewFromConfig(endpointConfig(endpoint, accessKeyID, secretAccessKey))
	client, err := ssmwire.New(&ssmwire.Config{SSM: api})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // the destination; idle sessions never reach it
	if err != nil {
		return err
	}
	defer ln.Close()
	remote := ssmwire.Remote{Port: ln.Addr().(*net.TCPAddr).Port}

	fmt.Fprintf(w, "ssmbench idle -sessions %d -idle %v: port-forwarding sessions (mux) against ssmtest at %s\n", n, idle, endpoint)
	fmt.Fprintf(w, "machine: %s; load average %s\n", machineLine(), loadAverage())
	before := measureFootprint()
	tunnels := make([]*ssmwire.Tunnel, n)
	start := time.Now()
	err = forEach(n, parallel, func(i int) error {
		t, err := client.Forward(ctx, ssmtest.DefaultInstanceID, remote)
		tunnels[i] = t
		return err
	})
	defer forEach(n, parallel, func(i int) error {
		if tunnels[i] != nil {
			tunnels[i].Close()
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "opened %d sessions in %.1f s\n", n, time.Since(start).Seconds())
	open := measureFootprint()
	cpu0, t0 := cpuTime(), time.Now()
	select {
	case <-time.After(idle):
	case <-ctx.Done():
		return ctx.Err()
	}
	cpu := cpuTime() - cpu0
	wall := time.Since(t0)
	after := measureFootprint()
	if memprofile != "" {
		f, err := os.Create(memprofile)
		if err != nil {
			return err
		}
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	for i, t := range tunnels {
		select {
		case <-t.Done():
			return fmt.Errorf("session %d (%s) ended while idle", i, t.SessionID())
		default:
		}
	}
	per := func(a, b uint64) string {
		return fmt.Sprintf("%6.1f KiB", float64(int64(b)-int64(a))/float64(n)/1024)
	}
	fmt.Fprintf(w, "\n%-28s %12s %12s %12s  %s\n", "", "before", "open", "after idle", "per session (after idle − before)")
	fmt.Fprintf(w, "%-28s %9.1f MiB %9.1f MiB %9.1f MiB  %s\n", "RSS (VmRSS)", mb(before.rss), mb(open.rss), mb(after.rss), per(before.rss, after.rss))
	fmt.Fprintf(w, "%-28s %9.1f MiB %9.1f MiB %9.1f MiB  %s\n", "Go heap in use", mb(before.heap), mb(open.heap), mb(after.heap), per(before.heap, after.heap))
	fmt.Fprintf(w, "%-28s %9.1f MiB %9.1f MiB %9.1f MiB  %s\n", "goroutine stacks", mb(before.stacks), mb(open.stacks), mb(after.stacks), per(before.stacks, after.stacks))
	fmt.Fprintf(w, "%-28s %12d %12d %12d  %.1f\n", "goroutines", before.goroutines, open.goroutines, after.goroutines,
		float64(after.goroutines-before.goroutines)/float64(n))
	fmt.Fprintf(w, "CPU time while idle: %.3f s over %.1f s (%.2f%% of one core; %.1f µs per session per second)\n",
		cpu.Seconds(), wall.Seconds(), 100*cpu.Seconds()/wall.Seconds(), float64(cpu.Microseconds())/float64(n)/wall.Seconds())
	fmt.Fprintf(w, "load average at the end: %s\n", loadAverage())
	return nil
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// forEach runs fn(0..n-1) with at most parallel at once and returns the first error.
func forEach(n, parallel int, fn func(int) error) error {
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	var once sync.Once
	var first error
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				once.Do(func() { first = err })
			}
		})
	}
	wg.Wait()
	return first
}
