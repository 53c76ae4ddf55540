//go:build e2e

package realtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/internal/tools/e2e"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// These tests put a real HTTP proxy (tinyproxy) between the clients and the emulator, as corporate networks
// do. The emulator is named e2e.ProxyHostname: no client proxies localhost or a loopback address.

// newProxiedServer starts a TLS emulator named e2e.ProxyHostname and a tinyproxy with o.
func newProxiedServer(t *testing.T, o e2e.TinyproxyOptions) (*ssmtest.Server, *e2e.Tinyproxy) {
	t.Helper()
	e2e.RequireProxyHostname(t)
	srv := ssmtest.NewTLSServer(&ssmtest.Options{Hostname: e2e.ProxyHostname,
		Credentials: map[string]string{e2e.FakeAccessKeyID: e2e.FakeSecretAccessKey}})
	t.Cleanup(srv.Close)
	return srv, e2e.StartTinyproxy(t, o)
}

// hostPort is the emulator's host:port as a CONNECT names it.
func hostPort(srv *ssmtest.Server) string {
	return strings.TrimPrefix(srv.URL, "https://")
}

// TestAWSCLIThroughRealProxy: with HTTPS_PROXY (credentials in the URL) the AWS CLI's API call and the
// plugin's data channel both go through the proxy, as CONNECTs in its log; with NO_PROXY naming the host,
// none do, and the session works either way.
func TestAWSCLIThroughRealProxy(t *testing.T) {
	t.Parallel()
	srv, tp := newProxiedServer(t, e2e.TinyproxyOptions{User: "alice", Password: "s3cret"})
	a := e2e.AWSCLI(t, srv.URL, plugin(t))
	a.Env = append(a.Env, "AWS_CA_BUNDLE="+srv.CAFile(), "HTTPS_PROXY="+tp.URL("alice", "s3cret"), "NO_PROXY=", "no_proxy=")
	out := runAWS(t, a, 60*time.Second, "ssm", "start-session", "--target", instanceID,
		"--document-name", "AWS-StartNonInteractiveCommand", "--parameters", `command="echo via-proxy"`)
	if !strings.Contains(out, "via-proxy") {
		t.Fatalf("start-session through the proxy printed:\n%s", out)
	}
	// One tunnel for StartSession, one for the data channel.
	if n := tp.Connects(t, hostPort(srv)); n < 2 {
		t.Fatalf("%d CONNECTs to %s in the proxy's log, want the API call's and the data channel's:\n%s", n, hostPort(srv), tp.Log(t))
	}

	before := tp.Connects(t, hostPort(srv))
	// Both spellings: Python (the AWS CLI) lets no_proxy win, Go NO_PROXY.
	a.Env = append(a.Env, "NO_PROXY="+e2e.ProxyHostname, "no_proxy="+e2e.ProxyHostname)
	out = runAWS(t, a, 60*time.Second, "ssm", "start-session", "--target", instanceID,
		"--document-name", "AWS-StartNonInteractiveCommand", "--parameters", `command="echo direct"`)
	if !strings.Contains(out, "direct") {
		t.Fatalf("start-session with NO_PROXY printed:\n%s", out)
	}
	if n := tp.Connects(t, hostPort(srv)); n != before {
		t.Fatalf("%d new CONNECTs with NO_PROXY=%s, want none:\n%s", n-before, e2e.ProxyHostname, tp.Log(t))
	}
}

// pluginCommand returns session-manager-plugin run as the AWS CLI runs it, for a session the test started
// itself: the plugin's only traffic is then its data channel (and API calls the emulator counts).
func pluginCommand(t *testing.T, srv *ssmtest.Server, doc string, params map[string][]string, env ...string) (*exec.Cmd, *ssm.StartSessionOutput) {
	t.Helper()
	in := &ssm.StartSessionInput{Target: aws.String(instanceID), DocumentName: aws.String(doc), Parameters: params}
	out, err := ssm.NewFromConfig(srv.AWSConfig()).StartSession(testkit.Context(t), in)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := json.Marshal(map[string]string{"SessionId": *out.SessionId, "TokenValue": *out.TokenValue, "StreamUrl": *out.StreamUrl})
	req, _ := json.Marshal(map[string]any{"Target": instanceID, "DocumentName": doc, "Parameters": params})
	cmd := exec.Command(plugin(t), string(resp), e2e.FakeRegion, "StartSession", "", string(req), srv.URL)
	cmd.Env = append([]string{
		"HOME=" + t.TempDir(),
		"PATH=" + os.Getenv("PATH"),
		"AWS_ACCESS_KEY_ID=" + e2e.FakeAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + e2e.FakeSecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CA_BUNDLE=" + srv.CAFile(),
	}, env...)
	return cmd, out
}

