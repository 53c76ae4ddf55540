package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

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
	srv := ssmtest.NewServer(opts)
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

// syncBuffer is a bytes.Buffer safe for a command writing while the test reads.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced at each Write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	return s.b.Write(p)
}

// waitFor waits until the buffer contains sub, failing the test after a timeout.
func (s *syncBuffer) waitFor(t testing.TB, sub string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		s.mu.Lock()
		if strings.Contains(s.b.String(), sub) {
			s.mu.Unlock()
			return
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("output never contained %q; got %q", sub, s.String())
		}
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
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
	var out, errb syncBuffer
	code := Main(ctx, append([]string{"--endpoint-url", h.srv.URL}, args...), h.env, stdin, &out, &errb)
	return result{code, out.String(), errb.String()}
}

// running is a Main call in progress, for the long-lived commands.
type running struct {
	cancel         context.CancelFunc
	done           chan int
	stdout, stderr *syncBuffer
}

// start runs Main in the background; stop (also a cleanup) cancels it and returns its exit code.
func (h *harness) start(t testing.TB, stdin io.Reader, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	r := &running{cancel: cancel, done: make(chan int, 1), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
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
	var out, errb syncBuffer
	code := Main(ctx, append([]string{"--endpoint-url", endpoint}, args...), h.env, strings.NewReader(""), &out, &errb)
	return result{code, out.String(), errb.String()}
}
