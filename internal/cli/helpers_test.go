package cli

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// harness is an ssmtest server and an environment that points ssmwire at it.
type harness struct {
	srv  *ssmtest.Server
	home string
	env  []string
}

func newHarness(t testing.TB, opts *ssmtest.Options) *harness {
	t.Helper()
	if opts == nil {
		opts = &ssmtest.Options{}
	}
	opts.NoPacing = true
	return harnessOn(t, ssmtest.NewServer(opts))
}

// harnessOn is a harness for srv, which it closes at cleanup: a fresh home directory, static credentials, a
// region and no instance metadata.
func harnessOn(t testing.TB, srv *ssmtest.Server) *harness {
	t.Cleanup(srv.Close)
	home := t.TempDir()
	return &harness{srv: srv, home: home, env: []string{
		"HOME=" + home,
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY=secret",
		"AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true",
	}}
}

// result is what one Main call produced.
type result struct {
	code           int
	stdout, stderr string
}

// run runs Main to completion with the harness's endpoint.
func (h *harness) run(t testing.TB, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errb testkit.Buffer
	code := Main(ctx, append([]string{"--endpoint-url", h.srv.URL}, args...), h.env, stdin, &out, &errb)
	return result{code, out.String(), errb.String()}
}

// running is a Main call in progress, for the long-lived commands.
type running struct {
	cancel         context.CancelFunc
	done           chan int
	stdout, stderr *testkit.Buffer
}

// start runs Main in the background; stop (also a cleanup) cancels it and returns its exit code.
func (h *harness) start(t testing.TB, stdin io.Reader, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	r := &running{cancel: cancel, done: make(chan int, 1), stdout: &testkit.Buffer{}, stderr: &testkit.Buffer{}}
	go func() {
		r.done <- Main(ctx, append([]string{"--endpoint-url", h.srv.URL}, args...), h.env, stdin, r.stdout, r.stderr)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t testing.TB) int {
	t.Helper()
	r.cancel()
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(20 * time.Second):
		t.Fatalf("command did not stop after cancel; stderr:\n%s", r.stderr.String())
		return -1
	}
}

// runAt is run with another endpoint than the harness's server.
func (h *harness) runAt(t testing.TB, endpoint string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb testkit.Buffer
	code := Main(ctx, append([]string{"--endpoint-url", endpoint}, args...), h.env, strings.NewReader(""), &out, &errb)
	return result{code, out.String(), errb.String()}
}
