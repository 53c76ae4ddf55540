package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/ssmwire/ssmwire/instanceconnect"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// writeKey writes a fresh ed25519 public key as ~/.ssh/NAME in h's HOME and returns its line.
func writeKey(t *testing.T, h *harness, name string) string {
	t.Helper()
	kp, err := instanceconnect.NewKeyPair("me@laptop")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(h.home, ".ssh")
	os.MkdirAll(dir, 0o700)
	if err := os.WriteFile(filepath.Join(dir, name), append(kp.PublicKey, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	line, _ := instanceconnect.CheckKey(kp.PublicKey)
	return line
}

func TestSSHProxySendKey(t *testing.T) {
	h := newHarness(t, nil)
	port := echoServer(t, "sshd")
	// Without id_ed25519.pub, id_rsa.pub is the default; an ed25519 key under that name is fine for the test.
	key := writeKey(t, h, "id_rsa.pub")
	r := h.run(t, nil, "ssh-proxy", "--send-key", "--user", "ubuntu", "ssmtest", fmt.Sprint(port))
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := h.srv.InstanceConnectKeys(ssmtest.DefaultInstanceID, "ubuntu"); len(got) != 1 || got[0] != key {
		t.Fatalf("pushed keys %q, want %q", got, key)
	}
	ed := writeKey(t, h, "id_ed25519.pub")
	if r := h.run(t, nil, "ssh-proxy", "--send-key", "--user", "ubuntu", ssmtest.DefaultInstanceID, fmt.Sprint(port)); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := h.srv.InstanceConnectKeys(ssmtest.DefaultInstanceID, "ubuntu"); len(got) != 2 || got[1] != ed {
		t.Fatalf("id_ed25519.pub is not preferred: pushed %q", got)
	}
	if len(h.srv.SessionIDs()) != 2 {
		t.Fatalf("sessions %v", h.srv.SessionIDs())
	}
}

func TestSSHProxySendKeyErrors(t *testing.T) {
	h := newHarness(t, nil)
	port := fmt.Sprint(echoServer(t, "sshd"))
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, _ := ssh.NewSignerFromKey(ec)
	ecFile := filepath.Join(h.home, "ec.pub")
	os.WriteFile(ecFile, ssh.MarshalAuthorizedKey(s.PublicKey()), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no user", []string{"--send-key", "ssmtest", port}, ExitUsage, "--send-key needs --user"},
		{"no key", []string{"--send-key", "--user", "ec2-user", "ssmtest", port}, ExitError, "id_ed25519.pub nor"},
		{"ecdsa", []string{"--send-key=" + ecFile, "--user", "ec2-user", "ssmtest", port}, ExitError, "ecdsa-sha2-nistp256"},
		{"ecs", []string{"--send-key=" + writeKeyFile(t, h), "--user", "ec2-user", "ecs:prod/0123456789abcdef", port}, ExitError, "ECS container"},
		{"bad user", []string{"--send-key=" + writeKeyFile(t, h), "--user", "1x y", "ssmtest", port}, ExitError, "invalid OS user name"},
	} {
		r := h.run(t, nil, append([]string{"ssh-proxy"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tc.name, r.code, r.stderr, tc.code, tc.want)
		}
	}
	if ids := h.srv.SessionIDs(); len(ids) != 0 {
		t.Errorf("sessions started after a failed push: %v", ids)
	}
}

// writeKeyFile writes a fresh ed25519 public key outside ~/.ssh and returns its path.
func writeKeyFile(t *testing.T, h *harness) string {
	kp, _ := instanceconnect.NewKeyPair("")
	p := filepath.Join(t.TempDir(), "k.pub")
	os.WriteFile(p, kp.PublicKey, 0o644)
	return p
}

func TestSSHConfig(t *testing.T) {
	h := newHarness(t, nil)
	exe, _ := os.Executable()
	r := h.run(t, nil, "--profile", "dev", "ssh-config")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"Host i-*\n",
		"    User ec2-user\n",
		"    ProxyCommand " + shQuote(exe) + " --profile dev --endpoint-url " + h.srv.URL + " ssh-proxy --send-key --user %r %h %p\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("ssh-config printed:\n%s\nwant a line %q", r.stdout, want)
		}
	}
	key := writeKeyFile(t, h)
	r = h.run(t, nil, "ssh-config", "--user", "ubuntu", "--send-key="+key, "i-0abc*", "web")
	for _, want := range []string{"Host i-0abc* web\n", "User ubuntu\n", "--send-key=" + key + " --user %r", "IdentityFile " + strings.TrimSuffix(key, ".pub") + "\n", "IdentitiesOnly yes\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("ssh-config printed:\n%s\nwant %q", r.stdout, want)
		}
	}
	if r := h.run(t, nil, "ssh-config", "--user", "9 lives"); r.code != ExitUsage {
		t.Errorf("bad --user: exit %d", r.code)
	}
}

