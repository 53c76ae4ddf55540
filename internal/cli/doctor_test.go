package cli

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// doctorLine is one printed check: its mark, name, message and, on the next line, the fix.
type doctorLine struct{ mark, message, fix string }

// parseDoctor splits doctor's text output by check name.
func parseDoctor(t *testing.T, out string) map[string]doctorLine {
	t.Helper()
	m := map[string]doctorLine{}
	var last string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "→":
			l := m[last]
			l.fix = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "→"))
			m[last] = l
		case len(f) >= 2 && strings.Contains("✔✘!-", f[0]):
			last = f[1]
			m[last] = doctorLine{mark: f[0], message: strings.Join(f[2:], " ")}
		}
	}
	return m
}

// expect checks one check's mark and that its message and fix contain the wanted texts.
func expect(t *testing.T, lines map[string]doctorLine, check, mark string, inMessage, inFix string) {
	t.Helper()
	l, ok := lines[check]
	if !ok {
		t.Errorf("no %s line", check)
		return
	}
	if l.mark != mark || !strings.Contains(l.message, inMessage) || !strings.Contains(l.fix, inFix) {
		t.Errorf("%s: %s %q fix %q; want %s, message with %q, fix with %q", check, l.mark, l.message, l.fix, mark, inMessage, inFix)
	}
}

