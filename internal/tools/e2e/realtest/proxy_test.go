//go:build e2e

package realtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/tools/e2e"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// ssmwirePkg is the ssmwire command, whose proxy these tests drive.
const ssmwirePkg = "./cmd/ssmwire"

// runningProxy is `ssmwire proxy` running against an emulator.
type runningProxy struct {
	srv  *ssmtest.Server
	addr string // host:port of the proxy
	p    *proc
	env  []string // an environment for client programs: PATH and a private HOME, no proxy variables
}

// startSSMWireProxy runs `ssmwire --json proxy` on a free loopback port against an emulator whose VPC knows
// the given names (each dialled at 127.0.0.1, where the tests' servers listen). When the test ends the proxy
// gets Ctrl-C and must exit 0 with every session ended.
func startSSMWireProxy(t *testing.T, names ...string) *runningProxy {
	t.Helper()
	hosts := make(map[string]string)
	for _, n := range names {
		hosts[n] = "127.0.0.1"
	}
	srv := ssmtest.NewTLSServer(&ssmtest.Options{Hosts: hosts})
	t.Cleanup(srv.Close)
	home := t.TempDir()
	cmd := exec.Command(e2e.BuildBinary(t, ssmwirePkg), "--endpoint-url", srv.URL, "--json",
		"proxy", instanceID, "127.0.0.1:0")
	cmd.Env = []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"AWS_ACCESS_KEY_ID=" + e2e.FakeAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + e2e.FakeSecretAccessKey,
		"AWS_REGION=" + e2e.FakeRegion,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CA_BUNDLE=" + srv.CAFile(),
	}
	p := start(t, cmd)
	p.waitOutput(`"event":"tunnel_up"`, 60*time.Second)
	var up struct{ Listen string }
	line, _, _ := strings.Cut(p.stdout.String(), "\n")
	if err := json.Unmarshal([]byte(line), &up); err != nil || up.Listen == "" {
		t.Fatalf("tunnel_up line %q: %v", line, err)
	}
	t.Cleanup(func() {
		p.interrupt()
		if err := p.wait(60 * time.Second); err != nil {
			t.Errorf("ssmwire proxy after Ctrl-C: %v\nstderr:\n%s", err, p.stderr.String())
		}
		for _, id := range srv.SessionIDs() {
			if info := srv.Session(id); !info.Ended {
				t.Errorf("session %s still running after the proxy stopped", id)
			}
		}
	})
	clientHome := t.TempDir()
	return &runningProxy{srv: srv, addr: up.Listen, p: p,
		env: []string{"HOME=" + clientHome, "PATH=" + os.Getenv("PATH")}}
}

// webServer serves "hello from PATH" on 127.0.0.1 and returns its port.
func webServer(t *testing.T) int {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", r.URL.Path)
	}))
	t.Cleanup(s.Close)
	return s.Listener.Addr().(*net.TCPAddr).Port
}

// runFail runs a client program that must fail and returns its exit code and combined output.
func runFail(t *testing.T, timeout time.Duration, env []string, name string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e2e.RequireProgram(t, name), args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("%s %s: want a non-zero exit, got %v (ctx %v)\n%s", name, strings.Join(args, " "), err, ctx.Err(), out)
	}
	return ee.ExitCode(), string(out)
}

// TestProxyCurl: curl through the proxy by SOCKS5 with the name resolved by the target
// (--socks5-hostname, and ALL_PROXY=socks5h://), and by HTTP CONNECT (--proxytunnel); one session for the
// destination; refused and forbidden destinations fail curl with the proxy's reply.
func TestProxyCurl(t *testing.T) {
	t.Parallel()
	rp := startSSMWireProxy(t, "web.internal")
	web := webServer(t)
	url := fmt.Sprintf("http://web.internal:%d", web)

	if out := runOK(t, 60*time.Second, rp.env, "curl", "-sS", "--socks5-hostname", rp.addr, url+"/socks"); out != "hello from /socks\n" {
		t.Errorf("curl --socks5-hostname printed %q", out)
	}
	env := append(rp.env, "ALL_PROXY=socks5h://"+rp.addr)
	if out := runOK(t, 60*time.Second, env, "curl", "-sS", url+"/all-proxy"); out != "hello from /all-proxy\n" {
		t.Errorf("curl with ALL_PROXY printed %q", out)
	}
	if out := runOK(t, 60*time.Second, rp.env, "curl", "-sS", "--proxytunnel", "-x", "http://"+rp.addr, url+"/connect"); out != "hello from /connect\n" {
		t.Errorf("curl --proxytunnel printed %q", out)
	}
	var toWeb int
	for _, id := range rp.srv.SessionIDs() {
		if s := rp.srv.Session(id); s.Properties["host"] == "web.internal" && s.Properties["portNumber"] == strconv.Itoa(web) {
			toWeb++
		}
	}
	if toWeb != 1 {
		t.Errorf("%d sessions to web.internal:%d for three connections, want 1", toWeb, web)
	}

	// Plain HTTP through the HTTP side without a tunnel: 405, which curl shows.
	if out := runOK(t, 60*time.Second, rp.env, "curl", "-sS", "-x", "http://"+rp.addr, url+"/plain"); !strings.Contains(out, "only tunnels with CONNECT") {
		t.Errorf("curl -x without --proxytunnel printed %q", out)
	}

	// Nothing listens there: SOCKS5 reply 5 (curl exits 97), HTTP 502 (curl exits 56).
	closed := fmt.Sprintf("http://web.internal:%d/", e2e.FreePort(t))
	if code, out := runFail(t, 60*time.Second, rp.env, "curl", "-sS", "--socks5-hostname", rp.addr, closed); code != 97 || !strings.Contains(out, "(5)") {
		t.Errorf("curl through SOCKS5 to a closed port: exit %d, %q; want 97 and reply 5", code, out)
	}
	if code, out := runFail(t, 60*time.Second, rp.env, "curl", "-sS", "--proxytunnel", "-x", "http://"+rp.addr, closed); code != 56 || !strings.Contains(out, "502") {
		t.Errorf("curl through CONNECT to a closed port: exit %d, %q; want 56 and 502", code, out)
	}
	// Instance metadata is forbidden by the agent: reply 2, 403.
	imds := "http://169.254.169.254/latest/meta-data/"
	if code, out := runFail(t, 60*time.Second, rp.env, "curl", "-sS", "--socks5-hostname", rp.addr, imds); code != 97 || !strings.Contains(out, "(2)") {
		t.Errorf("curl through SOCKS5 to the metadata service: exit %d, %q; want 97 and reply 2", code, out)
	}
	if code, out := runFail(t, 60*time.Second, rp.env, "curl", "-sS", "--proxytunnel", "-x", "http://"+rp.addr, imds); code != 56 || !strings.Contains(out, "403") {
		t.Errorf("curl through CONNECT to the metadata service: exit %d, %q; want 56 and 403", code, out)
	}
	// The proxy logs a refusal after answering it: wait for the lines rather than read at once.
	rp.p.stderr.WaitFunc(t, "the proxy's reasons on stderr", func(stderr string) bool {
		return strings.Contains(stderr, "SOCKS5 reply 5") && strings.Contains(stderr, "HTTP 403") && strings.Contains(stderr, "is forbidden")
	})
}