func TestSSHArgv(t *testing.T) {
	a := &app{}
	a.g.aws.Profile = "my profile"
	pc := a.proxyCommandLine("/opt/ssm wire/100%/ssmwire", "oi-123")
	if want := `'/opt/ssm wire/100%%/ssmwire' --profile 'my profile' ssh-proxy --access-request oi-123 %h %p`; pc != want {
		t.Errorf("ProxyCommand\n %s\nwant\n %s", pc, want)
	}
	got := strings.Join(sshArgv("/tmp/k/id_ed25519", "i-0123456789abcdef0", "PC", "ubuntu", []string{"-p", "2222", "uptime"}), " ")
	if want := "-i /tmp/k/id_ed25519 -o IdentitiesOnly=yes -o HostKeyAlias=i-0123456789abcdef0 -o ProxyCommand=PC ubuntu@i-0123456789abcdef0 -p 2222 uptime"; got != want {
		t.Errorf("ssh argv\n %s\nwant\n %s", got, want)
	}
	for in, want := range map[string][2]string{"web": {DefaultSSHUser, "web"}, "ubuntu@web": {"ubuntu", "web"}, "a@b@i-1": {"a@b", "i-1"}} {
		if u, tg := sshTarget(in); u != want[0] || tg != want[1] {
			t.Errorf("sshTarget(%q) = %q, %q", in, u, tg)
		}
	}
}

func TestSSHProxySendKeyAccessDenied(t *testing.T) {
	h := newHarness(t, &ssmtest.Options{DenyActions: []string{"ec2-instance-connect:SendSSHPublicKey"}})
	r := h.run(t, nil, "ssh-proxy", "--send-key="+writeKeyFile(t, h), "--user", "ec2-user", "ssmtest", "22")
	if r.code != ExitError || !strings.Contains(r.stderr, "may not call ec2-instance-connect:SendSSHPublicKey") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if ids := h.srv.SessionIDs(); len(ids) != 0 {
		t.Errorf("sessions started: %v", ids)
	}
}

func TestSSHUsage(t *testing.T) {
	h := newHarness(t, nil)
	for _, args := range [][]string{{"ssh"}, {"ssh", "@web"}, {"ssh", "user@"}} {
		if r := h.run(t, nil, args...); r.code != ExitUsage {
			t.Errorf("%q: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	if r := h.run(t, nil, "ssh", "--reason", "x", "ecs:prod/0123456789abcdef"); r.code == 0 || !strings.Contains(r.stderr, "ECS") {
		t.Errorf("ssh --reason to an ECS target: exit %d, stderr %q", r.code, r.stderr)
	}
	if len(h.srv.AccessRequests()) != 0 || len(h.srv.InstanceConnectKeys(ssmtest.DefaultInstanceID, DefaultSSHUser)) != 0 {
		t.Error("a refused ssh made calls")
	}
}
