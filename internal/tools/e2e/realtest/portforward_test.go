//go:build e2e

package realtest

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/tools/e2e"
)

// forward runs `aws ssm start-session` with AWS-StartPortForwardingSession
// from a free local port to remotePort, waits until the plugin reports the
// port open, and returns the local port and the running aws. The session is
// ended with Ctrl-C when the test ends, and must then exit 0.
func forward(t *testing.T, a *e2e.AWS, remotePort int) int {
	t.Helper()
	local := e2e.FreePort(t)
	p := start(t, a.Command("ssm", "start-session",
		"--target", instanceID,
		"--document-name", "AWS-StartPortForwardingSession",
		"--parameters", fmt.Sprintf("portNumber=%d,localPortNumber=%d", remotePort, local)))
	p.waitOutput(fmt.Sprintf("Port %d opened", local), 60*time.Second)
	t.Cleanup(func() {
		p.interrupt()
		if err := p.wait(30 * time.Second); err != nil {
			t.Errorf("aws port forwarding session after Ctrl-C: %v\nstdout:\n%s\nstderr:\n%s", err, p.stdout.String(), p.stderr.String())
		}
	})
	return local
}

func TestPortForwardingRedis(t *testing.T) {
	t.Parallel()
	_, a := newAWS(t)
	redisPort := e2e.StartRedis(t)
	local := forward(t, a, redisPort)

	if out := strings.TrimSpace(runOK(t, 30*time.Second, nil, "redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(local), "ping")); out != "PONG" {
		t.Fatalf("redis-cli ping through the forward printed %q", out)
	}
	// Several connections at once, each with its own key, through the
	// one session.
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for i := range 8 {
		wg.Go(func() {
			key, val := fmt.Sprintf("k%d", i), strings.Repeat(strconv.Itoa(i), 5000)
			if _, err := redisCLI(local, "set", key, val); err != nil {
				errs <- err.Error()
				return
			}
			got, err := redisCLI(local, "get", key)
			if err != nil || got != val {
				errs <- fmt.Sprintf("get %s: %v (%d bytes, want %d)", key, err, len(got), len(val))
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestPortForwardingPostgres(t *testing.T) {
	t.Parallel()
	_, a := newAWS(t)
	pgPort, conn := e2e.StartPostgres(t)
	local := forward(t, a, pgPort)

	psql := func(port int, query string) string {
		args := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}, conn...)
		return strings.TrimSpace(runOK(t, 60*time.Second, nil, "psql", append(args, "-At", "-c", query)...))
	}
	if got := psql(local, "select 40+2"); got != "42" {
		t.Fatalf("psql select 40+2 through the forward printed %q", got)
	}
	// A result of a few hundred KiB, compared with the same query made
	// directly.
	const big = "select string_agg(md5(i::text), ',') from generate_series(1, 10000) i"
	want := psql(pgPort, big)
	if got := psql(local, big); got != want {
		t.Fatalf("big result through the forward differs: %d bytes, want %d", len(got), len(want))
	}
}

// redisCLI runs redis-cli against 127.0.0.1:port; it may run off the test
// goroutine.
func redisCLI(port int, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("redis-cli %s: %v: %s", args[0], err, out)
	}
	return strings.TrimRight(string(out), "\n"), nil
}
