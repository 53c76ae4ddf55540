package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// EnvResponse is the environment variable the AWS CLI puts the StartSession response in (docs/protocol.md §7.1).
const EnvResponse = "AWS_SSM_START_SESSION_RESPONSE"

var portOpened = regexp.MustCompile(`Port (\d+) opened`)

// ParsePortOpened finds the "Port N opened" announcement in a plugin's output and returns N.
func ParsePortOpened(out []byte) (int, bool) {
	m := portOpened.FindSubmatch(out)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(string(m[1]))
	if err != nil || n <= 0 || n > 65535 {
		return 0, false
	}
	return n, true
}

// portWatcher is the plugin's stdout: it keeps the output (bounded) and notices the port announcement as
// soon as the bytes arrive, even without a newline (the mux mode of AWS's plugin prints none).
type portWatcher struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	port  int
	at    time.Time
	found chan struct{}
}

const keepOutput = 64 << 10

func newPortWatcher() *portWatcher { return &portWatcher{found: make(chan struct{})} }

func (w *portWatcher) Write(p []byte) (int, error) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() < keepOutput {
		w.buf.Write(p[:min(len(p), keepOutput-w.buf.Len())])
	}
	if w.port == 0 {
		if n, ok := ParsePortOpened(w.buf.Bytes()); ok {
			w.port, w.at = n, now
			close(w.found)
		}
	}
	return len(p), nil
}

func (w *portWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// tailBuffer keeps the last bytes written to it (a plugin's stderr).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > keepOutput {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-keepOutput:]...)
	}
	t.mu.Unlock()
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// PluginArgs returns the argv (without argv[0]) and the extra environment the AWS CLI gives a plugin for
// the session s against endpoint (docs/protocol.md §7.1, internal/tools/e2e/AWSCLI.md).
func PluginArgs(s *started, endpoint string, form Form) (args, env []string, err error) {
	resp := map[string]any{"SessionId": s.ID, "TokenValue": s.Token, "StreamUrl": s.StreamURL}
	var first string
	switch form {
	case FormEnv:
		b, err := json.Marshal(resp)
		if err != nil {
			return nil, nil, err
		}
		first = EnvResponse
		env = append(env, EnvResponse+"="+string(b))
	default:
		// botocore's whole response, ResponseMetadata included, as `aws ssm start-session` passes it.
		resp["ResponseMetadata"] = map[string]any{"HTTPStatusCode": 200, "HTTPHeaders": map[string]string{}, "RetryAttempts": 0}
		b, err := json.Marshal(resp)
		if err != nil {
			return nil, nil, err
		}
		first = string(b)
	}
	env = append(env,
		"AWS_ACCESS_KEY_ID="+accessKeyID,
		"AWS_SECRET_ACCESS_KEY="+secretAccessKey,
		"AWS_REGION="+region,
		"AWS_DEFAULT_REGION="+region,
	)
	if s.CAFile != "" {
		// Ours takes the CA as a user gives it to the AWS CLI; AWS's plugin ignores that and reads only Go's
		// own variable (docs/protocol.md §3.6).
		env = append(env, "AWS_CA_BUNDLE="+s.CAFile, "SSL_CERT_FILE="+s.CAFile)
	}
	return []string{first, region, "StartSession", "", string(s.Params), endpoint}, env, nil
}

// procStats is what one plugin process cost.
type procStats struct {
	Ready    time.Duration // exec → "Port N opened" on stdout
	CPU      time.Duration // user + system time of the child
	MaxRSS   int64         // peak resident set (VmHWM at the end of the transfer), bytes
	ReadyRSS int64         // VmHWM when the port was announced, before any transfer, bytes
	Parts    rssParts      // the resident set at the end of the transfer, by kind of mapping (smaps)
	Exit     string        // how it ended: "exit 0", "exit status 1", "killed after SIGINT", …
}

// procWait bounds how long a plugin may take to exit after its session was terminated.
const procWait = 10 * time.Second

