//go:build e2e

package realtest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/internal/tools/e2e"
	"github.com/ssmwire/ssmwire/ssmtest"
)

func TestMain(m *testing.M) { os.Exit(e2e.Run(m)) }

// Packages built for the tests.
const (
	pluginPkg  = "./cmd/session-manager-plugin"
	ssmtestPkg = "./cmd/ssmtest"
)

// instanceID is the managed instance every emulator knows.
const instanceID = ssmtest.DefaultInstanceID

// fakeAWSEnv is the environment of one of our binaries run against an emulator: a fresh HOME, the test's
// PATH, the fake credentials and region and no instance metadata, then extra.
func fakeAWSEnv(t *testing.T, extra ...string) []string {
	return append([]string{
		"HOME=" + t.TempDir(),
		"PATH=" + os.Getenv("PATH"),
		"AWS_ACCESS_KEY_ID=" + e2e.FakeAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + e2e.FakeSecretAccessKey,
		"AWS_REGION=" + e2e.FakeRegion,
		"AWS_EC2_METADATA_DISABLED=true",
	}, extra...)
}

// pluginEnv names an environment variable that, when set, is the path of a
// session-manager-plugin to test instead of ours; running the same tests
// against AWS's own plugin shows whether a failure is the plugin's or the
// emulator's.
const pluginEnv = "SSMWIRE_E2E_PLUGIN"

// installedEnv names an environment variable that, when set, is the path of
// a session-manager-plugin installed on this machine by a package
// (scripts/test-packages sets it after dpkg -i): the tests then run the
// session-manager-plugin found on PATH, as a user's AWS CLI does, and fail
// unless it is that installed file. It overrides pluginEnv.
const installedEnv = "SSMWIRE_E2E_INSTALLED_PLUGIN"

// logEnv names an environment variable that, when set, sends the emulator's
// debug log to the test output.
const logEnv = "SSMWIRE_E2E_LOG"

// plugin returns the session-manager-plugin under test.
func plugin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(pluginEnv); p != "" {
		return p
	}
	return e2e.BuildBinary(t, pluginPkg)
}

// newAWS starts an in-process emulator serving TLS and returns the AWS CLI aimed at it, with the plugin
// under test on PATH and the emulator's CA in AWS_CA_BUNDLE.
func newAWS(t *testing.T) (*ssmtest.Server, *e2e.AWS) {
	t.Helper()
	// The emulator knows the CLI's fake keys, so it verifies every signature in full: the CLI's API calls
	// and the plugin's signed data-channel upgrades (docs/protocol.md §3.5).
	opts := ssmtest.Options{Credentials: map[string]string{e2e.FakeAccessKeyID: e2e.FakeSecretAccessKey}}
	if os.Getenv(logEnv) != "" {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// Over TLS, as every real session: the CA is handed over as a user would, in AWS_CA_BUNDLE, which the
	// AWS CLI and our plugin honour (AWS's plugin does not).
	srv := ssmtest.NewTLSServer(&opts)
	t.Cleanup(srv.Close)
	a := awsCLI(t, srv.URL)
	a.Env = append(a.Env, "AWS_CA_BUNDLE="+srv.CAFile())
	return srv, a
}

// awsCLI returns the AWS CLI aimed at endpoint, running the plugin under test: the installed one
// (installedEnv), else the one pluginEnv names, else ours, built for the test.
func awsCLI(t *testing.T, endpoint string) *e2e.AWS {
	t.Helper()
	if p := os.Getenv(installedEnv); p != "" {
		return e2e.AWSCLIInstalled(t, endpoint, p)
	}
	return e2e.AWSCLI(t, endpoint, plugin(t))
}

// proc is a program running in the background in its own process group,
// as a shell runs a foreground job, so that a "Ctrl-C" (SIGINT to the group)
// reaches both aws and the plugin it started.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout testkit.Buffer
	stderr testkit.Buffer
	done   chan struct{}
	err    error
}

// start runs cmd with a stdin pipe that stays open (as a terminal's would)
// until the test ends or closeStdin is called. Cleanup kills the group.
func start(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{t: t, cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = &p.stdout
	cmd.Stderr = &p.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		p.stdin.Close()
	})
	return p
}

// interrupt sends SIGINT to the process group, as Ctrl-C at a terminal does.
func (p *proc) interrupt() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT)
}

// wait waits for the process to exit and returns its error; after timeout it
// fails the test with the output so far.
func (p *proc) wait(timeout time.Duration) error {
	p.t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.t.Fatalf("%s still running after %v\nstdout:\n%s\nstderr:\n%s", p.cmd.Path, timeout, p.stdout.String(), p.stderr.String())
		return nil
	}
}

// waitOutput polls stdout until it contains substr; it fails the test if the
// process exits first or after timeout.
func (p *proc) waitOutput(substr string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(p.stdout.String(), substr) {
		select {
		case <-p.done:
			if strings.Contains(p.stdout.String(), substr) {
				return
			}
			p.t.Fatalf("%s exited (%v) before printing %q\nstdout:\n%s\nstderr:\n%s", p.cmd.Path, p.err, substr, p.stdout.String(), p.stderr.String())
		case <-deadline.C:
			p.t.Fatalf("%s did not print %q in %v\nstdout:\n%s\nstderr:\n%s", p.cmd.Path, substr, timeout, p.stdout.String(), p.stderr.String())
		case <-tick.C:
		}
	}
}

// runAWS runs aws to completion with an open stdin and returns its stdout,
// failing the test if it does not exit 0 within timeout.
func runAWS(t *testing.T, a *e2e.AWS, timeout time.Duration, args ...string) string {
	t.Helper()
	p := start(t, a.Command(args...))
	if err := p.wait(timeout); err != nil {
		t.Fatalf("aws %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, p.stdout.String(), p.stderr.String())
	}
	return p.stdout.String()
}

// runOK runs a client program and returns its combined output, failing the
// test on a non-zero exit or after timeout.
func runOK(t *testing.T, timeout time.Duration, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e2e.RequireProgram(t, name), args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v (ctx %v)\n%s", name, strings.Join(args, " "), err, ctx.Err(), out)
	}
	return string(out)
}
