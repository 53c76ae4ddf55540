//go:build e2e

package realtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"

	"github.com/ssmwire/ssmwire/instanceconnect"
	"github.com/ssmwire/ssmwire/internal/tools/e2e"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// eicSetup is an emulator whose clock the test moves, a real sshd that takes only the keys pushed to the
// emulator with SendSSHPublicKey (its AuthorizedKeysCommand asks the emulator, as an instance asks its
// metadata service), and the ssmwire command with an environment holding no SSH key at all.
type eicSetup struct {
	srv     *ssmtest.Server
	skew    *atomic.Int64 // nanoseconds added to the emulator's clock
	port    int
	login   string
	sshArgs []string // options for ssh and scp: no config, no known hosts, batch mode; no identity
	ssmwire string
	home    string
	tmp     string // TMPDIR of ssmwire
	env     []string
}

func newEICSetup(t *testing.T, opts ssmtest.Options) *eicSetup {
	t.Helper()
	s := &eicSetup{skew: new(atomic.Int64)}
	opts.Now = func() time.Time { return time.Now().Add(time.Duration(s.skew.Load())) }
	// Over TLS, as every real session; the instance's "metadata service" (the emulator) is asked over it too.
	s.srv = ssmtest.NewTLSServer(&opts)
	t.Cleanup(s.srv.Close)
	curl := e2e.RequireProgram(t, "curl")
	s.port, s.login, s.sshArgs = e2e.StartSSHDWith(t, e2e.SSHDOptions{
		AuthorizedKeysCommand: curl + " -sf --cacert " + s.srv.CAFile() + " " + s.srv.InstanceConnectURL(instanceID, "%u"),
	})
	s.ssmwire = e2e.BuildBinary(t, ssmwirePkg)
	s.home, s.tmp = t.TempDir(), t.TempDir()
	s.env = []string{
		"HOME=" + s.home,
		"TMPDIR=" + s.tmp,
		"PATH=" + os.Getenv("PATH"),
		"AWS_ACCESS_KEY_ID=" + e2e.FakeAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + e2e.FakeSecretAccessKey,
		"AWS_REGION=" + e2e.FakeRegion,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CA_BUNDLE=" + s.srv.CAFile(),
	}
	return s
}

// proxyCommand is ssh-proxy of the ssmwire under test aimed at the emulator, with extra flags.
func (s *eicSetup) proxyCommand(flags ...string) string {
	return strings.Join(append([]string{s.ssmwire, "--endpoint-url", s.srv.URL, "ssh-proxy"}, flags...), " ") + " %h %p"
}

// TestSSHWithInstanceConnect: `ssmwire ssh` logs in to an sshd that knows no key but those pushed with
// EC2 Instance Connect, from a HOME with no SSH key, runs a command, and leaves no key file behind.
func TestSSHWithInstanceConnect(t *testing.T) {
	t.Parallel()
	s := newEICSetup(t, ssmtest.Options{})
	args := append([]string{"--endpoint-url", s.srv.URL, "ssh", s.login + "@" + ssmtest.DefaultInstanceName,
		"-p", strconv.Itoa(s.port)}, s.sshArgs...)
	out := runOK(t, 60*time.Second, s.env, s.ssmwire, append(args, "echo logged-in-as-$(id -un)")...)
	if !strings.Contains(out, "logged-in-as-"+s.login+"\n") {
		t.Fatalf("ssmwire ssh printed:\n%s", out)
	}
	if keys := s.srv.InstanceConnectKeys(instanceID, s.login); len(keys) != 1 || !strings.HasPrefix(keys[0], "ssh-ed25519 ") {
		t.Errorf("keys pushed: %q", keys)
	}
	if left, _ := os.ReadDir(s.tmp); len(left) != 0 {
		t.Errorf("ssmwire ssh left %d entries in its temporary directory: %v", len(left), left)
	}
	if _, err := os.Stat(filepath.Join(s.home, ".ssh")); err == nil {
		t.Errorf("ssmwire ssh wrote to ~/.ssh")
	}
	// The remote command's exit status is ssmwire's.
	code, _ := runFail(t, 60*time.Second, s.env, s.ssmwire, append(args, "exit 7")...)
	if code != 7 {
		t.Errorf("exit status %d, want the remote command's 7", code)
	}
}