// throughPlugin runs one transfer through plugin p: it starts a session to a fresh destination, runs the
// plugin as the AWS CLI does, waits for its port, runs t through that port, terminates the session and
// collects the process's rusage and the emulator's view of the session.
func throughPlugin(ctx context.Context, e *emulator, p Plugin, form Form, t transfer, size int64, timeout time.Duration) (measured, procStats, sessionStats, error) {
	var ps procStats
	d, err := newDest(t.kind(), size)
	if err != nil {
		return measured{}, ps, sessionStats{}, err
	}
	defer d.close()
	s, err := e.startSession(ctx, d.port())
	if err != nil {
		return measured{}, ps, sessionStats{}, err
	}
	args, env, err := PluginArgs(s, e.endpoint(), form)
	if err != nil {
		return measured{}, ps, sessionStats{}, err
	}
	cmd := exec.Command(p.Path, args...)
	cmd.Env = append(append(os.Environ(), env...), p.Env...)
	out := newPortWatcher()
	errOut := &tailBuffer{}
	cmd.Stdout, cmd.Stderr = out, errOut
	exited := make(chan error, 1)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		_ = e.terminate(ctx, s.ID)
		return measured{}, ps, sessionStats{}, err
	}
	go func() { exited <- cmd.Wait() }()

	m, runErr := func() (measured, error) {
		deadline := start.Add(timeout)
		timer := time.NewTimer(min(timeout, 60*time.Second))
		defer timer.Stop()
		select {
		case <-out.found:
		case err := <-exited:
			exited <- err
			return measured{}, fmt.Errorf("plugin exited before opening a port (%v)", err)
		case <-timer.C:
			return measured{}, errors.New("plugin did not print \"Port N opened\" within 60 s")
		case <-ctx.Done():
			return measured{}, ctx.Err()
		}
		ps.Ready = out.at.Sub(start)
		ps.ReadyRSS = peakRSS(cmd.Process.Pid)
		c, err := net.DialTimeout("tcp", net.JoinHostPort("localhost", strconv.Itoa(out.port)), 10*time.Second)
		if err != nil {
			return measured{}, err
		}
		defer c.Close()
		m, err := t.run(c, d, deadline)
		ps.MaxRSS = peakRSS(cmd.Process.Pid)
		ps.Parts = readRSSParts(cmd.Process.Pid)
		return m, err
	}()

	// End the session as a user's tool would: the service's TerminateSession, then channel_closed makes
	// the plugin exit. A plugin that does not is interrupted, then killed.
	termErr := e.terminate(context.WithoutCancel(ctx), s.ID)
	ps.Exit = stopProcess(cmd, exited)
	if runErr == nil && termErr != nil {
		runErr = fmt.Errorf("TerminateSession: %w", termErr)
	}
	select {
	case <-e.sessionDone(s.ID):
	case <-time.After(procWait):
	}
	if st := cmd.ProcessState; st != nil {
		ps.CPU = processCPU(st)
	}
	if runErr != nil {
		runErr = fmt.Errorf("%s: %w%s", p.Name, runErr, outputNote(out.String(), errOut.String()))
	}
	return m, ps, e.stats(s.ID), runErr
}

// peakRSS reads the process's resident high-water mark (VmHWM) from /proc while it still runs, or 0.
//
// The child's rusage Maxrss is useless here: os/exec starts children with vfork semantics, and Linux
// carries the parent's high-water mark (this process, with the emulator in it) into the child's at exec.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	return parseVmHWM(b)
}

// parseVmHWM returns the VmHWM line of a /proc/<pid>/status in bytes, or 0.
func parseVmHWM(status []byte) int64 {
	for _, line := range bytes.Split(status, []byte("\n")) {
		v, ok := bytes.CutPrefix(line, []byte("VmHWM:"))
		if !ok {
			continue
		}
		f := bytes.Fields(v)
		if len(f) == 0 {
			return 0
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0
		}
		if len(f) > 1 && string(f[1]) == "kB" {
			n *= 1024
		}
		return n
	}
	return 0
}

// stopProcess waits for the plugin to exit after its session ended, interrupting and then killing it if
// it does not.
func stopProcess(cmd *exec.Cmd, exited chan error) string {
	describe := func(err error, how string) string {
		s := "exit 0"
		if err != nil {
			s = err.Error()
		}
		return s + how
	}
	select {
	case err := <-exited:
		return describe(err, "")
	case <-time.After(procWait):
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-exited:
		return describe(err, " after SIGINT (did not exit on channel_closed)")
	case <-time.After(5 * time.Second):
	}
	_ = cmd.Process.Kill()
	return describe(<-exited, " after SIGKILL (did not exit on channel_closed or SIGINT)")
}

func outputNote(stdout, stderr string) string {
	const max = 600
	trim := func(s string) string {
		if len(s) > max {
			return "…" + s[len(s)-max:]
		}
		return s
	}
	return fmt.Sprintf("\n\tstdout: %q\n\tstderr: %q", trim(stdout), trim(stderr))
}