// clearAWSEnv empties the process variables the SDK reads by itself, so that only the test's env decides.
func clearAWSEnv(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CA_BUNDLE", "AWS_ENDPOINT_URL", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// fakePlugin puts a session-manager-plugin on a fresh PATH directory that prints version, and returns the
// directory.
func fakePlugin(t *testing.T, version string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake plugin is a shell script")
	}
	dir := t.TempDir()
	script := "#!/bin/sh\n[ \"$1\" = --version ] && echo " + version + "\n"
	if err := os.WriteFile(filepath.Join(dir, "session-manager-plugin"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// doctorHarness is a harness whose STS calls also go to the emulator, with a plugin on PATH.
func doctorHarness(t *testing.T, opts *ssmtest.Options) *harness {
	t.Helper()
	clearAWSEnv(t)
	h := newHarness(t, opts)
	h.env = append(h.env, "AWS_ENDPOINT_URL_STS="+h.srv.URL, "PATH="+fakePlugin(t, "1.2.764.0"))
	return h
}

// TestDoctorHealthy: every check passes on a healthy emulator, with a real session timed step by step; the
// plain-HTTP endpoint only warns.
func TestDoctorHealthy(t *testing.T) {
	h := doctorHarness(t, nil)
	r := h.run(t, nil, "doctor", ssmtest.DefaultInstanceName)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	lines := parseDoctor(t, r.stdout)
	expect(t, lines, "credentials", "✔", ssmtest.DefaultUserARN+" (account "+ssmtest.DefaultAccountID+") from the environment (AWS_ACCESS_KEY_ID)", "")
	expect(t, lines, "region", "✔", "us-east-1 (from AWS_REGION)", "")
	expect(t, lines, "endpoints", "✔", "SSM "+h.srv.URL, "")
	expect(t, lines, "proxy", "✔", "SSM direct, data channel direct", "")
	expect(t, lines, "tls-api", "!", "plain HTTP", "https://")
	expect(t, lines, "tls-data-channel", "!", "plain HTTP", "https://")
	expect(t, lines, "target", "✔", ssmtest.DefaultInstanceID+" Online, agent "+ssmtest.DefaultAgentVersion+", Amazon Linux 2023 (Linux)", "")
	expect(t, lines, "session-document", "✔", "no KMS encryption", "")
	expect(t, lines, "plugin", "✔", "1.2.764.0 at ", "")
	expect(t, lines, "session", "✔", "on "+ssmtest.DefaultInstanceID+": start ", "")
	for _, step := range []string{"handshake ", "round trip ", "terminate "} {
		if !strings.Contains(lines["session"].message, step) {
			t.Errorf("session line %q lacks step %q", lines["session"].message, step)
		}
	}
	if !strings.Contains(r.stdout, "No problem found.") {
		t.Errorf("no summary:\n%s", r.stdout)
	}
	if ids := h.srv.SessionIDs(); len(ids) != 1 || !h.srv.Session(ids[0]).Ended {
		t.Errorf("sessions after doctor: %v", ids)
	}
}

// TestDoctorJSON: --json prints one object per check, with the session's steps.
func TestDoctorJSON(t *testing.T) {
	h := doctorHarness(t, &ssmtest.Options{KMSKeyID: "alias/sessions"})
	r := h.run(t, nil, "doctor", "--json", ssmtest.DefaultInstanceID)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var checks []string
	var session struct {
		Status string
		Steps  []struct {
			Name string
			MS   float64
		}
		Details map[string]string
	}
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		var obj struct {
			Check, Status, Message string
		}
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		checks = append(checks, obj.Check+":"+obj.Status)
		if obj.Check == "session" {
			json.Unmarshal(sc.Bytes(), &session)
		}
	}
	want := "credentials:pass region:pass endpoints:pass proxy:pass tls-api:warn tls-data-channel:warn target:pass " +
		"session-document:pass kms-key:pass plugin:pass session:pass"
	if got := strings.Join(checks, " "); got != want {
		t.Errorf("checks:\n got %s\nwant %s", got, want)
	}
	var names []string
	for _, s := range session.Steps {
		names = append(names, s.Name)
		if s.MS < 0 {
			t.Errorf("step %s: %v ms", s.Name, s.MS)
		}
	}
	if strings.Join(names, ",") != "start,handshake,round trip,terminate" || session.Details["session_id"] == "" {
		t.Errorf("session = %+v", session)
	}
}

// TestDoctorNoCredentials: no source has credentials: credentials fail with what to run, and the checks that
// need them are skipped rather than failed again.
func TestDoctorNoCredentials(t *testing.T) {
	h := doctorHarness(t, nil)
	h.env = []string{"HOME=" + h.home, "AWS_REGION=us-east-1", "AWS_ENDPOINT_URL_STS=" + h.srv.URL}
	r := h.run(t, nil, "doctor", ssmtest.DefaultInstanceID)
	if r.code != ExitError {
		t.Fatalf("exit %d, want %d\n%s", r.code, ExitError, r.stdout)
	}
	lines := parseDoctor(t, r.stdout)
	expect(t, lines, "credentials", "✘", "no credentials found", "aws configure --profile default")
	expect(t, lines, "target", "-", "no working credentials", "")
	expect(t, lines, "session", "-", "no working credentials", "")
	expect(t, lines, "region", "✔", "us-east-1", "")
	expect(t, lines, "plugin", "!", "no session-manager-plugin on PATH", "install")
	if !strings.Contains(r.stdout, "1 check failed") {
		t.Errorf("summary:\n%s", r.stdout)
	}
}

// TestDoctorSSOExpired: a profile with an sso_session whose cached token expired yesterday.
func TestDoctorSSOExpired(t *testing.T) {
	h := doctorHarness(t, nil)
	t.Setenv("HOME", h.home) // the SDK finds the SSO cache under the process's home
	config := filepath.Join(h.home, ".aws", "config")
	os.MkdirAll(filepath.Join(h.home, ".aws", "sso", "cache"), 0o700)
	os.WriteFile(config, []byte(`[profile dev]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Admin
region = eu-west-1

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1
sso_registration_scopes = sso:account:access
`), 0o600)
	expired := time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339)
	sum := sha1.Sum([]byte("corp"))
	tok := `{"accessToken":"expired-token","expiresAt":"` + expired + `","region":"eu-west-1","startUrl":"https://corp.awsapps.com/start"}`
	os.WriteFile(filepath.Join(h.home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json"), []byte(tok), 0o600)
	h.env = []string{"HOME=" + h.home, "AWS_PROFILE=dev", "AWS_ENDPOINT_URL_STS=" + h.srv.URL}
	r := h.run(t, nil, "doctor")
	if r.code != ExitError {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	lines := parseDoctor(t, r.stdout)
	expect(t, lines, "credentials", "✘", "the SSO login of sso_session corp expired at "+expired, "aws sso login --profile dev")
	expect(t, lines, "region", "✔", "eu-west-1 (from profile dev)", "")
	if strings.Contains(r.stdout+r.stderr, "expired-token") {
		t.Error("the SSO access token was printed")
	}
}

// TestDoctorAccessDenied: IAM refuses StartSession: the target is fine, the session check names the action.
func TestDoctorAccessDenied(t *testing.T) {
	h := doctorHarness(t, &ssmtest.Options{DenyActions: []string{"ssm:StartSession"}})
	r := h.run(t, nil, "doctor", ssmtest.DefaultInstanceID)
	if r.code != ExitError {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	lines := parseDoctor(t, r.stdout)
	expect(t, lines, "target", "✔", "Online", "")
	expect(t, lines, "session", "✘", "StartSession failed", "may not call ssm:StartSession on "+ssmtest.DefaultInstanceID)
}

// TestDoctorConnectionLost: the target's agent is not connected: the target check says so and what to check,
// and no session is tried.
func TestDoctorConnectionLost(t *testing.T) {
	const lost = "i-0000000000000dead"
	h := doctorHarness(t, &ssmtest.Options{Instances: []ssmtest.Instance{{ID: lost, PingStatus: "ConnectionLost"}}})
	r := h.run(t, nil, "doctor", lost)
	if r.code != ExitError {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	lines := parseDoctor(t, r.stdout)
	expect(t, lines, "target", "✘", lost+" ConnectionLost", "is not connected to Session Manager")
	expect(t, lines, "session", "-", "the target check failed", "")
	if n := len(h.srv.SessionIDs()); n != 0 {
		t.Errorf("%d sessions started", n)
	}
}

// TestDoctorOldAgent: an agent that predates multiplexed port forwarding is a warning, not a failure.
func TestDoctorOldAgent(t *testing.T) {
	h := doctorHarness(t, &ssmtest.Options{AgentVersion: "3.0.196.0"})
	r := h.run(t, nil, "doctor", ssmtest.DefaultInstanceID)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	expect(t, parseDoctor(t, r.stdout), "target", "!", "multiplexed port forwarding (needs agent > 3.0.196.0", "AWS-UpdateSSMAgent")
}

// TestDoctorKMSKeyDenied: the preferences name a key doctor may not describe: a warning saying what sessions need.
func TestDoctorKMSKeyDenied(t *testing.T) {
	h := doctorHarness(t, &ssmtest.Options{KMSKeyID: "alias/sessions", DenyActions: []string{"kms:DescribeKey"}})
	r := h.run(t, nil, "doctor")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	lines := parseDoctor(t, r.stdout)
	expect(t, lines, "session-document", "✔", "encrypted with KMS key alias/sessions", "")
	expect(t, lines, "kms-key", "!", "access denied", "kms:GenerateDataKey")
}

// TestDoctorTLS: the emulator's CA is trusted through AWS_CA_BUNDLE, by the checks and by a real session
// over https and wss; without it the TLS checks fail and say what to set.
func TestDoctorTLS(t *testing.T) {
	clearAWSEnv(t)
	srv := ssmtest.NewTLSServer(&ssmtest.Options{NoPacing: true})
	t.Cleanup(srv.Close)
	caFile := srv.CAFile()
	env := []string{"HOME=" + t.TempDir(), "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret",
		"AWS_REGION=us-east-1", "AWS_ENDPOINT_URL=" + srv.URL, "PATH=" + fakePlugin(t, "1.2.764.0")}
	run := func(env []string, args ...string) result {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var out, errb testkit.Buffer
		code := Main(ctx, append([]string{"doctor"}, args...), env, strings.NewReader(""), &out, &errb)
		return result{code, out.String(), errb.String()}
	}
	host := strings.TrimPrefix(srv.URL, "https://")
	t.Run("untrusted", func(t *testing.T) {
		r := run(env, ssmtest.DefaultInstanceID)
		if r.code != ExitError {
			t.Fatalf("exit %d\n%s", r.code, r.stdout)
		}
		lines := parseDoctor(t, r.stdout)
		expect(t, lines, "tls-api", "✘", host+" does not present a trusted certificate", "set AWS_CA_BUNDLE")
		expect(t, lines, "tls-data-channel", "✘", host, "set AWS_CA_BUNDLE")
		expect(t, lines, "credentials", "✘", "STS could not be reached", "TLS")
		expect(t, lines, "session", "-", "no working credentials", "")
	})
	t.Run("AWS_CA_BUNDLE", func(t *testing.T) {
		t.Setenv("AWS_CA_BUNDLE", caFile)
		r := run(append(env, "AWS_CA_BUNDLE="+caFile), ssmtest.DefaultInstanceID)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stdout)
		}
		lines := parseDoctor(t, r.stdout)
		expect(t, lines, "tls-api", "✔", host+" trusted (TLS 1.3, issued by ", "")
		expect(t, lines, "tls-api", "✔", "; AWS_CA_BUNDLE "+caFile+")", "")
		expect(t, lines, "tls-data-channel", "✔", "trusted", "")
		expect(t, lines, "credentials", "✔", ssmtest.DefaultUserARN, "")
		expect(t, lines, "session", "✔", "round trip ", "")
	})
}

// refusingProxy is an HTTP proxy that answers every CONNECT with 403, and records what it was asked.
func refusingProxy(t *testing.T) (url string, asked func() []string) {
	t.Helper()
	var mu sync.Mutex
	var hosts []string
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Method+" "+r.Host)
		mu.Unlock()
		http.Error(w, "denied by policy", http.StatusForbidden)
	}))
	t.Cleanup(p.Close)
	return p.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), hosts...)
	}
}

