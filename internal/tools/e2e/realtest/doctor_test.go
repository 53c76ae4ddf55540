//go:build e2e

package realtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/tools/e2e"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// doctorCheck is one line of `ssmwire --json doctor`.
type doctorCheck struct {
	Check, Status, Message, Fix string
	Details                     map[string]string
}

// runDoctor runs the ssmwire binary's doctor with env and returns its exit code and checks by name.
func runDoctor(t *testing.T, env []string, args ...string) (int, map[string]doctorCheck) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e2e.BuildBinary(t, ssmwirePkg), append([]string{"--json", "doctor"}, args...)...)
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ssmwire doctor: %v (ctx %v)\n%s", err, ctx.Err(), stderr.String())
	}
	checks := map[string]doctorCheck{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var c doctorCheck
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("doctor line %q: %v", sc.Text(), err)
		}
		checks[c.Check] = c
	}
	return code, checks
}

// TestDoctorRealPlugin: the ssmwire binary's doctor finds the session-manager-plugin binary first on PATH,
// tells ours by its build information, runs it for its version, and passes against the emulator with a real
// session; then the AWS CLI, on the same PATH, starts a session through that same plugin.
func TestDoctorRealPlugin(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	link := filepath.Join(bin, "session-manager-plugin")
	if err := os.Symlink(plugin(t), link); err != nil {
		t.Fatal(err)
	}
	srv := ssmtest.NewTLSServer(&ssmtest.Options{Credentials: map[string]string{e2e.FakeAccessKeyID: e2e.FakeSecretAccessKey}})
	t.Cleanup(srv.Close)
	env := []string{
		"AWS_CA_BUNDLE=" + srv.CAFile(),
		"HOME=" + t.TempDir(),
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"AWS_ACCESS_KEY_ID=" + e2e.FakeAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + e2e.FakeSecretAccessKey,
		"AWS_REGION=" + e2e.FakeRegion,
		"AWS_ENDPOINT_URL=" + srv.URL,
		"AWS_EC2_METADATA_DISABLED=true",
	}
	code, checks := runDoctor(t, env, instanceID)
	if code != 0 {
		t.Fatalf("exit %d: %+v", code, checks)
	}
	for _, name := range []string{"credentials", "region", "endpoints", "proxy", "target", "session-document", "plugin", "session"} {
		if c := checks[name]; c.Status != "pass" {
			t.Errorf("%s: %s %q (fix %q)", name, c.Status, c.Message, c.Fix)
		}
	}
	p := checks["plugin"]
	wantWhose := "ssmwire's session-manager-plugin"
	if os.Getenv(pluginEnv) != "" {
		wantWhose = "AWS's session-manager-plugin (or another non-Go build)"
	}
	if p.Details["path"] != link || p.Details["whose"] != wantWhose || p.Details["version"] == "" {
		t.Errorf("plugin check: %+v", p)
	}
	if s := checks["session"]; !strings.Contains(s.Message, "round trip") || s.Details["session_id"] == "" {
		t.Errorf("session check: %+v", s)
	}

	a := e2e.AWSCLI(t, srv.URL, link)
	a.Env = append(a.Env, "AWS_CA_BUNDLE="+srv.CAFile())
	out := runAWS(t, a, 60*time.Second, "ssm", "start-session", "--target", instanceID,
		"--document-name", "AWS-StartNonInteractiveCommand", "--parameters", `command="echo doctor-checked"`)
	if !strings.Contains(out, "doctor-checked") {
		t.Errorf("aws ssm start-session through the plugin doctor found printed:\n%s", out)
	}
}

// TestDoctorTinyproxyRefuses: with HTTPS_PROXY naming a real tinyproxy that refuses CONNECT to port 443, doctor
// fails the proxy check naming the proxy, the SSM host and tinyproxy's answer, skips the TLS checks, and
// exits 1; nothing reaches AWS (every connection goes to the proxy).
func TestDoctorTinyproxyRefuses(t *testing.T) {
	t.Parallel()
	tp := e2e.StartTinyproxy(t, e2e.TinyproxyOptions{ConnectPorts: []int{563}}) // not 443: AWS is refused
	proxy := tp.URL("", "")
	env := fakeAWSEnv(t, "HTTPS_PROXY="+proxy)
	code, checks := runDoctor(t, env, instanceID)
	if code == 0 {
		t.Fatalf("exit 0: %+v", checks)
	}
	p := checks["proxy"]
	if p.Status != "fail" || !strings.Contains(p.Message, "proxy "+proxy+" refused CONNECT to ssm.us-east-1.amazonaws.com:443: 403 Access violation") ||
		!strings.Contains(p.Fix, "HTTPS_PROXY") {
		t.Errorf("proxy check: %+v", p)
	}
	for _, name := range []string{"tls-api", "tls-data-channel", "target", "session"} {
		if checks[name].Status != "skip" {
			t.Errorf("%s: %+v", name, checks[name])
		}
	}
	if c := checks["credentials"]; c.Status != "fail" || !strings.Contains(c.Message, "STS could not be reached") {
		t.Errorf("credentials check: %+v", c)
	}
}

// TestDoctorThroughRealProxy: a TLS emulator reached only through a real tinyproxy that wants a password, its
// CA in AWS_CA_BUNDLE: every check passes, the session included, through CONNECT tunnels the proxy's log
// shows, and the proxy's password is never printed.
func TestDoctorThroughRealProxy(t *testing.T) {
	t.Parallel()
	srv, tp := newProxiedServer(t, e2e.TinyproxyOptions{User: "alice", Password: "s3cret"})
	env := fakeAWSEnv(t,
		"AWS_ENDPOINT_URL="+srv.URL,
		"AWS_CA_BUNDLE="+srv.CAFile(),
		"HTTPS_PROXY="+tp.URL("alice", "s3cret"),
		"NO_PROXY=", "no_proxy=",
	)
	code, checks := runDoctor(t, env, instanceID)
	if code != 0 {
		t.Fatalf("exit %d: %+v", code, checks)
	}
	for _, name := range []string{"credentials", "endpoints", "proxy", "tls-api", "tls-data-channel", "target", "session"} {
		if c := checks[name]; c.Status != "pass" {
			t.Errorf("%s: %s %q (fix %q)", name, c.Status, c.Message, c.Fix)
		}
	}
	if p := checks["proxy"]; !strings.Contains(p.Message, "SSM via http://alice:xxxxx@"+tp.Addr+" (HTTPS_PROXY)") {
		t.Errorf("proxy check: %+v", p)
	}
	if n := tp.Connects(t, hostPort(srv)); n < 5 {
		t.Errorf("%d CONNECTs to %s: want doctor's probes, STS, SSM and the data channel through the proxy\n%s", n, hostPort(srv), tp.Log(t))
	}
	for name, c := range checks {
		if strings.Contains(c.Message+c.Fix+fmt.Sprint(c.Details), "s3cret") {
			t.Errorf("%s shows the proxy's password: %+v", name, c)
		}
	}
}