// TestProxySSHWithNetcat: ssh reaches an sshd known to the target by name, with OpenBSD netcat speaking SOCKS5
// to the proxy as its ProxyCommand.
func TestProxySSHWithNetcat(t *testing.T) {
	t.Parallel()
	rp := startSSMWireProxy(t, "ssh.internal")
	port, user, args := e2e.StartSSHD(t)
	nc := e2e.RequireProgram(t, "nc.openbsd") // Debian's netcat-openbsd; plain nc may be another netcat
	if out, _ := exec.Command(nc, "-h").CombinedOutput(); !strings.Contains(string(out), "-X proxy_protocol") {
		t.Fatalf("%s has no -X:\n%s", nc, out)
	}
	args = append(args,
		"-o", fmt.Sprintf("ProxyCommand=%s -X 5 -x %s %%h %%p", nc, rp.addr),
		"-o", "Port="+strconv.Itoa(port),
		"-o", "ConnectTimeout=60",
		user+"@ssh.internal", "echo ok; uname -s")
	out := runOK(t, 90*time.Second, rp.env, "ssh", args...)
	if !strings.Contains(out, "ok\n") || !strings.Contains(out, "Linux") {
		t.Fatalf("ssh through the proxy printed:\n%s", out)
	}
}

// TestProxyGit: git clones and lists a repository served over HTTP by a host only the target knows, through
// the proxy by SOCKS5 (http.proxy=socks5h://).
func TestProxyGit(t *testing.T) {
	t.Parallel()
	rp := startSSMWireProxy(t, "git.internal")
	git := func(dir string, args ...string) string {
		t.Helper()
		args = append([]string{"-c", "user.name=e2e", "-c", "user.email=e2e@example.com", "-c", "init.defaultBranch=main"}, args...)
		if dir != "" {
			args = append([]string{"-C", dir}, args...)
		}
		return runOK(t, 120*time.Second, rp.env, "git", args...)
	}
	// A repository with two commits, published for git's dumb HTTP protocol.
	root := t.TempDir()
	work := filepath.Join(root, "work")
	git("", "init", "-q", work)
	content := strings.Repeat("through the target\n", 2000)
	if err := os.WriteFile(filepath.Join(work, "README"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	git(work, "add", "README")
	git(work, "commit", "-q", "-m", "first")
	if err := os.WriteFile(filepath.Join(work, "second"), []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(work, "add", "second")
	git(work, "commit", "-q", "-m", "second")
	head := strings.TrimSpace(git(work, "rev-parse", "HEAD"))
	served := filepath.Join(root, "served")
	if err := os.Mkdir(served, 0o755); err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(served, "repo.git")
	git("", "clone", "-q", "--bare", work, bare)
	git(bare, "update-server-info")
	s := httptest.NewServer(http.FileServer(http.Dir(served)))
	t.Cleanup(s.Close)
	url := fmt.Sprintf("http://git.internal:%d/repo.git", s.Listener.Addr().(*net.TCPAddr).Port)
	proxy := "http.proxy=socks5h://" + rp.addr

	if out := git("", "-c", proxy, "ls-remote", url); !strings.Contains(out, head+"\trefs/heads/main") {
		t.Fatalf("git ls-remote through the proxy printed:\n%s", out)
	}
	clone := filepath.Join(root, "clone")
	git("", "-c", proxy, "clone", "-q", url, clone)
	got, err := os.ReadFile(filepath.Join(clone, "README"))
	if err != nil || string(got) != content {
		t.Fatalf("cloned README: %d bytes, %v; want %d bytes", len(got), err, len(content))
	}
	if h := strings.TrimSpace(git(clone, "rev-parse", "HEAD")); h != head {
		t.Fatalf("cloned HEAD %s, want %s", h, head)
	}
}