// TestDoctorProxyRefuses: HTTPS_PROXY names a proxy that refuses CONNECT to AWS: the proxy check names the
// proxy, the host and the refusal; the TLS checks are skipped; nothing reaches AWS.
func TestDoctorProxyRefuses(t *testing.T) {
	clearAWSEnv(t)
	proxyURL, asked := refusingProxy(t)
	env := []string{"HOME=" + t.TempDir(), "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret",
		"AWS_REGION=us-east-1", "HTTPS_PROXY=" + proxyURL, "PATH=" + fakePlugin(t, "1.2.764.0")}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb testkit.Buffer
	code := Main(ctx, []string{"doctor", "i-0123456789abcdef0"}, env, strings.NewReader(""), &out, &errb)
	if code != ExitError {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	lines := parseDoctor(t, out.String())
	expect(t, lines, "proxy", "✘", "refused CONNECT to ssm.us-east-1.amazonaws.com:443: 403 Forbidden", "HTTPS_PROXY must allow CONNECT")
	expect(t, lines, "endpoints", "✔", "data channel ssmmessages.us-east-1.amazonaws.com", "")
	expect(t, lines, "tls-api", "-", "the proxy check failed", "")
	expect(t, lines, "credentials", "✘", "STS could not be reached", "proxy")
	for _, a := range asked() {
		if !strings.HasPrefix(a, "CONNECT ") || !strings.HasSuffix(a, ".amazonaws.com:443") {
			t.Errorf("the proxy was asked %q", a)
		}
	}
	if len(asked()) == 0 {
		t.Error("the proxy was never asked")
	}
}

// TestDoctorUsage: more than one target is a usage error.
func TestDoctorUsage(t *testing.T) {
	h := doctorHarness(t, nil)
	if r := h.run(t, nil, "doctor", "a", "b"); r.code != ExitUsage {
		t.Errorf("exit %d", r.code)
	}
}

// TestDoctorECS: an ecs:CLUSTER/TASK target is found with DescribeTasks and checked with an ECS Exec session.
func TestDoctorECS(t *testing.T) {
	h := doctorHarness(t, nil)
	r := h.run(t, nil, "doctor", "ecs:prod/0123456789abcdef")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	lines := parseDoctor(t, r.stdout)
	expect(t, lines, "target", "✔", "Session Manager target ecs:prod_0123456789abcdef_", "")
	expect(t, lines, "session", "✔", "round trip ", "")
	ids := h.srv.SessionIDs()
	if len(ids) != 1 || h.srv.Session(ids[0]).DocumentName != "" {
		t.Errorf("sessions: %v", ids)
	}
}

// TestDoctorUnknownKey: STS does not know the access key: the credentials check names the refusal and what
// to do, and the checks that need credentials are skipped.
func TestDoctorUnknownKey(t *testing.T) {
	h := doctorHarness(t, &ssmtest.Options{Credentials: map[string]string{ssmtest.DefaultAccessKeyID: ssmtest.DefaultSecretAccessKey}})
	r := h.run(t, nil, "doctor", ssmtest.DefaultInstanceID)
	if r.code != ExitError {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	lines := parseDoctor(t, r.stdout)
	expect(t, lines, "credentials", "✘", "from the environment (AWS_ACCESS_KEY_ID) were refused by STS GetCallerIdentity: InvalidClientTokenId", "the access key is unknown to AWS")
	expect(t, lines, "session", "-", "no working credentials", "")
	if strings.Contains(r.stdout+r.stderr, "AWS_SECRET_ACCESS_KEY=") || strings.Contains(r.stdout+r.stderr, "secret") {
		t.Errorf("a secret was printed:\n%s%s", r.stdout, r.stderr)
	}
}

// TestDoctorNoRegion: no region anywhere: the region check fails with where to set one, and the checks that
// need endpoints are skipped; credentials are still checked (STS answers in any region).
func TestDoctorNoRegion(t *testing.T) {
	h := doctorHarness(t, nil)
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	var env []string
	for _, e := range h.env {
		if !strings.HasPrefix(e, "AWS_REGION=") {
			env = append(env, e)
		}
	}
	h.env = env
	var out, errb testkit.Buffer
	code := Main(context.Background(), []string{"doctor"}, h.env, strings.NewReader(""), &out, &errb)
	if code != ExitError {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	lines := parseDoctor(t, out.String())
	expect(t, lines, "credentials", "✔", ssmtest.DefaultUserARN, "")
	expect(t, lines, "region", "✘", "no region configured", "aws configure set region REGION --profile default")
	expect(t, lines, "endpoints", "-", "no region", "")
	expect(t, lines, "session-document", "-", "no endpoints", "")
}
