//go:build e2e

package realtest

import (
	"bufio"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/internal/tools/e2e"
)

func TestAWSNonInteractiveCommand(t *testing.T) {
	t.Parallel()
	_, a := newAWS(t)
	out := runAWS(t, a, 60*time.Second, "ssm", "start-session",
		"--target", instanceID,
		"--document-name", "AWS-StartNonInteractiveCommand",
		"--parameters", `command="echo hello"`)
	if !strings.Contains(out, "hello\n") && !strings.Contains(out, "hello\r\n") {
		t.Fatalf("aws ssm start-session echo hello printed:\n%s", out)
	}
}

// TestStandaloneEmulator runs cmd/ssmtest as a separate program, reads its
// endpoint from stdout, and runs a command through it with the AWS CLI.
func TestStandaloneEmulator(t *testing.T) {
	t.Parallel()
	emu := exec.Command(e2e.BuildBinary(t, ssmtestPkg), "-tls")
	emu.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := emu.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testkit.Buffer
	emu.Stderr = &stderr
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- emu.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-emu.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-emu.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})

	endpoint := make(chan string, 1)
	var caBundle string // set before endpoint is sent
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "SSMTEST_CA_BUNDLE="); ok {
				caBundle = v
			}
			if v, ok := strings.CutPrefix(sc.Text(), "SSMTEST_ENDPOINT="); ok {
				endpoint <- v
			}
		}
	}()
	var url string
	select {
	case url = <-endpoint:
	case err := <-exited:
		t.Fatalf("ssmtest exited (%v) before printing SSMTEST_ENDPOINT\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("ssmtest printed no SSMTEST_ENDPOINT= line in 30s\n%s", stderr.String())
	}
	if !strings.HasPrefix(url, "https://127.0.0.1:") || caBundle == "" {
		t.Fatalf("SSMTEST_ENDPOINT=%s, SSMTEST_CA_BUNDLE=%s: want https://127.0.0.1:PORT and a CA file", url, caBundle)
	}

	a := awsCLI(t, url)
	a.Env = append(a.Env, "AWS_CA_BUNDLE="+caBundle)
	out := runAWS(t, a, 60*time.Second, "ssm", "start-session",
		"--target", instanceID,
		"--document-name", "AWS-StartNonInteractiveCommand",
		"--parameters", `command="echo standalone"`)
	if !strings.Contains(out, "standalone") {
		t.Fatalf("aws ssm start-session through cmd/ssmtest printed:\n%s", out)
	}
}