// TestSCPWithSendKey: scp with ProxyCommand `ssmwire ssh-proxy --send-key --user %r %h %p` copies a file
// both ways with the user's own key, which no authorized_keys holds.
func TestSCPWithSendKey(t *testing.T) {
	t.Parallel()
	s := newEICSetup(t, ssmtest.Options{})
	keyFile := filepath.Join(s.home, ".ssh", "id_ed25519")
	os.MkdirAll(filepath.Dir(keyFile), 0o700)
	if out, err := exec.Command(e2e.RequireProgram(t, "ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-f", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	args := append(append([]string{}, s.sshArgs...), "-i", keyFile, "-o", "IdentitiesOnly=yes",
		"-o", "ProxyCommand="+s.proxyCommand("--send-key", "--user", "%r"),
		"-o", "Port="+strconv.Itoa(s.port), "-o", "User="+s.login)

	dir := t.TempDir()
	data := make([]byte, 1<<20+777)
	rand.Read(data)
	src := filepath.Join(dir, "src.bin")
	os.WriteFile(src, data, 0o600)
	remote := filepath.Join(dir, "remote.bin")
	runOK(t, 2*time.Minute, s.env, "scp", append(args, src, instanceID+":"+remote)...)
	if got, _ := os.ReadFile(remote); !bytes.Equal(got, data) {
		t.Fatalf("uploaded file differs: %d bytes, want %d", len(got), len(data))
	}
	back := filepath.Join(dir, "back.bin")
	runOK(t, 2*time.Minute, s.env, "scp", append(args, instanceID+":"+remote, back)...)
	if got, _ := os.ReadFile(back); !bytes.Equal(got, data) {
		t.Fatalf("downloaded file differs: %d bytes, want %d", len(got), len(data))
	}
	pub, _ := os.ReadFile(keyFile + ".pub")
	keys := s.srv.InstanceConnectKeys(instanceID, s.login)
	if len(keys) != 2 || !strings.HasPrefix(string(pub), keys[0]) {
		t.Errorf("keys pushed: %q, want the user's key twice", keys)
	}
}

// TestSSHRefusesExpiredKey: a key pushed 61 seconds ago no longer logs in; the same key pushed again does.
func TestSSHRefusesExpiredKey(t *testing.T) {
	t.Parallel()
	s := newEICSetup(t, ssmtest.Options{})
	kp, err := instanceconnect.NewKeyPair("")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "id")
	os.WriteFile(keyFile, kp.PrivateKeyPEM, 0o600)
	eic := ec2instanceconnect.NewFromConfig(s.srv.AWSConfig())
	if err := instanceconnect.SendKey(context.Background(), eic, instanceID, s.login, kp.PublicKey); err != nil {
		t.Fatal(err)
	}
	s.skew.Add(int64(61 * time.Second))
	args := append(append([]string{}, s.sshArgs...), "-i", keyFile, "-o", "IdentitiesOnly=yes",
		"-o", "ProxyCommand="+s.proxyCommand(), "-p", strconv.Itoa(s.port), s.login+"@"+instanceID, "echo in")
	code, out := runFail(t, 60*time.Second, s.env, "ssh", args...)
	if code != 255 || !strings.Contains(out, "Permission denied") {
		t.Fatalf("ssh with a key pushed 61 s ago: exit %d\n%s", code, out)
	}
	if err := instanceconnect.SendKey(context.Background(), eic, instanceID, s.login, kp.PublicKey); err != nil {
		t.Fatal(err)
	}
	if out := runOK(t, 60*time.Second, s.env, "ssh", args...); out != "in\n" {
		t.Fatalf("ssh with the key pushed again printed %q", out)
	}
}

// TestSSHWithReason: on a node that needs just-in-time access, `ssmwire ssh --reason` requests it, waits
// for the approval, and the ssh-proxy it runs starts the session with the approved credentials.
func TestSSHWithReason(t *testing.T) {
	t.Parallel()
	s := newEICSetup(t, ssmtest.Options{
		Instances: []ssmtest.Instance{{ID: instanceID, Name: ssmtest.DefaultInstanceName, AccessRequired: true}},
		AccessDecision: func(r ssmtest.AccessRequest) string {
			if r.Polls >= 2 { // pending at the first poll, approved at the second
				return ssmtest.AccessApproved
			}
			return ssmtest.AccessPending
		},
	})
	args := append([]string{"--endpoint-url", s.srv.URL, "ssh", "--reason", "INC-42", s.login + "@" + instanceID,
		"-p", strconv.Itoa(s.port)}, s.sshArgs...)
	code, out := runFail(t, 60*time.Second, s.env, s.ssmwire, append([]string{"--endpoint-url", s.srv.URL, "ssh", s.login + "@" + instanceID, "-p", strconv.Itoa(s.port)}, append(s.sshArgs, "true")...)...)
	if code != 255 || !strings.Contains(out, "--reason") {
		t.Errorf("ssh without --reason: exit %d\n%s", code, out)
	}
	out = runOK(t, 60*time.Second, s.env, s.ssmwire, append(args, "echo approved-session")...)
	reqs := s.srv.AccessRequests()
	if !strings.Contains(out, "approved-session\n") || len(reqs) != 1 || reqs[0].Reason != "INC-42" {
		t.Fatalf("ssmwire ssh --reason printed:\n%s\nrequests %+v", out, reqs)
	}
	if !strings.Contains(out, "waiting for approval of access request "+reqs[0].ID) {
		t.Errorf("no waiting line:\n%s", out)
	}
}