// TestPluginDataChannelThroughRealProxy: the plugin's data channel alone goes through HTTPS_PROXY with
// the URL's credentials; with NO_PROXY it does not.
func TestPluginDataChannelThroughRealProxy(t *testing.T) {
	t.Parallel()
	srv, tp := newProxiedServer(t, e2e.TinyproxyOptions{User: "alice", Password: "s3cret"})
	params := map[string][]string{"command": {"echo plugin-via-proxy"}}
	for _, tc := range []struct {
		name    string
		noProxy string
		want    int
	}{{"HTTPS_PROXY", "", 1}, {"NO_PROXY", e2e.ProxyHostname, 0}} {
		cmd, _ := pluginCommand(t, srv, ssmtest.DocRunCommand, params,
			"HTTPS_PROXY="+tp.URL("alice", "s3cret"), "NO_PROXY="+tc.noProxy)
		apiCalls := srv.Stats().APIRequests
		before := tp.Connects(t, hostPort(srv))
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "plugin-via-proxy") {
			t.Fatalf("%s: plugin: %v\n%s", tc.name, err, out)
		}
		if n := srv.Stats().APIRequests - apiCalls; n != 0 {
			t.Fatalf("%s: the plugin made %d API calls; the test counts on its data channel alone", tc.name, n)
		}
		if n := tp.Connects(t, hostPort(srv)) - before; n != tc.want {
			t.Fatalf("%s: %d CONNECTs to %s, want %d:\n%s", tc.name, n, hostPort(srv), tc.want, tp.Log(t))
		}
	}
}

// TestRealProxyRefusals: a proxy that wants credentials (407), refuses the port (403) or is not there makes
// the plugin and ssmwire fail at once with one line that says so, and never print the token or the password.
func TestRealProxyRefusals(t *testing.T) {
	t.Parallel()
	srv, tp := newProxiedServer(t, e2e.TinyproxyOptions{User: "alice", Password: "s3cret", ConnectPorts: []int{443}})
	closed := e2e.FreePort(t)
	for _, tc := range []struct {
		name, proxy string
		words       []string
	}{
		{"no credentials", tp.URL("", ""), []string{"requires authentication", "407"}},
		{"wrong credentials", tp.URL("alice", "wrong"), []string{"refused the credentials"}},            // tinyproxy: 401
		{"port refused", tp.URL("alice", "s3cret"), []string{"refused to connect", "Access violation"}}, // 403
		{"unreachable", "http://127.0.0.1:" + strconv.Itoa(closed), []string{"cannot be reached"}},
	} {
		cmd, out := pluginCommand(t, srv, ssmtest.DocRunCommand, map[string][]string{"command": {"echo never"}}, "HTTPS_PROXY="+tc.proxy)
		start := time.Now()
		b, err := cmd.CombinedOutput()
		got := string(b)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("plugin, %s: %v, want exit 1\n%s", tc.name, err, got)
		}
		for _, w := range tc.words {
			if !strings.Contains(got, w) {
				t.Errorf("plugin, %s: output lacks %q:\n%s", tc.name, w, got)
			}
		}
		if strings.Contains(got, *out.TokenValue) || strings.Contains(got, "s3cret") || strings.Contains(got, "wrong") {
			t.Errorf("plugin, %s: the token or the proxy password is in the output:\n%s", tc.name, got)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("plugin, %s: took %v", tc.name, d)
		}

		// ssmwire, whose API call meets the proxy first.
		w := exec.Command(e2e.BuildBinary(t, ssmwirePkg), "--endpoint-url", srv.URL, "exec", instanceID, "--", "echo never")
		w.Env = append(cmd.Env, "AWS_REGION="+e2e.FakeRegion)
		b, err = w.CombinedOutput()
		got = string(b)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 255 || strings.Count(strings.TrimSpace(got), "\n") != 0 {
			t.Errorf("ssmwire, %s: %v, want exit 255 and one line:\n%s", tc.name, err, got)
		}
		if !strings.Contains(got, tc.words[0]) || strings.Contains(got, "s3cret") {
			t.Errorf("ssmwire, %s: output lacks %q or leaks the password:\n%s", tc.name, tc.words[0], got)
		}
	}
}

// TestIdleCutByRealProxy: a proxy that closes tunnels idle for 2 s (tinyproxy's Timeout) cuts a port
// session's websocket while nobody uses it; the session resumes (ResumeSession and a new tunnel), and data
// sent before and after the cut arrives intact.
func TestIdleCutByRealProxy(t *testing.T) {
	t.Parallel()
	srv, tp := newProxiedServer(t, e2e.TinyproxyOptions{Timeout: 2})
	echoPort := testkit.EchoServer(t)
	local := e2e.FreePort(t)
	cmd, out := pluginCommand(t, srv, "AWS-StartPortForwardingSession",
		map[string][]string{"portNumber": {strconv.Itoa(echoPort)}, "localPortNumber": {strconv.Itoa(local)}},
		"HTTPS_PROXY="+tp.URL("", ""))
	p := start(t, cmd)
	p.waitOutput(fmt.Sprintf("Port %d opened", local), 60*time.Second)

	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(local)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip := func(msg string) {
		t.Helper()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			t.Fatalf("echo of %d bytes: %v (got %d matching: %v)", len(msg), err, len(got), string(got) == msg)
		}
	}
	roundTrip("before the cut\n")
	// Wait, without using the session, until the proxy has cut the tunnel and the session has resumed.
	testkit.WaitFor(t, "a resume after the proxy's idle cut", func() bool {
		return srv.Session(*out.SessionId).Stats.Resumes >= 1
	})
	roundTrip(strings.Repeat("after the cut, intact ", 5000))
	if n := tp.Connects(t, hostPort(srv)); n < 2 {
		t.Fatalf("%d CONNECTs, want the first and the one after the cut:\n%s", n, tp.Log(t))
	}
	p.interrupt()
	if err := p.wait(30 * time.Second); err != nil {
		t.Errorf("plugin after Ctrl-C: %v\n%s", err, p.stderr.String())
	}
}
