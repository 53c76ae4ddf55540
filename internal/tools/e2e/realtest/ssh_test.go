//go:build e2e

package realtest

import (
	"crypto/rand"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/tools/e2e"
)

// sshThroughSSM returns the ssh/scp options that reach the local sshd through
// an AWS-StartSSHSession session: the ProxyCommand is the AWS CLI, which runs
// our plugin in stdin/stdout mode. ssh substitutes %h (the instance ID) and
// %p (the sshd port) in it.
func sshThroughSSM(t *testing.T, a *e2e.AWS) (login string, args []string) {
	t.Helper()
	port, user, clientArgs := e2e.StartSSHD(t)
	proxy := a.CommandLine("ssm", "start-session",
		"--target", "%h",
		"--document-name", "AWS-StartSSHSession",
		"--parameters", "portNumber=%p")
	args = append(clientArgs,
		"-o", "ProxyCommand="+proxy,
		"-o", "Port="+strconv.Itoa(port),
		"-o", "User="+user,
		"-o", "ConnectTimeout=60",
	)
	return instanceID, args
}

func TestSSHThroughProxyCommand(t *testing.T) {
	t.Parallel()
	_, a := newAWS(t)
	host, args := sshThroughSSM(t, a)
	out := runOK(t, 60*time.Second, a.Env, "ssh", append(args, host, "echo ok; echo err >&2; uname -s")...)
	if !strings.Contains(out, "ok\n") || !strings.Contains(out, "err\n") || !strings.Contains(out, "Linux") {
		t.Fatalf("ssh through the session printed:\n%s", out)
	}
}

func TestSCPThroughProxyCommand(t *testing.T) {
	t.Parallel()
	_, a := newAWS(t)
	host, args := sshThroughSSM(t, a)

	dir := t.TempDir()
	src := filepath.Join(dir, "src.bin")
	data := make([]byte, 3<<20+12345) // several MiB, not a multiple of any chunk size
	rand.Read(data)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)

	// Upload through one session, download through another.
	remote := filepath.Join(dir, "remote.bin")
	runOK(t, 5*time.Minute, a.Env, "scp", append(args, src, host+":"+remote)...)
	got, err := os.ReadFile(remote)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != want {
		t.Fatalf("uploaded file differs: %d bytes, want %d", len(got), len(data))
	}

	back := filepath.Join(dir, "back.bin")
	runOK(t, 5*time.Minute, a.Env, "scp", append(args, host+":"+remote, back)...)
	got, err = os.ReadFile(back)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != want {
		i := 0
		for i < len(got) && i < len(data) && got[i] == data[i] {
			i++
		}
		t.Fatalf("downloaded file differs: %d bytes, want %d; first difference at %d", len(got), len(data), i)
	}
}
